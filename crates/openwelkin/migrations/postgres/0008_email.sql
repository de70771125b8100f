-- Email: sent, scheduled and received emails (unmatched inbound ones have no patient),
-- drafts, their attachments, and the local outbox the default delivery provider writes.

CREATE TABLE emails (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    instance_id    TEXT NOT NULL REFERENCES instances(id),
    -- NULL while an inbound email is matched to no patient (status UNRECOGNISED).
    patient_id     TEXT,
    direction      TEXT NOT NULL,
    status         TEXT NOT NULL,
    starred        BIGINT NOT NULL DEFAULT 0,
    sender_id      TEXT,
    receiver_id    TEXT,
    -- Lower-cased addresses and names, and subject + body, for the list filters.
    from_key       TEXT NOT NULL DEFAULT '',
    to_key         TEXT NOT NULL DEFAULT '',
    sender_name    TEXT NOT NULL DEFAULT '',
    receiver_name  TEXT NOT NULL DEFAULT '',
    search         TEXT NOT NULL DEFAULT '',
    -- 1 for an inbound email that arrived from an unknown sender (also once resolved).
    unmatched      BIGINT NOT NULL DEFAULT 0,
    resolved_by    TEXT,
    date_at        BIGINT,
    scheduled_at   BIGINT,
    -- When the email is next handed to the delivery provider; NULL when nothing is due.
    -- A claim moves it forward by a lease, so a crashed attempt is retried.
    dispatch_at    BIGINT,
    -- Which delivery configuration sends it (`outbox`, `smtp://host:port`): servers with
    -- another one leave it alone unless it is long overdue.
    dispatch_key   TEXT,
    attempts       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    body           TEXT NOT NULL
);
CREATE INDEX emails_by_patient ON emails (instance_id, patient_id, created_at, id);
CREATE INDEX emails_unmatched ON emails (instance_id, unmatched, created_at, id);
CREATE INDEX emails_due ON emails (dispatch_at);

CREATE TABLE email_drafts (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    instance_id  TEXT NOT NULL REFERENCES instances(id),
    patient_id   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX email_drafts_by_patient ON email_drafts (instance_id, patient_id, created_at, id);

-- Files of an email or a draft (owner_id), base64 in `data`.
CREATE TABLE email_attachments (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    instance_id   TEXT NOT NULL REFERENCES instances(id),
    owner_id      TEXT NOT NULL,
    position      BIGINT NOT NULL,
    file_name     TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    data          TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX email_attachments_by_owner ON email_attachments (owner_id, position);

-- What the local outbox provider "sent": one row per delivered message.
CREATE TABLE email_outbox (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    instance_id  TEXT NOT NULL REFERENCES instances(id),
    email_id     TEXT NOT NULL,
    to_key       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX email_outbox_by_created ON email_outbox (instance_id, created_at, id);
