//! Emulator resets and snapshots: whole-instance operations over every table that holds
//! instance data. The tables are found in the schema at run time (every one with an
//! `instance_id` column), so a table added by a later migration is reset and snapshotted
//! without anyone remembering to list it here; only the exceptions are named.
//!
//! A snapshot copies the instance's rows into shadow tables `emu_snap_<table>` (created
//! on the first snapshot, one extra `snapshot_id` column), so saving and restoring are
//! set-based `INSERT … SELECT`s inside one transaction on either backend.

use super::{Backend, Db, Tx};
use crate::store::tenants::Instance;

/// Instance configuration rather than data: kept by a reset and not part of a snapshot.
/// (The formation and its draft, webhook and chat-webhook settings, messaging templates,
/// sending lines and dictionaries are set up by the designer or an administrator.)
const CONFIGURATION: &[&str] = &[
    "instances",
    "formations",
    "formation_drafts",
    "webhook_activations",
    "chat_webhooks",
    "messaging_templates",
    "communication_ids",
    "dictionary_records",
    "emulator_snapshots",
];

/// Delivery state: cleared by a reset and a restore, never snapshotted (a restored
/// instance must not replay deliveries of events it no longer has).
const DELIVERY_STATE: &[&str] = &["webhook_deliveries"];

/// Derived from other rows (the per-instance patient count of migration 0015): deleted
/// with the instance's rows but neither counted as a record nor snapshotted, because a
/// restore rebuilds them as it inserts the rows back (PostgreSQL's triggers;
/// `patients::note_copied_patients` on SQLite).
const DERIVED: &[&str] = &["patient_counts"];

/// Tables a snapshot does not copy.
fn not_snapshotted(table: &str) -> bool {
    DELIVERY_STATE.contains(&table) || DERIVED.contains(&table)
}

const SHADOW_PREFIX: &str = "emu_snap_";

/// One table of instance data and its columns in schema order.
#[derive(Clone, Debug)]
pub struct DataTable {
    pub name: String,
    pub columns: Vec<String>,
}

/// What a reset or restore removed, for the response and the file cleanup.
#[derive(Debug, Default)]
pub struct Cleared {
    pub rows: u64,
    /// Storage keys of document files whose rows are gone; remove them after the commit.
    pub file_keys: Vec<String>,
}

#[derive(Debug)]
pub struct SnapshotInfo {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub rows: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("no snapshot named {0:?} in this instance")]
    NotFound(String),
    #[error("snapshot {0:?} was taken with another database schema and cannot be restored")]
    SchemaChanged(String),
    #[error(transparent)]
    Db(#[from] crate::store::sql::Error),
}

fn quote(ident: &str) -> String {
    // Identifiers come from the schema itself, never from a request; quoting still keeps
    // a keyword-named column working.
    format!("\"{}\"", ident.replace('"', "\"\""))
}

async fn columns_of(tx: &mut Tx, backend: Backend, table: &str) -> crate::store::sql::Result<Vec<String>> {
    let sql = match backend {
        Backend::Sqlite => "SELECT name FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    let rows = crate::store::sql::query(sql).bind(table).fetch_all(&mut **tx).await?;
    Ok(rows.iter().map(|r| r.get::<String, _>("name")).collect())
}

/// Every table with an `instance_id` column, shadow tables and configuration excluded.
async fn instance_tables(tx: &mut Tx, backend: Backend) -> crate::store::sql::Result<Vec<DataTable>> {
    let mut tables = Vec::new();
    for name in instance_table_names(tx, backend).await? {
        let columns = columns_of(tx, backend, &name).await?;
        tables.push(DataTable { name, columns });
    }
    Ok(tables)
}

/// The names of `instance_tables`, in one query.
async fn instance_table_names(tx: &mut Tx, backend: Backend) -> crate::store::sql::Result<Vec<String>> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT m.name AS name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'instance_id' ORDER BY m.name"
        }
        Backend::Postgres => {
            "SELECT CAST(c.table_name AS TEXT) AS name FROM information_schema.columns c \
             JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND c.column_name = 'instance_id' \
             AND t.table_type = 'BASE TABLE' ORDER BY c.table_name"
        }
    };
    let rows = crate::store::sql::query(sql).fetch_all(&mut **tx).await?;
    Ok(rows
        .iter()
        .map(|r| r.get::<String, _>("name"))
        .filter(|name| !name.starts_with(SHADOW_PREFIX) && !CONFIGURATION.contains(&name.as_str()))
        .collect())
}

/// On PostgreSQL, snapshot operations take one cluster-wide transaction lock: they may
/// create shadow tables, and two transactions creating the same table at once would fail.
async fn lock_snapshots(tx: &mut Tx, backend: Backend) -> crate::store::sql::Result<()> {
    if backend == Backend::Postgres {
        crate::store::sql::query("SELECT pg_advisory_xact_lock(7244083910417371226)").execute(&mut **tx).await?;
    }
    Ok(())
}

async fn document_keys(tx: &mut Tx, instance_id: &str) -> crate::store::sql::Result<Vec<String>> {
    let rows = crate::store::sql::query("SELECT storage_key FROM document_files WHERE instance_id = $1")
        .bind(instance_id)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.iter().map(|r| r.get::<String, _>("storage_key")).collect())
}

/// Deletes the instance's data rows, its pending outbox events and deliveries (a
/// restore does this before copying the snapshot in).
async fn clear_instance(tx: &mut Tx, backend: Backend, instance: &Instance) -> crate::store::sql::Result<Cleared> {
    // Events first: on PostgreSQL this waits for a webhook fan-out that holds some of them
    // to commit, so the deliveries it made are there to be deleted below (read committed
    // sees them), and no event of a deleted record is delivered after the reset.
    crate::store::sql::query("DELETE FROM event_outbox WHERE tenant_id = $1 AND instance_name = $2")
        .bind(&instance.tenant_id)
        .bind(&instance.name)
        .execute(&mut **tx)
        .await?;
    let file_keys = document_keys(tx, &instance.id).await?;
    Ok(Cleared { rows: delete_rows_of(tx, backend, &instance.id).await?, file_keys })
}

/// Deletes every data row under an instance id; returns how many went.
async fn delete_rows_of(tx: &mut Tx, backend: Backend, instance_id: &str) -> crate::store::sql::Result<u64> {
    let mut rows = 0;
    for table in instance_table_names(tx, backend).await? {
        let sql = format!("DELETE FROM {} WHERE instance_id = $1", quote(&table));
        let done = crate::store::sql::query(&sql).bind(instance_id).execute(&mut **tx).await?.rows_affected();
        if !DERIVED.contains(&table.as_str()) {
            rows += done;
        }
    }
    Ok(rows)
}

impl Db {
    /// The live instance named `name`, read inside the transaction and locked until it
    /// ends: resets, snapshots and restores of one instance run one after the other, each
    /// on the instance as the one before left it (a reset gives it a new id). `None` when
    /// the tenant has no such instance.
    pub async fn lock_instance(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        name: &str,
    ) -> crate::store::sql::Result<Option<Instance>> {
        let sql = format!(
            "SELECT id, tenant_id, name, description FROM instances \
             WHERE tenant_id = $1 AND name = $2 AND retired_at IS NULL{}",
            tx.lock_rows()
        );
        // On PostgreSQL a row a concurrent reset retired while this waited for its lock is
        // skipped, and the row that took its name was not yet visible to the statement; a
        // second statement sees it.
        for _ in 0..8 {
            if let Some(r) = crate::store::sql::query(&sql).bind(tenant_id).bind(name).fetch_optional(&mut **tx).await?
            {
                return Ok(Some(Instance {
                    id: r.get("id"),
                    tenant_id: r.get("tenant_id"),
                    name: r.get("name"),
                    description: r.get("description"),
                }));
            }
            if self.backend == Backend::Sqlite {
                break;
            }
        }
        Ok(None)
    }

    /// Empties an instance at once, whatever it holds: a new instances row takes over its
    /// name and configuration, and the old row is retired with the records still under its
    /// id, invisible to every lookup (which goes by name to live rows). `sweep_retired`
    /// deletes them afterwards, in batches. Returns the instance as it now is and how many
    /// records it held. The caller bumps `config_version` before it commits (once, after
    /// every instance lock it takes).
    pub async fn reset_instance(
        &self,
        tx: &mut Tx,
        instance: &Instance,
        now_ms: i64,
    ) -> crate::store::sql::Result<(Instance, u64)> {
        // Events first: on PostgreSQL this waits for a webhook fan-out that holds some of
        // them, so no event of a reset record is delivered after the reset.
        crate::store::sql::query("DELETE FROM event_outbox WHERE tenant_id = $1 AND instance_name = $2")
            .bind(&instance.tenant_id)
            .bind(&instance.name)
            .execute(&mut **tx)
            .await?;
        // One round trip for the count: a reset's time should not grow with the schema.
        let counts: Vec<String> = instance_table_names(tx, self.backend)
            .await?
            .iter()
            .filter(|t| !DERIVED.contains(&t.as_str()))
            .map(|t| format!("(SELECT COUNT(*) FROM {} WHERE instance_id = $1)", quote(t)))
            .collect();
        let sql = format!("SELECT CAST({} AS BIGINT) AS n", counts.join(" + "));
        let rows =
            crate::store::sql::query(&sql).bind(&instance.id).fetch_one(&mut **tx).await?.get::<i64, _>("n") as u64;
        let fresh = Instance { id: crate::ids::new_id(), ..instance.clone() };
        crate::store::sql::query("UPDATE instances SET name = $2, retired_at = $3 WHERE id = $1")
            .bind(&instance.id)
            .bind(format!("{}~retired~{}", instance.name, instance.id))
            .bind(now_ms)
            .execute(&mut **tx)
            .await?;
        crate::store::sql::query(
            "INSERT INTO instances (id, tenant_id, name, description, created_at) \
             SELECT $1, tenant_id, $2, description, created_at FROM instances WHERE id = $3",
        )
        .bind(&fresh.id)
        .bind(&instance.name)
        .bind(&instance.id)
        .execute(&mut **tx)
        .await?;
        for table in CONFIGURATION.iter().filter(|t| **t != "instances") {
            crate::store::sql::query(&format!("UPDATE {} SET instance_id = $1 WHERE instance_id = $2", quote(table)))
                .bind(&fresh.id)
                .bind(&instance.id)
                .execute(&mut **tx)
                .await?;
        }
        Ok((fresh, rows))
    }

    /// Where a record id is in use: for each table holding a row with that `id` (users
    /// and every instance table), the table and whether the row belongs to a retired
    /// instance (one a reset left for the sweep). A seed fixture checks the ids it fixes.
    pub async fn id_in_use(&self, id: &str) -> crate::store::sql::Result<Vec<(String, bool)>> {
        let mut tx = self.begin_read().await?;
        let mut parts = vec!["SELECT 'users' AS t, NULL AS instance_id FROM users WHERE id = $1".to_string()];
        for table in instance_tables(&mut tx, self.backend).await? {
            if table.columns.iter().any(|c| c == "id") {
                let name = table.name.replace('\'', "");
                parts.push(format!("SELECT '{name}' AS t, instance_id FROM {} WHERE id = $1", quote(&table.name)));
            }
        }
        let sql = format!(
            "SELECT u.t AS t, i.retired_at AS retired_at FROM ({}) u LEFT JOIN instances i ON i.id = u.instance_id",
            parts.join(" UNION ALL ")
        );
        let rows = crate::store::sql::query(&sql).bind(id).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows.iter().map(|r| (r.get("t"), r.get::<Option<i64>, _>("retired_at").is_some())).collect())
    }

    /// Retired instances whose records are still to be deleted.
    pub async fn retired_instances(&self) -> crate::store::sql::Result<Vec<String>> {
        let rows =
            crate::store::sql::query("SELECT id FROM instances WHERE retired_at IS NOT NULL ORDER BY retired_at")
                .fetch_all(self.reader())
                .await?;
        Ok(rows.iter().map(|r| r.get("id")).collect())
    }

    /// Storage keys of a retired instance's document files that no live row names (a
    /// restored snapshot may name the same key).
    pub async fn retired_file_keys(&self, retired_id: &str) -> crate::store::sql::Result<Vec<String>> {
        let rows = crate::store::sql::query(
            "SELECT DISTINCT storage_key FROM document_files d WHERE instance_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM document_files o WHERE o.storage_key = d.storage_key AND o.instance_id <> $1)",
        )
        .bind(retired_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.iter().map(|r| r.get("storage_key")).collect())
    }

    /// Deletes up to `limit` rows of a retired instance from each table, in one short
    /// transaction; returns how many went (0 when it is empty), and then drops its row.
    pub async fn sweep_retired_batch(&self, retired_id: &str, limit: i64) -> crate::store::sql::Result<u64> {
        let mut tx = self.begin_bulk().await?;
        let row_id = match self.backend {
            Backend::Sqlite => "rowid",
            Backend::Postgres => "ctid",
        };
        let mut deleted = 0;
        for table in instance_table_names(&mut tx, self.backend).await? {
            let t = quote(&table);
            let sql = format!(
                "DELETE FROM {t} WHERE {row_id} IN (SELECT {row_id} FROM {t} WHERE instance_id = $1 LIMIT {limit})"
            );
            deleted += crate::store::sql::query(&sql).bind(retired_id).execute(&mut *tx).await?.rows_affected();
        }
        if deleted == 0 {
            crate::store::sql::query("DELETE FROM instances WHERE id = $1 AND retired_at IS NOT NULL")
                .bind(retired_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// Deletes the tenant's users (instance data is reset per instance by the caller).
    pub async fn reset_tenant_users(&self, tx: &mut Tx, tenant_id: &str) -> crate::store::sql::Result<u64> {
        Ok(crate::store::sql::query("DELETE FROM users WHERE tenant_id = $1")
            .bind(tenant_id)
            .execute(&mut **tx)
            .await?
            .rows_affected())
    }

    /// Saves the instance's data under `name`, replacing an earlier snapshot of that
    /// name. Returns the snapshot and the storage keys of the document files it holds.
    pub async fn save_snapshot(
        &self,
        tx: &mut Tx,
        instance: &Instance,
        name: &str,
        now_ms: i64,
    ) -> crate::store::sql::Result<(SnapshotInfo, Vec<String>)> {
        lock_snapshots(tx, self.backend).await?;
        if let Some(old) = snapshot_id(tx, &instance.id, name).await? {
            drop_snapshot_rows(tx, self.backend, &old).await?;
        }
        let tables = instance_tables(tx, self.backend).await?;
        discard_stale_snapshots(tx, self.backend, &tables).await?;
        let id = crate::ids::new_id();
        let mut rows = 0i64;
        for table in tables {
            if not_snapshotted(&table.name) {
                continue;
            }
            let shadow = ensure_shadow(tx, self.backend, &table).await?;
            let cols = table.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "INSERT INTO {shadow} (snapshot_id, {cols}) SELECT $1, {cols} FROM {} WHERE instance_id = $2{}",
                quote(&table.name),
                insert_order(self.backend)
            );
            rows +=
                crate::store::sql::query(&sql).bind(&id).bind(&instance.id).execute(&mut **tx).await?.rows_affected()
                    as i64;
        }
        crate::store::sql::query(
            "INSERT INTO emulator_snapshots (id, instance_id, name, row_count, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&instance.id)
        .bind(name)
        .bind(rows)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
        let keys = document_keys(tx, &instance.id).await?;
        Ok((SnapshotInfo { id, name: name.to_string(), created_at: now_ms, rows }, keys))
    }

    /// Replaces the instance's data with the snapshot's. Returns what the restore
    /// removed (whose files may go) and the snapshot (whose files must come back).
    pub async fn restore_snapshot(
        &self,
        tx: &mut Tx,
        instance: &Instance,
        name: &str,
    ) -> Result<(Cleared, SnapshotInfo, Vec<String>), SnapshotError> {
        lock_snapshots(tx, self.backend).await?;
        let info = self
            .snapshots_in(tx, &instance.id)
            .await?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| SnapshotError::NotFound(name.to_string()))?;
        let mut cleared = clear_instance(tx, self.backend, instance).await?;
        // Rows of a reset not yet swept carry the ids the snapshot brings back: they go now.
        let retired =
            crate::store::sql::query("SELECT id FROM instances WHERE tenant_id = $1 AND retired_at IS NOT NULL")
                .bind(&instance.tenant_id)
                .fetch_all(&mut **tx)
                .await?;
        for id in retired.iter().map(|r| r.get::<String, _>("id")) {
            cleared.file_keys.extend(document_keys(tx, &id).await?);
            cleared.rows += delete_rows_of(tx, self.backend, &id).await?;
        }
        for table in instance_tables(tx, self.backend).await? {
            if not_snapshotted(&table.name) {
                continue;
            }
            let shadow = format!("{SHADOW_PREFIX}{}", table.name);
            let mut shadow_cols = columns_of(tx, self.backend, &shadow).await?;
            if shadow_cols.is_empty() {
                // A table added after every snapshot so far: the snapshot had no rows in it.
                continue;
            }
            shadow_cols.retain(|c| c != "snapshot_id");
            if shadow_cols != table.columns {
                return Err(SnapshotError::SchemaChanged(name.to_string()));
            }
            let cols = table.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
            // The instance may have a new id since the snapshot (a reset gives it one).
            let values = table
                .columns
                .iter()
                .map(|c| if c == "instance_id" { "$2".to_string() } else { quote(c) })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO {} ({cols}) SELECT {values} FROM {} WHERE snapshot_id = $1{}",
                quote(&table.name),
                quote(&shadow),
                insert_order(self.backend)
            );
            crate::store::sql::query(&sql).bind(&info.id).bind(&instance.id).execute(&mut **tx).await?;
        }
        crate::store::patients::note_copied_patients(tx, &instance.id).await?;
        let keys = document_keys(tx, &instance.id).await?;
        Ok((cleared, info, keys))
    }

    pub async fn snapshots_in(&self, tx: &mut Tx, instance_id: &str) -> crate::store::sql::Result<Vec<SnapshotInfo>> {
        let rows = crate::store::sql::query(
            "SELECT id, name, created_at, row_count FROM emulator_snapshots WHERE instance_id = $1 ORDER BY name",
        )
        .bind(instance_id)
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows
            .iter()
            .map(|r| SnapshotInfo {
                id: r.get("id"),
                name: r.get("name"),
                created_at: r.get("created_at"),
                rows: r.get("row_count"),
            })
            .collect())
    }

    /// Deletes a snapshot; returns its id (for its files) or `None` when there is none.
    pub async fn delete_snapshot(
        &self,
        tx: &mut Tx,
        instance_id: &str,
        name: &str,
    ) -> crate::store::sql::Result<Option<String>> {
        lock_snapshots(tx, self.backend).await?;
        let Some(id) = snapshot_id(tx, instance_id, name).await? else { return Ok(None) };
        drop_snapshot_rows(tx, self.backend, &id).await?;
        Ok(Some(id))
    }
}

async fn snapshot_id(tx: &mut Tx, instance_id: &str, name: &str) -> crate::store::sql::Result<Option<String>> {
    let row = crate::store::sql::query("SELECT id FROM emulator_snapshots WHERE instance_id = $1 AND name = $2")
        .bind(instance_id)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| r.get("id")))
}

async fn drop_snapshot_rows(tx: &mut Tx, backend: Backend, id: &str) -> crate::store::sql::Result<()> {
    for table in instance_table_names(tx, backend).await? {
        let shadow = format!("{SHADOW_PREFIX}{table}");
        if columns_of(tx, backend, &shadow).await?.is_empty() {
            continue;
        }
        crate::store::sql::query(&format!("DELETE FROM {} WHERE snapshot_id = $1", quote(&shadow)))
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    crate::store::sql::query("DELETE FROM emulator_snapshots WHERE id = $1").bind(id).execute(&mut **tx).await?;
    Ok(())
}

/// On SQLite, rows are copied to and from a snapshot in the order they were inserted, so
/// that a restored instance keeps it: its rowids are new, and patients with the same value
/// of a sorted field are listed in rowid order (`store::patients`). PostgreSQL's patients
/// carry that order in a column of their own (`seq`), which is copied with the rest.
fn insert_order(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => " ORDER BY rowid",
        Backend::Postgres => "",
    }
}

/// Creates the shadow table of `table` when missing: the same columns (no constraints,
/// so rows of several snapshots live side by side) plus `snapshot_id`. The caller has
/// made sure an existing shadow matches (see `discard_stale_snapshots`).
async fn ensure_shadow(tx: &mut Tx, backend: Backend, table: &DataTable) -> crate::store::sql::Result<String> {
    let shadow = format!("{SHADOW_PREFIX}{}", table.name);
    let quoted = quote(&shadow);
    if columns_of(tx, backend, &shadow).await?.is_empty() {
        let cols = table.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
        crate::store::sql::query(&format!(
            "CREATE TABLE {quoted} AS SELECT CAST('' AS TEXT) AS snapshot_id, {cols} FROM {} WHERE 1 = 0",
            quote(&table.name)
        ))
        .execute(&mut **tx)
        .await?;
        crate::store::sql::query(&format!(
            "CREATE INDEX {} ON {quoted} (snapshot_id)",
            quote(&format!("{shadow}_by_snapshot"))
        ))
        .execute(&mut **tx)
        .await?;
    }
    Ok(quoted)
}

/// After a migration changed a data table, the snapshots taken before it cannot be
/// restored whole; rather than keep snapshots that would restore part of an instance,
/// every snapshot and shadow table goes (the next snapshot starts afresh).
async fn discard_stale_snapshots(tx: &mut Tx, backend: Backend, tables: &[DataTable]) -> crate::store::sql::Result<()> {
    let mut stale = false;
    for table in tables {
        let existing = columns_of(tx, backend, &format!("{SHADOW_PREFIX}{}", table.name)).await?;
        stale |= !existing.is_empty() && existing[1..] != table.columns[..];
    }
    if !stale {
        return Ok(());
    }
    tracing::warn!("the schema changed since the emulator snapshots were taken; discarding them");
    for table in tables {
        let shadow = format!("{SHADOW_PREFIX}{}", table.name);
        if !columns_of(tx, backend, &shadow).await?.is_empty() {
            crate::store::sql::query(&format!("DROP TABLE {}", quote(&shadow))).execute(&mut **tx).await?;
        }
    }
    crate::store::sql::query("DELETE FROM emulator_snapshots").execute(&mut **tx).await?;
    Ok(())
}
