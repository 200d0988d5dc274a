-- Pending actions that must not run before a time: a long Retry-After, or repeated failures.
-- The executor passes over them (and what depends on them) until ``until_ts``.

CREATE TABLE parked_actions (
    key          TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    until_at     TEXT NOT NULL,
    until_ts     REAL NOT NULL,
    reason       TEXT NOT NULL,
    parks        INTEGER NOT NULL DEFAULT 1
);
