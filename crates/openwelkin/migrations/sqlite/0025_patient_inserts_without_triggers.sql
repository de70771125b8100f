-- A patient insert without triggers (issue 12). A statement that fires a trigger may write
-- more than one row, so inside a transaction SQLite gives it a statement journal: a copy
-- of every page it changes (the row, its sixteen index entries, the count, the search
-- waiting list), kept so that a failure halfway can be undone. For a create that was
-- about a tenth of its instructions. The two insert triggers are gone; what they did, the
-- store now does with statements of their own right after the insert, in the same
-- transaction: `store::patients::insert` for one patient, `note_copied_patients` for an
-- instance's patients copied back by a snapshot restore. A lone single-row insert needs no
-- statement journal: SQLite checks its constraints before it writes anything. The update
-- and delete triggers stay (their statements are rarer and may change several rows).
-- PostgreSQL has no statement journal and keeps its triggers.
DROP TRIGGER patients_count_insert;
DROP TRIGGER patients_fts_insert;
