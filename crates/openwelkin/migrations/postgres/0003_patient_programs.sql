-- Patients' program enrolments: the whole patient-program object in `body`, plus the
-- columns lookups need. A patient has at most one unfinished enrolment per program.

CREATE TABLE patient_programs (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    instance_id   TEXT NOT NULL REFERENCES instances(id),
    patient_id    TEXT NOT NULL,
    program_name  TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX patient_programs_by_patient ON patient_programs (instance_id, patient_id, created_at);
CREATE UNIQUE INDEX patient_programs_one_open ON patient_programs (instance_id, patient_id, program_name)
    WHERE status <> 'FINISHED';
