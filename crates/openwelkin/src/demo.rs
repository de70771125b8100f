//! `serve --demo`: tenant `demo` with instances `live` and `sandbox`, an all-access API
//! client, and a few users and patients. Idempotent: run it on every start.

use crate::auth::policy::Policy;
use crate::auth::secrets;
use crate::clock::Clock;
use crate::domain::patient::Patient;
use crate::domain::user::User;
use crate::events::audit::{Actor, AuditRecord, DataEvent, Operation};
use crate::store::audit::record_write;
use crate::store::clients::{InstanceGrant, NewClient};
use crate::store::{patients, users, Db};
use serde_json::json;

pub const TENANT: &str = "demo";
pub const CLIENT: &str = "DEMOAPICLIENT";
/// The demo secret is public on purpose (README): the demo is for trying the API. Set
/// `OPENWELKIN_DEMO_SECRET` to choose another when the demo client is first created.
pub const DEFAULT_SECRET: &str = "demo-secret";

/// Whether `secret` is the demo's public one: good for a token only while `serve --demo`
/// runs (`api::token`), whichever client has it.
pub fn is_public_secret(secret: &str) -> bool {
    secret == DEFAULT_SECRET
}

/// The demo client of a database that once ran `--demo`, when it is enabled and its
/// secret is still the public one.
pub async fn client_with_public_secret(db: &Db) -> anyhow::Result<Option<crate::store::clients::ApiClient>> {
    let Some(tenant) = db.tenant_by_name(TENANT).await? else { return Ok(None) };
    let Some(client) = db.client_by_name(&tenant.id, CLIENT).await?.filter(|c| c.enabled) else { return Ok(None) };
    let hash = client.secret_hash.clone();
    // argon2 takes tens of milliseconds: off the runtime's threads.
    let public = tokio::task::spawn_blocking(move || secrets::verify(DEFAULT_SECRET, &hash)).await?;
    Ok(public.then_some(client))
}

/// The sample designer folder (`designer/demo` in the repository), built into the binary.
static DESIGNER: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/../../designer/demo");

/// The built-in demo designer, read from a copy of the embedded folder.
pub fn designer() -> anyhow::Result<crate::designer::Designer> {
    let dir = std::env::temp_dir().join(format!("openwelkin-demo-designer-{}", crate::ids::new_id()));
    DESIGNER.extract(&dir)?;
    let loaded = crate::designer::Designer::load_dir(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    loaded.map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the built-in demo designer has errors:\n{}", lines.join("\n"))
    })
}

/// Ensures the demo data; with `with_designer`, also publishes the built-in designer.
pub async fn ensure(db: &Db, clock: &Clock, with_designer: bool) -> anyhow::Result<()> {
    let tenant = db.ensure_tenant(TENANT, clock.now_ms()).await?;
    let live = db.ensure_instance(&tenant.id, "live", "Production data", clock.now_ms()).await?;
    let sandbox = db.ensure_instance(&tenant.id, "sandbox", "Sandbox for integration tests", clock.now_ms()).await?;
    if with_designer {
        crate::provision::apply_designer(db, clock, TENANT, &designer()?, None).await?;
    }
    if db.client_by_name(&tenant.id, CLIENT).await?.is_none() {
        let secret = std::env::var("OPENWELKIN_DEMO_SECRET").unwrap_or_else(|_| DEFAULT_SECRET.to_string());
        let new = NewClient {
            id: crate::ids::new_id(),
            tenant_id: &tenant.id,
            name: CLIENT,
            secret_hash: secrets::hash(&secret),
            policy: &Policy::all_access(),
            instances: &InstanceGrant::All,
        };
        db.create_client(new, clock.now_ms()).await?;
        println!("demo API client created: tenant {TENANT}, client {CLIENT}, secret {secret}");
    } else {
        println!("demo API client: tenant {TENANT}, client {CLIENT} (secret as when first created; default {DEFAULT_SECRET})");
    }

    let actor = Actor::system();
    let (_, user_count) = db.users(&tenant.id, &Default::default(), &[], 0, 1).await?;
    let mut care_team = Vec::new();
    if user_count == 0 {
        let mut tx = db.begin().await?;
        for (username, first, last) in
            [("dr.house", "Gregory", "House"), ("nurse.joy", "Joy", "Nakamura"), ("coach.lee", "Sam", "Lee")]
        {
            let now_ms = clock.now_ms();
            let mut user = User::blank(crate::ids::new_id(), &crate::time::format_ms(now_ms), &actor.full_name());
            let body = json!({"username": username, "email": format!("{username}@demo.openwelkin.test"),
                              "firstName": first, "lastName": last, "userState": "ACTIVE", "enabled": true, "seats": ["GENERAL"]});
            user.apply(body.as_object().expect("object"), true).map_err(|e| anyhow::anyhow!("demo user: {e}"))?;
            users::insert(&mut tx, &tenant.id, &user, now_ms).await?;
            audit(
                &mut tx,
                &tenant.id,
                None,
                "USER",
                &actor,
                &user.id,
                None,
                (&serde_json::to_value(&user)?).into(),
                now_ms,
            )
            .await?;
            care_team.push(user.id);
        }
        tx.commit().await?;
    }

    for instance in [&live, &sandbox] {
        let (_, count) = db.patients(&instance.id, &Default::default(), &[], 0, 1).await?;
        if count > 0 {
            continue;
        }
        let mut tx = db.begin().await?;
        for (i, (first, last, tz, phone)) in [
            ("Charlie", "Taylor", "America/Los_Angeles", "+15556491369"),
            ("Maria", "Garcia", "America/New_York", "+12125550143"),
            ("Aiko", "Tanaka", "America/Chicago", "+13125550178"),
            ("Noah", "Smith", "UTC", "+16175550110"),
            ("Fatima", "Khan", "Europe/London", "+442071838750"),
        ]
        .into_iter()
        .enumerate()
        {
            let now_ms = clock.now_ms();
            let mut p =
                Patient::blank(crate::ids::new_id(), &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
            let mut body = json!({"firstName": first, "lastName": last, "timezone": tz, "phone": phone,
                                  "email": format!("{}.{}@example.org", first.to_lowercase(), last.to_lowercase()),
                                  "externalId": format!("demo-{}", i + 1), "birthDate": format!("19{}-0{}-1{}", 60 + i * 7, i + 1, i)});
            if let Some(id) = care_team.get(i % care_team.len().max(1)) {
                body["careTeam"] = json!([{"id": id, "pointOfContact": true}]);
            }
            p.apply(body.as_object().expect("object"), true).map_err(|e| anyhow::anyhow!("demo patient: {e}"))?;
            let stored = patients::stored_body(&p);
            patients::insert(&mut tx, &tenant.id, &instance.id, &p, &stored, now_ms, patients::Send::Now).await?;
            audit(
                &mut tx,
                &tenant.id,
                Some(&instance.name),
                "PATIENT",
                &actor,
                &p.id,
                Some((&p.id, p.full_name())),
                AuditRecord::Text(&stored),
                now_ms,
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn audit(
    tx: &mut crate::store::Tx,
    tenant_id: &str,
    instance: Option<&str>,
    entity: &'static str,
    actor: &Actor,
    record_id: &str,
    patient: Option<(&str, String)>,
    record: AuditRecord<'_>,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    let event = DataEvent {
        tenant_id,
        instance,
        entity,
        operation: Operation::Create,
        actor,
        record_id,
        patient_id: patient.as_ref().map(|p| p.0),
        patient_full_name: patient.map(|p| p.1),
        cdt_name: None,
        cdt_relation: None,
        record,
        subtype: None,
    };
    record_write(tx, &event, now_ms).await
}
