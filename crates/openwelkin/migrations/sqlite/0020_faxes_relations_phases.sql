-- Faxes of one instance (sent and received), the relation of the data type a data audit
-- entry is about (`cdtRelation`), and the current phase of each program enrolment (the
-- phase distribution report counts by it).

CREATE TABLE faxes (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    instance_id   TEXT NOT NULL REFERENCES instances(id),
    patient_id    TEXT,
    fax_type      TEXT NOT NULL,
    status        TEXT NOT NULL,
    reviewed      BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX faxes_by_instance ON faxes (instance_id, created_at, id);

ALTER TABLE audit_data ADD COLUMN cdt_relation TEXT;

ALTER TABLE patient_programs ADD COLUMN phase_name TEXT;
UPDATE patient_programs SET phase_name = json_extract(body, '$.currentPhase.name');
CREATE INDEX patient_programs_by_phase ON patient_programs (instance_id, program_name, phase_name);
