-- Patient lists and search that do not scan (issue 12).
--
-- 1. One index per sort field and equality filter of GET /patients and
--    POST /by-filter/patients, scoped by instance first and ending with the id that
--    breaks ties (`order_by` appends `id ASC`). created_at and updated_at have theirs
--    since 0001; the unique (instance_id, external_id | mrn) indexes do not end with the
--    id, so those sorts get their own.
CREATE INDEX patients_by_id ON patients (instance_id, id);
CREATE INDEX patients_by_first_name ON patients (instance_id, first_name, id);
CREATE INDEX patients_by_last_name ON patients (instance_id, last_name, id);
CREATE INDEX patients_by_email ON patients (instance_id, email, id);
CREATE INDEX patients_by_birth_date ON patients (instance_id, birth_date, id);
CREATE INDEX patients_by_timezone ON patients (instance_id, timezone, id);
CREATE INDEX patients_by_external_id ON patients (instance_id, external_id, id);
CREATE INDEX patients_by_mrn ON patients (instance_id, mrn, id);
CREATE INDEX patients_by_territories ON patients (instance_id, territories, id);

-- 2. The exact number of patients per instance, for the totalElements of unfiltered
--    lists. Kept by triggers, so every insert and delete of a patient (API, demo,
--    emulator seed, restore and sweep) changes it in its own transaction. It has an
--    instance_id column, so an emulator reset leaves the new instance without a row
--    (zero) and the sweep deletes the retired one; snapshots skip it (a restore rebuilds
--    it through these triggers as it inserts the patients back).
CREATE TABLE patient_counts (
    instance_id  TEXT PRIMARY KEY,
    n            BIGINT NOT NULL
);
INSERT INTO patient_counts (instance_id, n) SELECT instance_id, COUNT(*) FROM patients GROUP BY instance_id;

CREATE TRIGGER patients_count_insert AFTER INSERT ON patients BEGIN
    INSERT INTO patient_counts (instance_id, n) VALUES (NEW.instance_id, 1)
        ON CONFLICT (instance_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER patients_count_delete AFTER DELETE ON patients BEGIN
    UPDATE patient_counts SET n = n - 1 WHERE instance_id = OLD.instance_id;
END;

-- 3. Substring search (`query=`, firstName, lastName) on a trigram index: an
--    external-content FTS5 table over patients.search (lowercased first, middle and last
--    name, email, phone), kept in sync by triggers. The store asks it for candidate
--    rowids with `search LIKE '%needle%'` (needles of 3+ characters) and still checks the
--    exact LIKE on the patient row. detail=none keeps the index small; LIKE over a trigram
--    table does not need positions. After a VACUUM (which may renumber rowids) run
--    INSERT INTO patients_fts (patients_fts) VALUES ('rebuild').
CREATE VIRTUAL TABLE patients_fts USING fts5(
    search, content = 'patients', content_rowid = 'rowid', tokenize = 'trigram', detail = 'none'
);
INSERT INTO patients_fts (patients_fts) VALUES ('rebuild');

CREATE TRIGGER patients_fts_insert AFTER INSERT ON patients BEGIN
    INSERT INTO patients_fts (rowid, search) VALUES (NEW.rowid, NEW.search);
END;
CREATE TRIGGER patients_fts_delete AFTER DELETE ON patients BEGIN
    INSERT INTO patients_fts (patients_fts, rowid, search) VALUES ('delete', OLD.rowid, OLD.search);
END;
CREATE TRIGGER patients_fts_update AFTER UPDATE OF search ON patients BEGIN
    INSERT INTO patients_fts (patients_fts, rowid, search) VALUES ('delete', OLD.rowid, OLD.search);
    INSERT INTO patients_fts (rowid, search) VALUES (NEW.rowid, NEW.search);
END;
