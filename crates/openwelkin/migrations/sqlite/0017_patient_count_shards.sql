-- Patient counts keyed by (instance_id, shard), as on PostgreSQL, where the count of an
-- instance is spread over 16 rows so that concurrent creates do not queue on one row
-- lock. SQLite has one writer anyway, so it keeps everything in shard 0; the store reads
-- the sum on both.
CREATE TABLE patient_counts_sharded (
    instance_id  TEXT NOT NULL,
    shard        BIGINT NOT NULL DEFAULT 0,
    n            BIGINT NOT NULL,
    PRIMARY KEY (instance_id, shard)
);
INSERT INTO patient_counts_sharded (instance_id, shard, n) SELECT instance_id, 0, n FROM patient_counts;
DROP TRIGGER patients_count_insert;
DROP TRIGGER patients_count_delete;
DROP TABLE patient_counts;
ALTER TABLE patient_counts_sharded RENAME TO patient_counts;

CREATE TRIGGER patients_count_insert AFTER INSERT ON patients BEGIN
    INSERT INTO patient_counts (instance_id, shard, n) VALUES (NEW.instance_id, 0, 1)
        ON CONFLICT (instance_id, shard) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER patients_count_delete AFTER DELETE ON patients BEGIN
    UPDATE patient_counts SET n = n - 1 WHERE instance_id = OLD.instance_id AND shard = 0;
END;
