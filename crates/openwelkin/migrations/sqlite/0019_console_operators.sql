-- The people who sign in to the web console (`/console/`), made with `openwelkin
-- operators create`. They are the server's operators, not any tenant's: the console
-- shows every tenant. Passwords are kept only as argon2 hashes.
CREATE TABLE console_operators (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    enabled        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- Signed-in console sessions. The cookie carries a random token; only its SHA-256 digest
-- is stored, so a copy of the database lets nobody sign in as an operator.
CREATE TABLE console_sessions (
    token_hash   TEXT PRIMARY KEY,
    operator_id  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX console_sessions_operator ON console_sessions (operator_id);
