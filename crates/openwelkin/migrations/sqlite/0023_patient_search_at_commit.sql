-- The trigram index is written once per group commit instead of once per transaction
-- (issue 12). FTS5 writes the terms it holds to disk whenever a savepoint ends, and every
-- API transaction is a savepoint of the group commit (store/sql/sqlite.rs): each created
-- patient became an index segment of its own, merged again and again, 8 % of a create's
-- CPU. Now a write only notes the patient's rowid here; the writer adds the noted rows to
-- the index right before each group's COMMIT, in the same transaction
-- (`store::patients::SQLITE_BEFORE_COMMIT`), so every committed patient is searchable
-- and this table is empty between transactions.
CREATE TABLE patients_fts_pending (
    rid  INTEGER PRIMARY KEY
);

DROP TRIGGER patients_fts_insert;
CREATE TRIGGER patients_fts_insert AFTER INSERT ON patients BEGIN
    INSERT OR IGNORE INTO patients_fts_pending (rid) VALUES (NEW.rowid);
END;

-- A row still waiting is not in the index yet: it leaves the waiting list, and only a row
-- already indexed is deleted from the index (an FTS5 'delete' of a row it does not hold
-- would corrupt it).
DROP TRIGGER patients_fts_delete;
CREATE TRIGGER patients_fts_delete AFTER DELETE ON patients BEGIN
    INSERT INTO patients_fts (patients_fts, rowid, search)
        SELECT 'delete', OLD.rowid, OLD.search
        WHERE NOT EXISTS (SELECT 1 FROM patients_fts_pending WHERE rid = OLD.rowid);
    DELETE FROM patients_fts_pending WHERE rid = OLD.rowid;
END;

DROP TRIGGER patients_fts_update;
CREATE TRIGGER patients_fts_update AFTER UPDATE OF search ON patients BEGIN
    INSERT INTO patients_fts (patients_fts, rowid, search)
        SELECT 'delete', OLD.rowid, OLD.search
        WHERE NOT EXISTS (SELECT 1 FROM patients_fts_pending WHERE rid = OLD.rowid);
    INSERT OR IGNORE INTO patients_fts_pending (rid) VALUES (NEW.rowid);
END;
