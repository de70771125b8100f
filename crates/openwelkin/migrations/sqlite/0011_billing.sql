-- Billing: payment methods, subscriptions, invoices (line items in the body) and
-- payments. Amounts are kept as integer minor units (cents) inside the JSON bodies and
-- in `amount_cents`; no floating point is ever used for money.

CREATE TABLE billing_records (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    instance_id   TEXT NOT NULL REFERENCES instances(id),
    kind          TEXT NOT NULL,
    patient_id    TEXT NOT NULL,
    encounter_id  TEXT,
    parent_id     TEXT,
    status        TEXT NOT NULL,
    amount_cents  BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX billing_records_by_patient ON billing_records (instance_id, kind, patient_id, created_at);
CREATE INDEX billing_records_by_encounter ON billing_records (instance_id, kind, encounter_id);
CREATE INDEX billing_records_by_parent ON billing_records (instance_id, kind, parent_id);
