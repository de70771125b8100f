-- Designer formations (numbered published versions and one draft per instance), data type
-- records (CDT and PDT), dictionary records, contacts, and the event outbox that webhook
-- delivery reads.

CREATE TABLE formations (
    instance_id   TEXT NOT NULL REFERENCES instances(id),
    version       BIGINT NOT NULL,
    body          TEXT NOT NULL,
    published_at  BIGINT NOT NULL,
    published_by  TEXT NOT NULL,
    PRIMARY KEY (instance_id, version)
);

CREATE TABLE formation_drafts (
    instance_id   TEXT PRIMARY KEY REFERENCES instances(id),
    base_version  BIGINT NOT NULL,
    body          TEXT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE dt_records (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    instance_id    TEXT NOT NULL REFERENCES instances(id),
    patient_id     TEXT,
    dt_kind        TEXT NOT NULL,
    dt_name        TEXT NOT NULL,
    external_id    TEXT,
    external_guid  TEXT,
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    body           TEXT NOT NULL
);
CREATE INDEX dt_records_by_patient ON dt_records (instance_id, patient_id, dt_kind, dt_name, created_at);
CREATE INDEX dt_records_by_type ON dt_records (instance_id, dt_kind, dt_name, updated_at);
CREATE UNIQUE INDEX dt_records_external_id ON dt_records (instance_id, dt_kind, dt_name, external_id);
CREATE UNIQUE INDEX dt_records_external_guid ON dt_records (instance_id, dt_kind, dt_name, external_guid);

CREATE TABLE dictionary_records (
    id               TEXT PRIMARY KEY,
    instance_id      TEXT NOT NULL REFERENCES instances(id),
    dictionary_name  TEXT NOT NULL,
    body             TEXT NOT NULL,
    deleted          BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX dictionary_records_by_name ON dictionary_records (instance_id, dictionary_name, created_at);

CREATE TABLE contacts (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    instance_id    TEXT NOT NULL REFERENCES instances(id),
    patient_id     TEXT NOT NULL,
    pdt_record_id  TEXT,
    active         BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    body           TEXT NOT NULL
);
CREATE INDEX contacts_by_patient ON contacts (instance_id, patient_id, created_at);
CREATE UNIQUE INDEX contacts_one_per_profile ON contacts (instance_id, patient_id, pdt_record_id);

CREATE TABLE event_outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL,
    instance_name  TEXT,
    event_entity   TEXT NOT NULL,
    event_subtype  TEXT NOT NULL,
    source_id      TEXT NOT NULL,
    source_name    TEXT,
    patient_id     TEXT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX event_outbox_by_tenant ON event_outbox (tenant_id, seq);
