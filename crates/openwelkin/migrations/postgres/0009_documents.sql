-- Files uploaded to document summaries. The summaries themselves and their document-type
-- records are data type records (`dt_records`, kind DOCUMENT); this table indexes the
-- bytes, which live in the file store under `storage_key`, so that a download finds them
-- and a delete (of a summary or of its patient) removes them.

CREATE TABLE document_files (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    instance_id    TEXT NOT NULL REFERENCES instances(id),
    patient_id     TEXT NOT NULL,
    summary_id     TEXT NOT NULL,
    storage_key    TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    original_name  TEXT NOT NULL,
    size           BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX document_files_by_summary ON document_files (instance_id, summary_id, created_at);
CREATE INDEX document_files_by_patient ON document_files (instance_id, patient_id);
CREATE UNIQUE INDEX document_files_storage_key ON document_files (storage_key);
