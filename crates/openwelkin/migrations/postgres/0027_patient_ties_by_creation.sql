-- Patients with the same value of a sorted field come in the order they were created
-- (issue 12; SQLite's migration 0027 says why). `seq` counts the patients in the order
-- they were inserted (existing rows are numbered in the order they are stored), and the
-- sort indexes end with it instead of the 37-byte id. patients_by_updated keeps the id:
-- the export's pages continue after an (updatedAt, id) position.
ALTER TABLE patients ADD COLUMN seq BIGSERIAL NOT NULL;
DROP INDEX patients_by_created;
CREATE INDEX patients_by_created ON patients (instance_id, created_at, seq);
DROP INDEX patients_by_first_name;
CREATE INDEX patients_by_first_name ON patients (instance_id, first_name, seq);
DROP INDEX patients_by_last_name;
CREATE INDEX patients_by_last_name ON patients (instance_id, last_name, seq);
DROP INDEX patients_by_email;
CREATE INDEX patients_by_email ON patients (instance_id, email, seq);
DROP INDEX patients_by_birth_date;
CREATE INDEX patients_by_birth_date ON patients (instance_id, birth_date, seq);
DROP INDEX patients_by_timezone;
CREATE INDEX patients_by_timezone ON patients (instance_id, timezone, seq);
DROP INDEX patients_by_external_id;
CREATE INDEX patients_by_external_id ON patients (instance_id, external_id, seq);
DROP INDEX patients_by_mrn;
CREATE INDEX patients_by_mrn ON patients (instance_id, mrn, seq);
DROP INDEX patients_by_territories;
CREATE INDEX patients_by_territories ON patients (instance_id, territories, seq);
