-- Product incidents: one row per incident, its latest view as JSON (ticketspike.store.incidents).
CREATE TABLE incidents (
    incident_id  TEXT PRIMARY KEY,
    status       TEXT NOT NULL,
    first_spike  TEXT NOT NULL,
    first_epoch  DOUBLE PRECISION NOT NULL,
    updated_at   TEXT NOT NULL,
    record       TEXT NOT NULL
);
CREATE INDEX incidents_by_status ON incidents (status, first_epoch);
