-- Calendar: events (with their participants in the body and as a `,id,` list for
-- filtering) and users' work-hours rules. Times are epoch milliseconds.

CREATE TABLE calendar_events (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    instance_id   TEXT NOT NULL REFERENCES instances(id),
    external_id   TEXT,
    host_id       TEXT NOT NULL,
    participants  TEXT NOT NULL,
    event_type    TEXT,
    event_status  TEXT,
    start_at      BIGINT NOT NULL,
    end_at        BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX calendar_events_by_start ON calendar_events (instance_id, start_at);
CREATE UNIQUE INDEX calendar_events_external_id ON calendar_events (instance_id, external_id);

CREATE TABLE calendar_work_hours (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    instance_id   TEXT NOT NULL REFERENCES instances(id),
    psm_id        TEXT NOT NULL,
    hours_type    TEXT NOT NULL,
    rule_type     TEXT NOT NULL,
    start_at      BIGINT NOT NULL,
    end_at        BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX calendar_work_hours_by_psm ON calendar_work_hours (instance_id, psm_id, start_at);
