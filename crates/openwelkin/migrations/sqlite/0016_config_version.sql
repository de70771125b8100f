-- One counter for the configuration every request checks (tenants, instances, API
-- clients). Every change to those rows increments it in the same transaction, so a node
-- reads it with one cheap query per request and trusts its in-process copies only while
-- the counter is the one they were read at (`store::config_cache`).
CREATE TABLE config_version (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    v   BIGINT NOT NULL
);

INSERT INTO config_version (id, v) VALUES (1, 0);
