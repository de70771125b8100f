//! Formation versions of an instance: numbered, immutable published versions and one
//! editable draft. Published versions are cached in the process by (instance, version):
//! they never change, so the cache is right on every node.

use super::{Db, Tx};
use crate::designer::Designer;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Parsed published versions by (instance id, version).
type Versions = HashMap<(String, i64), Arc<Designer>>;

#[derive(Clone, Default)]
pub struct FormationCache(Arc<Mutex<Versions>>);

const CACHE_LIMIT: usize = 512;

impl FormationCache {
    fn get(&self, instance_id: &str, version: i64) -> Option<Arc<Designer>> {
        self.0.lock().expect("cache lock").get(&(instance_id.to_string(), version)).cloned()
    }

    fn put(&self, instance_id: &str, version: i64, designer: Arc<Designer>) {
        let mut map = self.0.lock().expect("cache lock");
        if map.len() >= CACHE_LIMIT {
            map.clear();
        }
        map.insert((instance_id.to_string(), version), designer);
    }
}

/// A formation as read: its version number (0 before anything was published) and content.
#[derive(Clone)]
pub struct Formation {
    pub version: i64,
    pub designer: Arc<Designer>,
}

fn parse(body: &str) -> Designer {
    serde_json::from_str(body).expect("stored formations are written by this server")
}

impl Db {
    /// The latest published version number, 0 when none.
    pub async fn current_version(&self, instance_id: &str) -> crate::store::sql::Result<i64> {
        let row =
            crate::store::sql::query("SELECT COALESCE(MAX(version), 0) AS v FROM formations WHERE instance_id = $1")
                .bind(instance_id)
                .fetch_one(self.reader())
                .await?;
        Ok(row.get("v"))
    }

    /// A published version (0 is the empty formation every instance starts with).
    pub async fn formation(&self, instance_id: &str, version: i64) -> crate::store::sql::Result<Option<Formation>> {
        if version == 0 {
            return Ok(Some(Formation { version, designer: Arc::new(Designer::default()) }));
        }
        if let Some(designer) = self.formation_cache.get(instance_id, version) {
            crate::store::config_cache::lookup("formation", true);
            return Ok(Some(Formation { version, designer }));
        }
        crate::store::config_cache::lookup("formation", false);
        let row = crate::store::sql::query("SELECT body FROM formations WHERE instance_id = $1 AND version = $2")
            .bind(instance_id)
            .bind(version)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(|r| {
            let designer = Arc::new(parse(&r.get::<String, _>("body")));
            self.formation_cache.put(instance_id, version, designer.clone());
            Formation { version, designer }
        }))
    }

    pub async fn current_formation(&self, instance_id: &str) -> crate::store::sql::Result<Formation> {
        let version = self.current_version(instance_id).await?;
        Ok(self.formation(instance_id, version).await?.expect("the current version exists"))
    }

    /// The draft: its own row if it was edited since the last publish, else the current
    /// version. Its `version` is the one it was based on.
    pub async fn draft_formation(&self, instance_id: &str) -> crate::store::sql::Result<Formation> {
        let row = crate::store::sql::query("SELECT base_version, body FROM formation_drafts WHERE instance_id = $1")
            .bind(instance_id)
            .fetch_optional(self.reader())
            .await?;
        match row {
            Some(r) => {
                Ok(Formation { version: r.get("base_version"), designer: Arc::new(parse(&r.get::<String, _>("body"))) })
            }
            None => self.current_formation(instance_id).await,
        }
    }

    /// Published version numbers, newest first.
    pub async fn formation_versions(&self, instance_id: &str) -> crate::store::sql::Result<Vec<(i64, i64, String)>> {
        let rows = crate::store::sql::query(
            "SELECT version, published_at, published_by FROM formations WHERE instance_id = $1 ORDER BY version DESC",
        )
        .bind(instance_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.iter().map(|r| (r.get("version"), r.get("published_at"), r.get("published_by"))).collect())
    }
}

/// Takes the write lock of an instance's formation (its draft and its versions) until the
/// transaction ends. The draft has no row until it is first edited after a publish, so
/// its row alone cannot be locked; on PostgreSQL this is a transaction-scoped advisory
/// lock, on SQLite the single writer connection already runs write transactions one at a
/// time.
async fn lock(tx: &mut Tx, instance_id: &str) -> crate::store::sql::Result<()> {
    tx.lock_name(&format!("formation:{instance_id}")).await
}

/// The draft as stored inside a write transaction (to edit or publish it from its latest
/// state), with the instance's formation locked until the transaction ends; `None` when
/// the draft is the current version. Read the current version only after this.
pub async fn draft_for_update(tx: &mut Tx, instance_id: &str) -> crate::store::sql::Result<Option<(i64, Designer)>> {
    lock(tx, instance_id).await?;
    let sql = format!("SELECT base_version, body FROM formation_drafts WHERE instance_id = $1{}", tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| (r.get("base_version"), parse(&r.get::<String, _>("body")))))
}

pub async fn save_draft(
    tx: &mut Tx,
    instance_id: &str,
    base_version: i64,
    designer: &Designer,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO formation_drafts (instance_id, base_version, body, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (instance_id) DO UPDATE SET base_version = excluded.base_version, body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(instance_id)
    .bind(base_version)
    .bind(serde_json::to_string(designer).expect("designer serializes"))
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Drops the draft's own row, so that the draft is the current version again; false when
/// it had none (nothing was edited since the last publish). Call after `draft_for_update`.
pub async fn discard_draft(tx: &mut Tx, instance_id: &str) -> crate::store::sql::Result<bool> {
    let done = crate::store::sql::query("DELETE FROM formation_drafts WHERE instance_id = $1")
        .bind(instance_id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Publishes `designer` as the next version and clears the draft. Returns the version.
pub async fn publish(
    tx: &mut Tx,
    instance_id: &str,
    designer: &Designer,
    by: &str,
    now_ms: i64,
) -> crate::store::sql::Result<i64> {
    // Two publishes at once would both take MAX(version) + 1.
    lock(tx, instance_id).await?;
    let next: i64 =
        crate::store::sql::query("SELECT COALESCE(MAX(version), 0) + 1 AS v FROM formations WHERE instance_id = $1")
            .bind(instance_id)
            .fetch_one(&mut **tx)
            .await?
            .get("v");
    crate::store::sql::query(
        "INSERT INTO formations (instance_id, version, body, published_at, published_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(instance_id)
    .bind(next)
    .bind(serde_json::to_string(designer).expect("designer serializes"))
    .bind(now_ms)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    crate::store::sql::query("DELETE FROM formation_drafts WHERE instance_id = $1")
        .bind(instance_id)
        .execute(&mut **tx)
        .await?;
    Ok(next)
}
