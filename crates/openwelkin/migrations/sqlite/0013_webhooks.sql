-- Webhook delivery: which designer webhooks are active per instance, the deliveries the
-- fan-out makes from the event outbox (leased by one node at a time), and every attempt
-- (the webhook audit).

CREATE TABLE webhook_activations (
    instance_id     TEXT NOT NULL REFERENCES instances(id),
    webhook_name    TEXT NOT NULL,
    active          BIGINT NOT NULL,
    secret_version  BIGINT NOT NULL DEFAULT 1,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (instance_id, webhook_name)
);

-- Events are marked once fanned out. A mark per event, rather than a high-water mark:
-- on PostgreSQL a transaction can commit an older sequence number after a newer one, and
-- a high-water mark would skip it.
ALTER TABLE event_outbox ADD COLUMN fanned_out BIGINT NOT NULL DEFAULT 0;
CREATE INDEX event_outbox_pending ON event_outbox (fanned_out, seq);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    instance_id      TEXT NOT NULL,
    webhook_name     TEXT NOT NULL,
    event_seq        BIGINT NOT NULL,
    ordering_key     TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT NOT NULL DEFAULT 0,
    leased_by        TEXT,
    created_at       BIGINT NOT NULL,
    payload          TEXT NOT NULL,
    UNIQUE (webhook_name, instance_id, event_seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (instance_id, webhook_name, ordering_key, event_seq);

CREATE TABLE webhook_attempts (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    instance_name  TEXT NOT NULL,
    delivery_id    TEXT NOT NULL,
    webhook_name   TEXT NOT NULL,
    event_entity   TEXT NOT NULL,
    event_subtype  TEXT NOT NULL,
    patient_id     TEXT,
    status         TEXT NOT NULL,
    status_code    TEXT,
    response       TEXT,
    sent_at        BIGINT NOT NULL,
    record         TEXT NOT NULL
);
CREATE INDEX webhook_attempts_by_tenant ON webhook_attempts (tenant_id, sent_at);
