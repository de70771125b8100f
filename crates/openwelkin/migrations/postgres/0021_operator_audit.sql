-- The server-wide audit of console operators: `openwelkin operators create|disable|
-- reset-password` and console sign-ins and sign-outs. Tenants' audit rows belong to a
-- tenant; operators belong to none, so their record is its own table. Each row is written
-- in the transaction of the change it describes. No row holds a password or its hash,
-- and a refused sign-in names the operator only when one of that name exists (people
-- type passwords into name fields).
CREATE TABLE operator_audit (
    id            TEXT PRIMARY KEY,
    occurred_at   BIGINT NOT NULL,
    event         TEXT NOT NULL,
    operator_name TEXT NOT NULL,
    actor         TEXT NOT NULL,
    address       TEXT,
    detail        TEXT NOT NULL
);
CREATE INDEX operator_audit_time ON operator_audit (occurred_at, id);
