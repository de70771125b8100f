-- Patients with the same value of a sorted field come in the order they were created
-- (issue 12: fewer pages written per create). Each sort index ended with the patient id
-- to break ties: 37 bytes more per entry, and, since the ids of a group of concurrent
-- creates reach the writer in no particular order, inserts that landed beside each other
-- rather than after each other, so many of a group commit's index pages were split or
-- rebalanced. An index of SQLite already ends with the row's rowid, given in insert
-- order: ties are now broken by it (`rowid`, see `store::patients`), and a group's
-- entries of a value most patients share (no email, no mrn, the same first name) are
-- appended to the same last page. patients_by_updated keeps the id: the export's pages
-- continue after an (updatedAt, id) position. (PostgreSQL's migration 0027 does the same
-- with a `seq` column.)
DROP INDEX patients_by_created;
CREATE INDEX patients_by_created ON patients (instance_id, created_at);
DROP INDEX patients_by_first_name;
CREATE INDEX patients_by_first_name ON patients (instance_id, first_name);
DROP INDEX patients_by_last_name;
CREATE INDEX patients_by_last_name ON patients (instance_id, last_name);
DROP INDEX patients_by_email;
CREATE INDEX patients_by_email ON patients (instance_id, email);
DROP INDEX patients_by_birth_date;
CREATE INDEX patients_by_birth_date ON patients (instance_id, birth_date);
DROP INDEX patients_by_timezone;
CREATE INDEX patients_by_timezone ON patients (instance_id, timezone);
DROP INDEX patients_by_external_id;
CREATE INDEX patients_by_external_id ON patients (instance_id, external_id);
DROP INDEX patients_by_mrn;
CREATE INDEX patients_by_mrn ON patients (instance_id, mrn);
DROP INDEX patients_by_territories;
CREATE INDEX patients_by_territories ON patients (instance_id, territories);
