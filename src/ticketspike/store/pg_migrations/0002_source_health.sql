-- Each ticket source's learned delivery rhythm (ticketspike.source_health), one row per
-- source; ``version`` makes every write a compare-and-set.
CREATE TABLE source_rhythms (
    source       TEXT PRIMARY KEY,
    version      INTEGER NOT NULL,
    last_ts      DOUBLE PRECISION NOT NULL,
    state        TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
