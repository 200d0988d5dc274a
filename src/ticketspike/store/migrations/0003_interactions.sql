-- What people did about an episode (acknowledge, snooze, resolve, war room, refused clicks),
-- and the silences they recorded. ``key`` makes each act idempotent: a click Slack delivers
-- three times, or a CLI command run twice, is recorded once.

CREATE TABLE interactions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
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
    end_ts       REAL NOT NULL,
    actor        TEXT NOT NULL,
    reason       TEXT NOT NULL
);
CREATE INDEX recorded_silences_by_end ON recorded_silences (end_ts);
