-- Each ticket source's learned delivery rhythm (ticketspike.source_health), one row per
-- source. ``state`` (JSON) changes at most once per ten-minute interval; ``last_ts`` and
-- ``deliveries`` with every delivery, and override the values inside ``state``.
CREATE TABLE source_rhythms (
    source       TEXT PRIMARY KEY,
    version      BIGINT NOT NULL,        -- every write: compare-and-set
    rev          BIGINT NOT NULL,        -- new at each write of the learned part (state)
    last_ts      DOUBLE PRECISION NOT NULL,
    deliveries   BIGINT NOT NULL,
    state        TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
