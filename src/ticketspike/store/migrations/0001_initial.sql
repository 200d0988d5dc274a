-- ticketspike store, schema version 1.
-- Times are ISO-8601 UTC text; *_ts columns hold the same instant as epoch seconds for ranges.

CREATE TABLE tickets (
    source       TEXT NOT NULL,
    ticket_id    TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    created_ts   REAL NOT NULL,
    internal     INTEGER NOT NULL DEFAULT 0,
    status       TEXT NOT NULL DEFAULT 'open',
    event        TEXT NOT NULL,          -- the ticket's JSON form (store.codec)
    received_at  TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (source, ticket_id)
);
CREATE INDEX tickets_by_customer_time ON tickets (customer_id, created_ts);
CREATE INDEX tickets_by_time ON tickets (created_ts);

-- Stored but not yet run through detection (webhooks are answered before that happens).
CREATE TABLE inbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event        TEXT NOT NULL,
    outcome      TEXT NOT NULL,          -- what storing it did: new | updated
    received_at  TEXT NOT NULL
);

CREATE TABLE deliveries (
    source       TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    expires_ts   REAL NOT NULL,
    PRIMARY KEY (source, delivery_id)
);
CREATE INDEX deliveries_by_expiry ON deliveries (expires_ts);

CREATE TABLE customer_state (
    customer_id  TEXT PRIMARY KEY,
    version      INTEGER NOT NULL,
    state        TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE episodes (
    episode_id       TEXT PRIMARY KEY,
    customer_id      TEXT NOT NULL,
    severity         TEXT NOT NULL,
    status           TEXT NOT NULL,     -- active | resolved
    opened_at        TEXT NOT NULL,
    opened_ts        REAL NOT NULL,
    updated_at       TEXT NOT NULL,
    resolved_at      TEXT,
    last_transition  TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    suppressed       TEXT
);
CREATE INDEX episodes_by_customer ON episodes (customer_id, status);

-- One row per episode and kind: the guard against alerting twice.
CREATE TABLE transitions (
    episode_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    at           TEXT NOT NULL,
    at_ts        REAL NOT NULL,
    customer_id  TEXT NOT NULL,
    severity     TEXT NOT NULL,
    suppressed   TEXT,
    recorded_at  TEXT NOT NULL,
    data         TEXT NOT NULL,
    PRIMARY KEY (episode_id, kind)
);

CREATE TABLE plans (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id      TEXT NOT NULL UNIQUE,
    episode_id   TEXT NOT NULL,
    data         TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE actions (
    key          TEXT PRIMARY KEY,
    plan_id      TEXT NOT NULL REFERENCES plans (plan_id),
    episode_id   TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    step_id      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    depends_on   TEXT NOT NULL,
    action       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    handler      TEXT,
    ref          TEXT NOT NULL DEFAULT '{}',
    summary      TEXT NOT NULL DEFAULT '',
    error        TEXT,
    owner        TEXT,
    lease_until  REAL
);
CREATE INDEX actions_by_status ON actions (status, seq);
CREATE INDEX actions_by_episode ON actions (episode_id, seq);

CREATE TABLE attempts (
    key          TEXT NOT NULL REFERENCES actions (key),
    number       INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    outcome      TEXT,
    handler      TEXT,
    error        TEXT,
    PRIMARY KEY (key, number)
);

CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    key          TEXT NOT NULL UNIQUE REFERENCES actions (key),
    kind         TEXT NOT NULL,
    handler      TEXT NOT NULL,
    episode_id   TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    executed_at  TEXT NOT NULL,
    summary      TEXT NOT NULL,
    ref          TEXT NOT NULL,
    action       TEXT NOT NULL
);

CREATE TABLE cursors (
    name         TEXT PRIMARY KEY,
    cursor       TEXT,
    updated_at   TEXT NOT NULL
);
