-- Fewer index entries written per patient (issue 12). externalId, externalGuid and mrn are
-- unique among the patients that have one. The unique indexes held an entry for every
-- patient, also for the many without one (NULLs are never equal, so those entries checked
-- nothing): three more index pages changed in every group commit of creates. Now they hold
-- only patients that have the value. A lookup by value (`col = ?`) implies the column is
-- not NULL, so it may still use them; sorting by these columns uses the patients_by_*
-- indexes. (PostgreSQL's migration 0024 does the same.)
DROP INDEX patients_external_id;
CREATE UNIQUE INDEX patients_external_id ON patients (instance_id, external_id) WHERE external_id IS NOT NULL;
DROP INDEX patients_external_guid;
CREATE UNIQUE INDEX patients_external_guid ON patients (instance_id, external_guid) WHERE external_guid IS NOT NULL;
DROP INDEX patients_mrn;
CREATE UNIQUE INDEX patients_mrn ON patients (instance_id, mrn) WHERE mrn IS NOT NULL;
