-- Patients counted once per INSERT statement rather than once per row (issue 12).
--
-- PostgreSQL's group commit sends the creates of several transactions as one multi-row
-- INSERT (store/sql/pg_groups.rs). The row trigger of 0017 chose a random count row
-- (shard) for each patient: one statement then locked several count rows in no set order,
-- and two such statements deadlocked (pgbench, ten rows a statement: most transactions
-- failed after the deadlock timeout). A statement trigger counts the statement's rows per
-- instance, in instance order, into the count row of its connection's shard: concurrent
-- statements of different connections still spread over the sixteen rows, and one
-- statement takes one row per instance. Deletes keep the row trigger.
CREATE FUNCTION patients_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO patient_counts (instance_id, shard, n)
        SELECT instance_id, pg_backend_pid() % 16, COUNT(*) FROM inserted GROUP BY instance_id ORDER BY instance_id
        ON CONFLICT (instance_id, shard) DO UPDATE SET n = patient_counts.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
DROP TRIGGER patients_count ON patients;
CREATE TRIGGER patients_count AFTER DELETE ON patients
    FOR EACH ROW EXECUTE FUNCTION patients_count();
CREATE TRIGGER patients_count_inserted AFTER INSERT ON patients REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION patients_count_inserted();
