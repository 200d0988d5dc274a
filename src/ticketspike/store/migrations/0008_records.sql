-- Escalation records (tasks, the health-score ledger, war-room entries, syncs), one shape per
-- kind: the JSON record plus the columns listings filter on. Then the outbound event log,
-- written in the same transaction as the change it reports, and its webhook deliveries
-- (one per event and endpoint), their attempts and the endpoints' state.

CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    episode_id   TEXT,
    status       TEXT NOT NULL,
    at           TEXT NOT NULL,
    at_ts        REAL NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0,
    record       TEXT NOT NULL
);
CREATE INDEX tasks_by_customer ON tasks (customer_id, at_ts);
CREATE INDEX tasks_by_episode ON tasks (episode_id);

CREATE TABLE health_adjustments (
    id           TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    episode_id   TEXT,
    status       TEXT NOT NULL,
    at           TEXT NOT NULL,
    at_ts        REAL NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0,
    record       TEXT NOT NULL
);
CREATE INDEX health_adjustments_by_customer ON health_adjustments (customer_id, at_ts);
CREATE INDEX health_adjustments_by_episode ON health_adjustments (episode_id);

CREATE TABLE war_room_entries (
    id           TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    episode_id   TEXT,
    status       TEXT NOT NULL,
    at           TEXT NOT NULL,
    at_ts        REAL NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0,
    record       TEXT NOT NULL
);
CREATE INDEX war_room_entries_by_customer ON war_room_entries (customer_id, at_ts);
CREATE INDEX war_room_entries_by_episode ON war_room_entries (episode_id);

CREATE TABLE syncs (
    id           TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    episode_id   TEXT,
    status       TEXT NOT NULL,
    at           TEXT NOT NULL,
    at_ts        REAL NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0,
    record       TEXT NOT NULL
);
CREATE INDEX syncs_by_customer ON syncs (customer_id, at_ts);
CREATE INDEX syncs_by_episode ON syncs (episode_id);

CREATE TABLE outbound_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    at           TEXT NOT NULL,
    at_ts        REAL NOT NULL,
    data         TEXT NOT NULL
);

CREATE TABLE webhook_endpoints (
    endpoint_id  TEXT PRIMARY KEY,
    record       TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    event_id     TEXT NOT NULL,
    endpoint_id  TEXT NOT NULL,
    event_seq    BIGINT NOT NULL,
    status       TEXT NOT NULL,
    next_ts      REAL,
    record       TEXT NOT NULL,
    PRIMARY KEY (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_ts);

CREATE TABLE webhook_attempts (
    event_id     TEXT NOT NULL,
    endpoint_id  TEXT NOT NULL,
    number       INTEGER NOT NULL,
    at           TEXT NOT NULL,
    record       TEXT NOT NULL,
    PRIMARY KEY (event_id, endpoint_id, number)
);
