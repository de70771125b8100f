-- Whether a stored patient body is, as it is, the answer to a read (issue 12). A read by
-- id answered with the stored text used to parse the whole body first, to check its keys
-- and that nothing is joined in (domain/patient_stored.rs): about a tenth of the read. The
-- writer now stores that verdict beside the body: the fingerprint of the keys it wrote when
-- the patient has no care team, else 0. Rows written before have 0 and are checked as
-- before. (SQLite's migration 0026 adds the same column.)
ALTER TABLE patients ADD COLUMN answer_shape BIGINT NOT NULL DEFAULT 0;
