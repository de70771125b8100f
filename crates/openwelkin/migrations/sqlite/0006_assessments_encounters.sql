-- Assessment records (a patient's answers to an assessment) and encounters with their
-- comments; encounter assessment links and dispositions are data type records.

CREATE TABLE assessment_records (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    instance_id      TEXT NOT NULL REFERENCES instances(id),
    patient_id       TEXT NOT NULL,
    assessment_name  TEXT NOT NULL,
    status           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    body             TEXT NOT NULL
);
CREATE INDEX assessment_records_by_patient ON assessment_records (instance_id, patient_id, created_at);

CREATE TABLE encounters (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    instance_id      TEXT NOT NULL REFERENCES instances(id),
    patient_id       TEXT NOT NULL,
    owner_user_id    TEXT,
    status           TEXT NOT NULL,
    calendar_event_id TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    body             TEXT NOT NULL
);
CREATE INDEX encounters_by_patient ON encounters (instance_id, patient_id, created_at);
CREATE INDEX encounters_by_owner ON encounters (instance_id, owner_user_id, created_at);

CREATE TABLE encounter_comments (
    id             TEXT PRIMARY KEY,
    instance_id    TEXT NOT NULL REFERENCES instances(id),
    encounter_id   TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    body           TEXT NOT NULL
);
CREATE INDEX encounter_comments_by_encounter ON encounter_comments (instance_id, encounter_id, created_at);
