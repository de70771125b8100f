-- The read by id joins the patient with its enrolments, ordered by the enrolments' index
-- (instance_id, patient_id, created_at, id). SQLite takes that order from the index only
-- when it knows the patient side is one row: (instance_id, id) declared unique. Without
-- it every read by id sorted its enrolments in a temporary b-tree. The id is the primary
-- key, so the constraint holds already.
DROP INDEX patients_by_id;
CREATE UNIQUE INDEX patients_by_id ON patients (instance_id, id);
