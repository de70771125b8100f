-- SMS: messages to and from patients (outbound sends, scheduled sends, inbound messages
-- matched to a patient by phone or left unmatched), the instance's sending lines
-- (communication IDs), and the local outbox of the default delivery provider.
-- Times are epoch milliseconds; flags are BIGINT 0/1.

CREATE TABLE sms_messages (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    instance_id    TEXT NOT NULL REFERENCES instances(id),
    -- NULL while an inbound message is unmatched.
    patient_id     TEXT,
    direction      TEXT NOT NULL,
    status         TEXT NOT NULL,
    -- 1 when the message arrived from a number no patient has (kept after assignment).
    unmatched      BIGINT NOT NULL DEFAULT 0,
    sender         TEXT,
    receiver       TEXT,
    -- Lowercased names and message, for the list filters.
    sender_name    TEXT NOT NULL DEFAULT '',
    receiver_name  TEXT NOT NULL DEFAULT '',
    message_key    TEXT NOT NULL DEFAULT '',
    from_phone     TEXT,
    to_phone       TEXT,
    starred        BIGINT NOT NULL DEFAULT 0,
    external_id    TEXT,
    scheduled_at   BIGINT,
    sent_at        BIGINT,
    received_at    BIGINT,
    date_at        BIGINT NOT NULL,
    resolved_by    TEXT,
    resolved_at    BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    body           TEXT NOT NULL
);
CREATE INDEX sms_messages_by_patient ON sms_messages (instance_id, patient_id, created_at, id);
CREATE INDEX sms_messages_unmatched ON sms_messages (instance_id, unmatched, created_at, id);
CREATE INDEX sms_messages_due ON sms_messages (status, scheduled_at);
CREATE UNIQUE INDEX sms_messages_external_id ON sms_messages (instance_id, external_id);

CREATE TABLE communication_ids (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    instance_id  TEXT NOT NULL REFERENCES instances(id),
    channel      TEXT NOT NULL,
    value        TEXT NOT NULL,
    is_default   BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    body         TEXT NOT NULL
);
CREATE UNIQUE INDEX communication_ids_value ON communication_ids (instance_id, channel, value);

CREATE TABLE sms_outbox (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    instance_id  TEXT NOT NULL,
    sms_id       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    from_phone   TEXT NOT NULL,
    to_phone     TEXT NOT NULL,
    message      TEXT NOT NULL,
    queued_at    BIGINT NOT NULL
);
CREATE INDEX sms_outbox_by_instance ON sms_outbox (instance_id, queued_at, id);
