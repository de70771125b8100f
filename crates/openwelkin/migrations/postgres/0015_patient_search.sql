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
--    lists. Kept by a trigger, so every insert and delete of a patient (API, demo,
--    emulator seed, restore and sweep) changes it in its own transaction. It has an
--    instance_id column, so an emulator reset leaves the new instance without a row
--    (zero) and the sweep deletes the retired one; snapshots skip it (a restore rebuilds
--    it through the trigger as it inserts the patients back).
CREATE TABLE patient_counts (
    instance_id  TEXT PRIMARY KEY,
    n            BIGINT NOT NULL
);
INSERT INTO patient_counts (instance_id, n) SELECT instance_id, COUNT(*) FROM patients GROUP BY instance_id;

CREATE FUNCTION patients_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO patient_counts (instance_id, n) VALUES (NEW.instance_id, 1)
            ON CONFLICT (instance_id) DO UPDATE SET n = patient_counts.n + 1;
        RETURN NEW;
    END IF;
    UPDATE patient_counts SET n = n - 1 WHERE instance_id = OLD.instance_id;
    RETURN OLD;
END
$$;
CREATE TRIGGER patients_count AFTER INSERT OR DELETE ON patients
    FOR EACH ROW EXECUTE FUNCTION patients_count();

-- 3. Substring search (`query=`, firstName, lastName, territories) on GIN trigram
--    indexes: `search LIKE '%needle%'` and `LOWER(last_name) LIKE …` use them for needles
--    of 3+ characters, with the exact LIKE rechecked by PostgreSQL.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX patients_search_trgm ON patients USING gin (search gin_trgm_ops);
CREATE INDEX patients_first_name_trgm ON patients USING gin (LOWER(first_name) gin_trgm_ops);
CREATE INDEX patients_last_name_trgm ON patients USING gin (LOWER(last_name) gin_trgm_ops);
CREATE INDEX patients_territories_trgm ON patients USING gin (territories gin_trgm_ops);
