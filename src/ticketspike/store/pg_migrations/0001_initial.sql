-- ticketspike store on PostgreSQL, schema version 1: the same tables as the SQLite store
-- (migrations 0001-0004 there), in the store's own schema (the store sets search_path).
-- Times are ISO-8601 UTC text; *_ts columns hold the same instant as epoch seconds for ranges.

CREATE TABLE tickets (
    source       TEXT NOT NULL,
    ticket_id    TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    created_ts   DOUBLE PRECISION NOT NULL,
    internal     INTEGER NOT NULL DEFAULT 0,
    status       TEXT NOT NULL DEFAULT 'open',
    event        TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (source, ticket_id)
);
CREATE INDEX tickets_by_customer_time ON tickets (customer_id, created_ts);
CREATE INDEX tickets_by_time ON tickets (created_ts);

-- Claimed with FOR UPDATE SKIP LOCKED; customer_id says whose detector state a row needs.
CREATE TABLE inbox (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    event        TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    received_at  TEXT NOT NULL
);
CREATE INDEX inbox_by_customer ON inbox (customer_id, seq);

CREATE TABLE deliveries (
    source       TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    expires_ts   DOUBLE PRECISION NOT NULL,
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
    status           TEXT NOT NULL,
    opened_at        TEXT NOT NULL,
    opened_ts        DOUBLE PRECISION NOT NULL,
    updated_at       TEXT NOT NULL,
    resolved_at      TEXT,
    last_transition  TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    suppressed       TEXT
);
CREATE INDEX episodes_by_customer ON episodes (customer_id, status);

CREATE TABLE transitions (
    episode_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    at           TEXT NOT NULL,
    at_ts        DOUBLE PRECISION NOT NULL,
    customer_id  TEXT NOT NULL,
    severity     TEXT NOT NULL,
    suppressed   TEXT,
    recorded_at  TEXT NOT NULL,
    data         TEXT NOT NULL,
    PRIMARY KEY (episode_id, kind)
);

CREATE TABLE plans (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    seq          BIGINT NOT NULL,
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
    lease_until  DOUBLE PRECISION
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
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

CREATE TABLE drafts (
    id           TEXT PRIMARY KEY,
    episode_id   TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    action_key   TEXT NOT NULL UNIQUE,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    version      INTEGER NOT NULL,
    record       TEXT NOT NULL
);
CREATE INDEX drafts_by_episode ON drafts (episode_id);
CREATE INDEX drafts_by_status ON drafts (status);

CREATE TABLE interactions (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,
    episode_id   TEXT,
    customer_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    at           TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX interactions_by_episode ON interactions (episode_id);
CREATE INDEX interactions_by_customer ON interactions (customer_id);

CREATE TABLE recorded_silences (
    key          TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    start_at     TEXT NOT NULL,
    end_at       TEXT NOT NULL,
    end_ts       DOUBLE PRECISION NOT NULL,
    actor        TEXT NOT NULL,
    reason       TEXT NOT NULL
);
CREATE INDEX recorded_silences_by_end ON recorded_silences (end_ts);

-- seq keeps the order records were first kept (SQLite orders by its rowid).
CREATE TABLE unmatched (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY,
    source       TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    reason       TEXT NOT NULL,
    payload      TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (source, record_id)
);
