-- Foundation schema: tenants, instances, API clients, token machinery, patients, users, audit.
-- Timestamps are epoch milliseconds (BIGINT) so that both backends sort and compare them the
-- same way; flags are BIGINT 0/1 for the same reason (the sqlx Any driver is strict on types).

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE instances (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE api_clients (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    name            TEXT NOT NULL,
    secret_hash     TEXT NOT NULL,
    secret_version  BIGINT NOT NULL DEFAULT 1,
    enabled         BIGINT NOT NULL DEFAULT 1,
    policy          TEXT NOT NULL,
    instances       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE signing_keys (
    id          TEXT PRIMARY KEY,
    secret      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE token_requests (
    client_key    TEXT NOT NULL,
    requested_at  BIGINT NOT NULL
);
CREATE INDEX token_requests_by_client ON token_requests (client_key, requested_at);

CREATE TABLE token_blocks (
    client_key     TEXT PRIMARY KEY,
    blocked_until  BIGINT NOT NULL
);

CREATE TABLE patients (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    instance_id    TEXT NOT NULL REFERENCES instances(id),
    external_id    TEXT,
    external_guid  TEXT,
    mrn            TEXT,
    first_name     TEXT NOT NULL,
    last_name      TEXT NOT NULL,
    email          TEXT,
    phone          TEXT,
    timezone       TEXT,
    birth_date     TEXT,
    territories    TEXT NOT NULL DEFAULT '',
    cadence        TEXT NOT NULL DEFAULT '',
    search         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    body           TEXT NOT NULL
);
CREATE UNIQUE INDEX patients_external_id ON patients (instance_id, external_id);
CREATE UNIQUE INDEX patients_external_guid ON patients (instance_id, external_guid);
CREATE UNIQUE INDEX patients_mrn ON patients (instance_id, mrn);
CREATE INDEX patients_by_created ON patients (instance_id, created_at, id);
CREATE INDEX patients_by_updated ON patients (instance_id, updated_at, id);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    username        TEXT NOT NULL,
    username_key    TEXT NOT NULL,
    email           TEXT NOT NULL,
    first_name      TEXT,
    last_name       TEXT,
    user_state      TEXT NOT NULL,
    seat_assigned   BIGINT NOT NULL DEFAULT 0,
    regions         TEXT NOT NULL DEFAULT '',
    search          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    body            TEXT NOT NULL,
    UNIQUE (tenant_id, username_key)
);
CREATE INDEX users_by_created ON users (tenant_id, created_at, id);

CREATE TABLE audit_data (
    seq               BIGSERIAL PRIMARY KEY,
    event_id          TEXT NOT NULL,
    tenant_id         TEXT NOT NULL,
    instance_name     TEXT,
    event_entity      TEXT NOT NULL,
    event_subtype     TEXT NOT NULL,
    operation         TEXT NOT NULL,
    subject_actor     TEXT NOT NULL,
    subject_user_id   TEXT NOT NULL,
    subject_username  TEXT NOT NULL,
    subject_full_name TEXT NOT NULL,
    patient_id        TEXT,
    patient_full_name TEXT,
    record_id         TEXT NOT NULL,
    cdt_name          TEXT,
    record            TEXT NOT NULL,
    sent_at           BIGINT NOT NULL
);
CREATE INDEX audit_data_by_tenant ON audit_data (tenant_id, sent_at);

CREATE TABLE audit_security (
    seq               BIGSERIAL PRIMARY KEY,
    event_id          TEXT NOT NULL,
    tenant_id         TEXT NOT NULL,
    event_subtype     TEXT NOT NULL,
    subject_actor     TEXT NOT NULL,
    subject_user_id   TEXT,
    subject_username  TEXT NOT NULL,
    object_actor      TEXT,
    object_user_id    TEXT,
    object_username   TEXT,
    record            TEXT NOT NULL,
    sent_at           BIGINT NOT NULL
);
CREATE INDEX audit_security_by_tenant ON audit_security (tenant_id, sent_at);
