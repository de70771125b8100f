-- Patient counts spread over 16 rows per instance.
--
-- With one count row per instance, every patient insert updated that row and held its
-- lock until its commit, so concurrent creates in an instance committed one at a time:
-- 805 creates/s with p99 89 ms, against 1,736/s and 17 ms with the trigger disabled
-- (16 clients, same machine). Each write now adds to one of 16 rows chosen at random,
-- and the count is their sum.
ALTER TABLE patient_counts DROP CONSTRAINT patient_counts_pkey;
ALTER TABLE patient_counts ADD COLUMN shard BIGINT NOT NULL DEFAULT 0;
ALTER TABLE patient_counts ADD PRIMARY KEY (instance_id, shard);

CREATE OR REPLACE FUNCTION patients_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO patient_counts (instance_id, shard, n)
            VALUES (NEW.instance_id, floor(random() * 16)::bigint, 1)
            ON CONFLICT (instance_id, shard) DO UPDATE SET n = patient_counts.n + 1;
        RETURN NEW;
    END IF;
    -- A delete takes one from any row the instance has. With none (the rows were cleared,
    -- as an emulator restore does before it removes and re-inserts the patients) there is
    -- nothing to correct, as before.
    UPDATE patient_counts SET n = n - 1
        WHERE instance_id = OLD.instance_id
          AND shard = (SELECT shard FROM patient_counts WHERE instance_id = OLD.instance_id LIMIT 1);
    RETURN OLD;
END
$$;
