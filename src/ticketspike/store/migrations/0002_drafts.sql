-- Acknowledgement e-mail drafts: content, decision and sending state (store.drafts).
-- ``record`` is the draft's JSON form; ``status`` and ``version`` are copied out of it so a
-- change can be compare-and-set and listings can filter without decoding every row.

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
