-- Fewer index entries written per patient (issue 12).
--
-- 1. The name filters of GET /patients and by-filter find their candidate rows through the
--    trigram index on `search` (which holds the lowercased first and last names, among
--    others) and check the name itself on each candidate, as SQLite does with its FTS5
--    table (store::patients::patient_where). Their own two trigram indexes were written on
--    every create and update (a GIN entry per trigram) for no read that needs them.
-- 2. externalId, externalGuid and mrn are unique among the patients that have one. The
--    unique indexes held an entry for every patient, also for the many without one (NULLs
--    are never equal, so those entries checked nothing); now they hold only patients that
--    have the value. A lookup by value (`col = $1`) implies the column is not NULL, so it
--    may still use them; sorting by these columns uses the patients_by_* indexes.
DROP INDEX patients_first_name_trgm;
DROP INDEX patients_last_name_trgm;
DROP INDEX patients_external_id;
CREATE UNIQUE INDEX patients_external_id ON patients (instance_id, external_id) WHERE external_id IS NOT NULL;
DROP INDEX patients_external_guid;
CREATE UNIQUE INDEX patients_external_guid ON patients (instance_id, external_guid) WHERE external_guid IS NOT NULL;
DROP INDEX patients_mrn;
CREATE UNIQUE INDEX patients_mrn ON patients (instance_id, mrn) WHERE mrn IS NOT NULL;
