//! The in-process copy of the configuration every authenticated request needs: tenants by
//! name, API clients by id, instances by (tenant, name).
//!
//! The database holds one counter, `config_version.v`, which every change to tenants,
//! instances and API clients increments in the same transaction as the change (`bump`).
//! A request takes the counter once (`config_version`: the copy `config_watch` keeps, or one
//! indexed single-row query) and uses a cached entry only when it was read at that same
//! counter value; otherwise it reads the row and caches it under the counter. A change made
//! through this node is seen by its very next request; one made elsewhere (the CLI, another
//! node) as soon as the copy has it: within milliseconds on PostgreSQL, 50 ms on SQLite,
//! and never later than a second whatever happens to the listener.
//!
//! Order matters: the counter is read before the rows, so a row cached under counter `v`
//! is never older than `v` (a change committed in between makes the row newer, and the
//! next request, which reads `v + 1`, reloads it). Only rows that exist are cached, so a
//! request for a name that does not exist cannot grow the cache.

use super::clients::ApiClient;
use super::sql::Conn;
use super::tenants::{Instance, Tenant};
use super::Db;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// All entries were read at `version`; a request that sees another counter value clears
/// them (so the cache holds only what was read since the last change).
#[derive(Default)]
struct Entries {
    version: Option<i64>,
    tenants: HashMap<String, Tenant>,
    clients: HashMap<String, ApiClient>,
    instances: HashMap<(String, String), Instance>,
}

/// Entries beyond this many per map are not cached (a bound, not a working size: a node
/// sees a handful of tenants, clients and instances).
const LIMIT: usize = 10_000;

#[derive(Clone, Default)]
pub struct ConfigCache(Arc<RwLock<Entries>>);

impl ConfigCache {
    fn get<T: Clone>(&self, version: i64, pick: impl FnOnce(&Entries) -> Option<&T>) -> Option<T> {
        let entries = self.0.read().unwrap_or_else(|e| e.into_inner());
        if entries.version != Some(version) {
            return None;
        }
        pick(&entries).cloned()
    }

    /// Caches a row read at `version`. When the cache holds another version, it is
    /// cleared first: a request that read a newer counter has seen a change, and one that
    /// read an older counter (it started before a change) clears it too rather than mix
    /// entries of two versions; the next request refills it.
    fn put(&self, version: i64, store: impl FnOnce(&mut Entries)) {
        let mut entries = self.0.write().unwrap_or_else(|e| e.into_inner());
        if entries.version != Some(version) {
            *entries = Entries { version: Some(version), ..Entries::default() };
        }
        store(&mut entries);
    }
}

thread_local! {
    /// This thread's handles of `openwelkin_cache_lookups_total` by (cache, hit): three
    /// lookups per request would otherwise hash their labels in the registry each time.
    static LOOKUPS: RefCell<Vec<(&'static str, bool, metrics::Counter)>> = const { RefCell::new(Vec::new()) };
}

/// Counts a lookup of an in-process cache (`openwelkin_cache_lookups_total`).
pub fn lookup(cache: &'static str, hit: bool) {
    LOOKUPS.with(|cell| {
        let mut handles = cell.borrow_mut();
        if let Some((_, _, counter)) = handles.iter().find(|(c, h, _)| *c == cache && *h == hit) {
            counter.increment(1);
            return;
        }
        let result = if hit { "hit" } else { "miss" };
        let counter = metrics::counter!(crate::telemetry::names::CACHE_LOOKUPS, "cache" => cache, "result" => result);
        counter.increment(1);
        handles.push((cache, hit, counter));
    })
}

fn bounded<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() < LIMIT || map.contains_key(&key) {
        map.insert(key, value);
    }
}

/// Increments the configuration counter. Call it in the transaction of the change, as its
/// last statement: on PostgreSQL the counter row stays locked until the commit, and taking
/// it last means a transaction holding it never waits for another lock.
///
/// It records the value written so that this process's next requests read the counter
/// until its listener (or SQLite poller) has seen that value (`config_watch`). On
/// PostgreSQL it also notifies `config_watch::CHANNEL` (delivered on commit, so every
/// node's listener reads the new counter within milliseconds), sent in the same round trip
/// as the update.
pub async fn bump(conn: &mut Conn) -> crate::store::sql::Result<()> {
    if let Some(deferred) = conn.postgres_held() {
        let notify = format!("SELECT pg_notify('{}', '')", super::config_watch::CHANNEL);
        deferred.push(crate::store::sql::query(&notify).into_deferred());
    }
    let row = crate::store::sql::query("UPDATE config_version SET v = v + 1 WHERE id = 1 RETURNING v")
        .fetch_one(conn)
        .await?;
    super::config_watch::bumped_to(row.get("v"));
    Ok(())
}

/// The counter as the database has it (one indexed single-row query).
pub(super) async fn read_counter(pool: &crate::store::sql::Pool) -> crate::store::sql::Result<i64> {
    let row = crate::store::sql::query("SELECT v FROM config_version WHERE id = 1").fetch_one(pool).await?;
    Ok(row.get("v"))
}

impl Db {
    /// The configuration counter: while `serve`'s listener (PostgreSQL) or poller (SQLite)
    /// is up to date, its copy, without a query (`config_watch`); otherwise the one query
    /// an authenticated request makes before its tenant, client and instance come from the
    /// cache.
    pub async fn config_version(&self) -> crate::store::sql::Result<i64> {
        match self.config_watch.current() {
            Some(Ok(v)) => return Ok(v),
            Some(Err(why)) => {
                metrics::counter!(crate::telemetry::names::CONFIG_FALLBACK_READS, "reason" => why.label()).increment(1)
            }
            None => {}
        }
        self.read_config_version().await
    }

    /// The configuration counter read from the database, which also moves the SQLite
    /// poller's copy forward (`ConfigWatch::saw`). A token exchange reads it before the
    /// client's row: a token issued just after a change made through the CLI is then
    /// checked against that change by the very next request.
    pub async fn read_config_version(&self) -> crate::store::sql::Result<i64> {
        let v = read_counter(self.reader()).await?;
        self.config_watch.saw(v);
        Ok(v)
    }

    /// `tenant_by_name`, from the cache when it was read at `version`.
    pub async fn tenant_at(&self, version: i64, name: &str) -> crate::store::sql::Result<Option<Tenant>> {
        if let Some(t) = self.config_cache.get(version, |e| e.tenants.get(name)) {
            lookup("tenant", true);
            return Ok(Some(t));
        }
        lookup("tenant", false);
        let tenant = self.tenant_by_name(name).await?;
        if let Some(t) = &tenant {
            self.config_cache.put(version, |e| bounded(&mut e.tenants, name.to_string(), t.clone()));
        }
        Ok(tenant)
    }

    /// `client_by_id`, from the cache when it was read at `version`.
    pub async fn client_at(&self, version: i64, id: &str) -> crate::store::sql::Result<Option<ApiClient>> {
        if let Some(c) = self.config_cache.get(version, |e| e.clients.get(id)) {
            lookup("client", true);
            return Ok(Some(c));
        }
        lookup("client", false);
        let client = self.client_by_id(id).await?;
        if let Some(c) = &client {
            self.config_cache.put(version, |e| bounded(&mut e.clients, id.to_string(), c.clone()));
        }
        Ok(client)
    }

    /// `instance_by_name`, from the cache when it was read at `version`.
    pub async fn instance_at(
        &self,
        version: i64,
        tenant_id: &str,
        name: &str,
    ) -> crate::store::sql::Result<Option<Instance>> {
        let key = (tenant_id.to_string(), name.to_string());
        if let Some(i) = self.config_cache.get(version, |e| e.instances.get(&key)) {
            lookup("instance", true);
            return Ok(Some(i));
        }
        lookup("instance", false);
        let instance = self.instance_by_name(tenant_id, name).await?;
        if let Some(i) = &instance {
            self.config_cache.put(version, |e| bounded(&mut e.instances, key, i.clone()));
        }
        Ok(instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str) -> Tenant {
        Tenant { id: format!("id-{name}"), name: name.into() }
    }

    #[test]
    fn entries_serve_only_their_version() {
        let cache = ConfigCache::default();
        cache.put(3, |e| {
            e.tenants.insert("a".into(), tenant("a"));
        });
        assert_eq!(cache.get(3, |e| e.tenants.get("a")).map(|t| t.name), Some("a".into()));
        assert!(cache.get(4, |e| e.tenants.get("a")).is_none());
        // A row read at another version replaces everything read before.
        cache.put(4, |e| {
            e.tenants.insert("b".into(), tenant("b"));
        });
        assert!(cache.get(4, |e| e.tenants.get("a")).is_none());
        assert!(cache.get(3, |e| e.tenants.get("b")).is_none());
        assert!(cache.get(4, |e| e.tenants.get("b")).is_some());
    }
}
