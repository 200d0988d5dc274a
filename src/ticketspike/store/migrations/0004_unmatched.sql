-- Records a source could not tie to a customer, kept until a re-resolve maps them.
CREATE TABLE unmatched (
    source       TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    reason       TEXT NOT NULL,
    payload      TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (source, record_id)
);
