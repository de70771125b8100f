-- Named snapshots of an instance's data, taken by the emulator controls. The rows
-- themselves live in shadow tables `emu_snap_<table>`, created on the first snapshot.
CREATE TABLE emulator_snapshots (
    id           TEXT PRIMARY KEY,
    instance_id  TEXT NOT NULL REFERENCES instances(id),
    name         TEXT NOT NULL,
    row_count    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (instance_id, name)
);

-- Chat messages sent to patients stay in the conversation when the emulator's chat
-- outbox is cleared; the outbox remembers which ones it no longer shows.
CREATE TABLE emulator_cleared (
    instance_id  TEXT NOT NULL REFERENCES instances(id),
    kind         TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    PRIMARY KEY (instance_id, kind, item_id)
);

-- An emulator reset retires the instance's row (renamed out of the way) and gives the
-- instance a new id; its old records are then deleted in the background.
ALTER TABLE instances ADD COLUMN retired_at BIGINT;
