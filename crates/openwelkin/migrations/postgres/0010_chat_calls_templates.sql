-- Chat messages, calls with their recordings, messaging templates and templated
-- communications of one instance, plus the chat webhook of each instance. Bodies are
-- JSON; the columns hold what lookups, filters and paging need. Times are epoch ms.

CREATE TABLE chat_messages (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    instance_id   TEXT NOT NULL REFERENCES instances(id),
    patient_id    TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    sender_type   TEXT NOT NULL,
    sender_id     TEXT NOT NULL,
    search        TEXT NOT NULL,
    archived      BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX chat_messages_by_patient ON chat_messages (instance_id, patient_id, created_at, id);
CREATE UNIQUE INDEX chat_messages_external_id ON chat_messages (instance_id, external_id);

CREATE TABLE chat_webhooks (
    instance_id   TEXT PRIMARY KEY REFERENCES instances(id),
    tenant_id     TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    body          TEXT NOT NULL
);

CREATE TABLE calls (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    instance_id   TEXT NOT NULL REFERENCES instances(id),
    patient_id    TEXT,
    unrecognized  BIGINT NOT NULL,
    resolution    TEXT,
    called_at     BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX calls_by_patient ON calls (instance_id, patient_id, called_at, id);
CREATE INDEX calls_unrecognized ON calls (instance_id, unrecognized, called_at, id);

CREATE TABLE call_recordings (
    call_id       TEXT PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
    instance_id   TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    filename      TEXT NOT NULL,
    size          BIGINT NOT NULL,
    data          TEXT NOT NULL
);

CREATE TABLE messaging_templates (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    instance_id   TEXT NOT NULL REFERENCES instances(id),
    name          TEXT NOT NULL,
    channel       TEXT NOT NULL,
    active        BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    body          TEXT NOT NULL
);
CREATE UNIQUE INDEX messaging_templates_name ON messaging_templates (instance_id, name);

CREATE TABLE communications (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    instance_id   TEXT NOT NULL REFERENCES instances(id),
    patient_id    TEXT NOT NULL,
    channel       TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX communications_by_patient ON communications (instance_id, patient_id, created_at, id);
