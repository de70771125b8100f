//! Reset and snapshots of an instance's data. Each operation is one transaction with its
//! security audit row; document files follow after the commit (a snapshot keeps its own
//! copies under `emulator-snapshots/<snapshot id>/`, so a restore brings back the bytes
//! of documents deleted since).

use super::{bad_input, not_found};
use crate::clock::Clock;
use crate::events::audit::{Actor, SecurityEvent};
use crate::files::FileStore;
use crate::services::error::{ServiceError, ServiceResult};
use crate::store::audit::record_security_event_in;
use crate::store::tenants::{Instance, Tenant};
use crate::store::{Db, Tx};
use serde_json::{json, Value};

/// Held by a restore and by the sweep's file removal, so that the sweep never removes a
/// file that a restore is bringing back (both run in the serving process).
static FILES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where a snapshot keeps its copies of the instance's document files.
fn snapshot_files(snapshot_id: &str) -> String {
    format!("emulator-snapshots/{snapshot_id}")
}

/// The database, clock and file store an emulator operation works on.
#[derive(Clone)]
pub struct Target {
    pub db: Db,
    pub clock: Clock,
    pub files: FileStore,
    /// Who is named in the security audit of each operation (the system for the CLI and
    /// the `/_emulator/` routes, the operator for the console).
    pub actor: Actor,
}

pub async fn tenant(db: &Db, name: &str) -> ServiceResult<Tenant> {
    db.tenant_by_name(name).await?.ok_or_else(|| not_found(format!("no tenant named {name:?}")))
}

fn no_instance(tenant: &Tenant, name: &str) -> ServiceError {
    not_found(format!("no instance named {name:?} in tenant {:?}", tenant.name))
}

pub async fn instance(db: &Db, tenant: &Tenant, name: &str) -> ServiceResult<Instance> {
    db.instance_by_name(&tenant.id, name).await?.ok_or_else(|| no_instance(tenant, name))
}

/// The instance as it is inside the transaction, locked until it ends. Every operation
/// here works on this, never on an instance looked up before its transaction: a reset
/// that committed meanwhile has given the instance a new id, and the old one is retired
/// (a restore into it would be swept, a second reset of it would collide on the name).
async fn locked(db: &Db, tx: &mut Tx, tenant: &Tenant, name: &str) -> ServiceResult<Instance> {
    db.lock_instance(tx, &tenant.id, name).await?.ok_or_else(|| no_instance(tenant, name))
}

fn audit<'a>(tenant: &'a Tenant, subtype: &'static str, actor: &'a Actor, record: Value) -> SecurityEvent<'a> {
    SecurityEvent { tenant_id: &tenant.id, subtype, subject: actor, object: None, record }
}

/// Deletes the records of one instance, or with `instance: None` of every instance of
/// the tenant and the tenant's users. Configuration (formation, dictionaries, webhook
/// settings, templates, sending lines), API clients and audits stay.
///
/// The instance is empty once this returns, whatever it held: its records are retired
/// with its old id (see `Db::reset_instance`) and deleted afterwards by `sweep`, which
/// the caller runs (the server in the background, the CLI before it exits).
pub async fn reset(t: &Target, tenant_name: &str, instance_name: Option<&str>) -> ServiceResult<Value> {
    let tenant = tenant(&t.db, tenant_name).await?;
    let names: Vec<String> = match instance_name {
        Some(name) => vec![instance(&t.db, &tenant, name).await?.name],
        None => t.db.instances(&tenant.id).await?.into_iter().map(|i| i.name).collect(),
    };
    let now = t.clock.now_ms();
    let mut tx = t.db.begin().await?;
    let mut rows = 0u64;
    let mut instances = Vec::new();
    for name in &names {
        let i = locked(&t.db, &mut tx, &tenant, name).await?;
        rows += t.db.reset_instance(&mut tx, &i, now).await?.1;
        instances.push(i);
    }
    if instance_name.is_none() {
        rows += t.db.reset_tenant_users(&mut tx, &tenant.id).await?;
    }
    let names: Vec<&str> = instances.iter().map(|i| i.name.as_str()).collect();
    let record = json!({"instances": names, "users": instance_name.is_none(), "rowsDeleted": rows});
    record_security_event_in(&mut tx, &audit(&tenant, "EMULATOR_RESET", &t.actor, record), now).await?;
    // The instances have new ids: every node's cached copies go (last, see `bump`).
    crate::store::config_cache::bump(&mut tx).await?;
    tx.commit().await?;
    Ok(json!({"tenant": tenant.name, "instances": names, "rowsDeleted": rows}))
}

/// Rows deleted per table and transaction while sweeping: small enough that other
/// writers wait at most a few milliseconds between batches.
const SWEEP_BATCH: i64 = 2_000;

/// Deletes the records (and document files) of every retired instance; returns how many
/// rows went. Safe to run concurrently and to interrupt: what is left is swept next time.
pub async fn sweep(t: &Target) -> ServiceResult<u64> {
    let mut total = 0;
    for retired in t.db.retired_instances().await? {
        {
            let _files = FILES.lock().await;
            let keys = t.db.retired_file_keys(&retired).await?;
            t.files.delete_all(&keys).await;
        }
        loop {
            let n = t.db.sweep_retired_batch(&retired, SWEEP_BATCH).await?;
            total += n;
            if n == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    Ok(total)
}

/// Runs `sweep` in the background, logging the outcome.
pub fn spawn_sweep(t: Target) {
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match sweep(&t).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, ms = started.elapsed().as_millis() as u64, "swept reset instance data"),
            Err(e) => {
                tracing::warn!(error = %e, "sweeping reset instance data failed; it is retried at the next start")
            }
        }
    });
}

fn check_name(name: &str) -> ServiceResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(bad_input("a snapshot name is 1 to 100 letters, digits, '-', '_' or '.'"))
    }
}

fn view(s: &crate::store::emulator::SnapshotInfo) -> Value {
    json!({"name": s.name, "createdAt": crate::time::format_ms(s.created_at), "rows": s.rows})
}

/// Saves the instance's data as snapshot `name` (replacing one of that name).
pub async fn save(t: &Target, tenant_name: &str, instance_name: &str, name: &str) -> ServiceResult<Value> {
    check_name(name)?;
    let tenant = tenant(&t.db, tenant_name).await?;
    instance(&t.db, &tenant, instance_name).await?;
    let now = t.clock.now_ms();
    let mut tx = t.db.begin_bulk().await?;
    let instance = locked(&t.db, &mut tx, &tenant, instance_name).await?;
    let old = t.db.snapshots_in(&mut tx, &instance.id).await?.into_iter().find(|s| s.name == name);
    let (info, keys) = t.db.save_snapshot(&mut tx, &instance, name, now).await?;
    // Copies are made before the commit: a snapshot that is visible has its files.
    for key in &keys {
        t.files
            .copy(key, &format!("{}/{key}", snapshot_files(&info.id)))
            .await
            .map_err(|e| ServiceError::internal(format!("copying document file {key} into the snapshot: {e}")))?;
    }
    let record = json!({"instance": instance.name, "snapshot": name, "rows": info.rows});
    record_security_event_in(&mut tx, &audit(&tenant, "EMULATOR_SNAPSHOT_SAVED", &t.actor, record), now).await?;
    if let Err(e) = tx.commit().await {
        let _ = t.files.delete_tree(&snapshot_files(&info.id)).await;
        return Err(e.into());
    }
    if let Some(old) = old {
        let _ = t.files.delete_tree(&snapshot_files(&old.id)).await;
    }
    Ok(view(&info))
}

/// Replaces the instance's data with snapshot `name`.
pub async fn restore(t: &Target, tenant_name: &str, instance_name: &str, name: &str) -> ServiceResult<Value> {
    let tenant = tenant(&t.db, tenant_name).await?;
    instance(&t.db, &tenant, instance_name).await?;
    let now = t.clock.now_ms();
    let _files = FILES.lock().await;
    let mut tx = t.db.begin_bulk().await?;
    let instance = locked(&t.db, &mut tx, &tenant, instance_name).await?;
    let (cleared, info, restored_keys) = t.db.restore_snapshot(&mut tx, &instance, name).await?;
    // Files first: every restored document row must name a file once the restore is seen.
    for key in &restored_keys {
        let here = t
            .files
            .exists(key)
            .await
            .map_err(|e| ServiceError::internal(format!("checking document file {key}: {e}")))?;
        if !here {
            t.files
                .copy(&format!("{}/{key}", snapshot_files(&info.id)), key)
                .await
                .map_err(|e| ServiceError::internal(format!("restoring document file {key}: {e}")))?;
        }
    }
    let record = json!({"instance": instance.name, "snapshot": name, "rows": info.rows});
    record_security_event_in(&mut tx, &audit(&tenant, "EMULATOR_SNAPSHOT_RESTORED", &t.actor, record), now).await?;
    crate::store::config_cache::bump(&mut tx).await?;
    tx.commit().await?;
    let gone: Vec<String> = cleared.file_keys.into_iter().filter(|k| !restored_keys.contains(k)).collect();
    t.files.delete_all(&gone).await;
    Ok(view(&info))
}

pub async fn list(t: &Target, tenant_name: &str, instance_name: &str) -> ServiceResult<Value> {
    let tenant = tenant(&t.db, tenant_name).await?;
    instance(&t.db, &tenant, instance_name).await?;
    let mut tx = t.db.begin().await?;
    let instance = locked(&t.db, &mut tx, &tenant, instance_name).await?;
    let all = t.db.snapshots_in(&mut tx, &instance.id).await?;
    tx.commit().await?;
    Ok(json!({"snapshots": all.iter().map(view).collect::<Vec<_>>()}))
}

pub async fn delete(t: &Target, tenant_name: &str, instance_name: &str, name: &str) -> ServiceResult<()> {
    let tenant = tenant(&t.db, tenant_name).await?;
    instance(&t.db, &tenant, instance_name).await?;
    let now = t.clock.now_ms();
    let mut tx = t.db.begin_bulk().await?;
    let instance = locked(&t.db, &mut tx, &tenant, instance_name).await?;
    let id =
        t.db.delete_snapshot(&mut tx, &instance.id, name)
            .await?
            .ok_or_else(|| not_found(format!("no snapshot named {name:?} in this instance")))?;
    let record = json!({"instance": instance.name, "snapshot": name});
    record_security_event_in(&mut tx, &audit(&tenant, "EMULATOR_SNAPSHOT_DELETED", &t.actor, record), now).await?;
    tx.commit().await?;
    let _ = t.files.delete_tree(&snapshot_files(&id)).await;
    Ok(())
}
