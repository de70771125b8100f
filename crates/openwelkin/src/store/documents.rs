//! Files uploaded to document summaries: one row per file with the key of its bytes in
//! the file store (`crate::files`). The summaries and their document-type records are data
//! type records (`records.rs`, kind `DOCUMENT`).

use super::{Db, Tx};
use crate::domain::document::DocumentFile;
use crate::store::sql::Row;

/// Where a file belongs.
pub struct FileOwner<'a> {
    pub tenant_id: &'a str,
    pub instance_id: &'a str,
    pub patient_id: &'a str,
    pub summary_id: &'a str,
}

pub async fn insert(
    tx: &mut Tx,
    owner: &FileOwner<'_>,
    file: &DocumentFile,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO document_files (id, tenant_id, instance_id, patient_id, summary_id, storage_key, content_type, \
         original_name, size, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&file.id)
    .bind(owner.tenant_id)
    .bind(owner.instance_id)
    .bind(owner.patient_id)
    .bind(owner.summary_id)
    .bind(&file.storage_key)
    .bind(&file.content_type)
    .bind(&file.original_name)
    .bind(file.size)
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

fn keys(rows: Vec<Row>) -> Vec<String> {
    rows.iter().map(|r| r.get("storage_key")).collect()
}

/// Deletes the rows of some files of a summary; returns their storage keys, to remove
/// from the file store after the commit.
pub async fn delete_files(
    tx: &mut Tx,
    instance_id: &str,
    summary_id: &str,
    ids: &[String],
) -> crate::store::sql::Result<Vec<String>> {
    let mut out = Vec::new();
    for id in ids {
        let rows = crate::store::sql::query(
            "DELETE FROM document_files WHERE instance_id = $1 AND summary_id = $2 AND id = $3 RETURNING storage_key",
        )
        .bind(instance_id)
        .bind(summary_id)
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
        out.extend(keys(rows));
    }
    Ok(out)
}

/// Deletes the rows of every file of a summary; returns their storage keys.
pub async fn delete_for_summary(
    tx: &mut Tx,
    instance_id: &str,
    summary_id: &str,
) -> crate::store::sql::Result<Vec<String>> {
    let rows = crate::store::sql::query(
        "DELETE FROM document_files WHERE instance_id = $1 AND summary_id = $2 RETURNING storage_key",
    )
    .bind(instance_id)
    .bind(summary_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(keys(rows))
}

/// Deletes the rows of every file of a patient (when the patient is deleted); returns
/// their storage keys.
pub async fn delete_for_patient(
    tx: &mut Tx,
    instance_id: &str,
    patient_id: &str,
) -> crate::store::sql::Result<Vec<String>> {
    let rows = crate::store::sql::query(
        "DELETE FROM document_files WHERE instance_id = $1 AND patient_id = $2 RETURNING storage_key",
    )
    .bind(instance_id)
    .bind(patient_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(keys(rows))
}

impl Db {
    /// One file of a summary: its metadata.
    pub async fn document_file(
        &self,
        instance_id: &str,
        patient_id: &str,
        summary_id: &str,
        id: &str,
    ) -> crate::store::sql::Result<Option<DocumentFile>> {
        let row = crate::store::sql::query(
            "SELECT id, storage_key, content_type, original_name, size FROM document_files \
             WHERE instance_id = $1 AND patient_id = $2 AND summary_id = $3 AND id = $4",
        )
        .bind(instance_id)
        .bind(patient_id)
        .bind(summary_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| DocumentFile {
            id: r.get("id"),
            original_name: r.get("original_name"),
            size: r.get("size"),
            content_type: r.get("content_type"),
            storage_key: r.get("storage_key"),
        }))
    }
}
