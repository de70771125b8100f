//! Admin: tenants and instances, API clients (secret shown once) and the security-policy
//! editor (every family × operation and admin flag, the instance grant, the policy as JSON).

use super::forms::Fields;
use super::page::{self, button, csrf, Ctx};
use crate::app::AppState;
use crate::auth::policy::{AdminFlags, Family, Op, Policy};
use crate::services::{api_clients, tenants};
use crate::store::clients::{ApiClient, InstanceGrant};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/admin", get(overview))
        .route("/console/admin/{tenant}/instances", post(create_instance))
        .route("/console/admin/{tenant}/clients", get(clients).post(create_client))
        .route("/console/admin/{tenant}/clients/{name}", get(client))
        .route("/console/admin/{tenant}/clients/{name}/access", post(set_access))
        .route("/console/admin/{tenant}/clients/{name}/enable", post(enable))
        .route("/console/admin/{tenant}/clients/{name}/disable", post(disable))
        .route("/console/admin/{tenant}/clients/{name}/rotate", post(rotate))
        .route("/console/admin/{tenant}/clients/{name}/delete", post(delete))
}

/// Every family, in the order of the policy file documentation.
pub const FAMILIES: &[Family] = &[
    Family::Patients,
    Family::Users,
    Family::Contacts,
    Family::Cdts,
    Family::Pdts,
    Family::Encounters,
    Family::Assessments,
    Family::Calls,
    Family::Sms,
    Family::Email,
    Family::Chat,
    Family::CarePlans,
    Family::Calendar,
    Family::Programs,
    Family::Tasks,
    Family::Dictionaries,
    Family::Documents,
    Family::Billing,
    Family::Formations,
    Family::Export,
    Family::Communications,
];

const OPS: &[Op] = &[Op::Read, Op::Create, Op::Update, Op::Delete, Op::All];

/// The admin flags: (field name in the policy file, what it allows).
const FLAGS: &[(&str, &str)] = &[
    ("userProvisioning", "Create, update and delete users"),
    ("userRegions", "Change users' regions and territories"),
    ("userAttributes", "Change users' custom attributes"),
    ("dataAudit", "Read the data and webhook audit"),
    ("securityAudit", "Read the security audit"),
    ("webhooks", "Activate, deactivate and test webhooks"),
];

/// The name a family or operation has in the policy file (`carePlans`, `*`).
fn wire<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

fn flag_of(flags: &AdminFlags, name: &str) -> bool {
    serde_json::to_value(flags).ok().and_then(|v| v.get(name).and_then(|b| b.as_bool())).unwrap_or(false)
}

/// The landing page: every tenant with its instances and where to go from there.
pub async fn home(State(state): State<AppState>, ctx: Ctx) -> Response {
    let list = match tenants::list(&state.db).await {
        Ok(l) => l,
        Err(e) => return page::service_error(&e),
    };
    let body = html! {
        h1 { "Console" }
        p { "Welcome, " (ctx.signed.operator.name) ". Choose what to look at in a tenant and instance." }
        div.cards {
            @for (t, instances) in &list {
                section {
                    h2 { (t.name) }
                    p { a href=(format!("/console/admin/{}/clients", t.name)) { "API clients" } " · "
                        a href=(format!("/console/audit/{}", t.name)) { "Audit" } }
                    ul {
                        @for i in instances {
                            li { strong { (i.name) } ": "
                                a href=(format!("/console/designer/{}/{}", t.name, i.name)) { "Designer" } " · "
                                a href=(format!("/console/data/{}/{}/patients", t.name, i.name)) { "Patients" }
                                @if ctx.emulator { " · " a href=(format!("/console/emulator/{}/{}", t.name, i.name)) { "Emulator" } }
                            }
                        }
                    }
                }
            }
        }
        @if list.is_empty() { p { "No tenant yet: create one with " code { "openwelkin tenants create NAME" } "." } }
    };
    page::frame(&ctx, "", "Console", body).into_response()
}

pub async fn overview(State(state): State<AppState>, ctx: Ctx) -> Response {
    let list = match tenants::list(&state.db).await {
        Ok(l) => l,
        Err(e) => return page::service_error(&e),
    };
    let body = html! {
        h1 { "Tenants and instances" }
        table {
            thead { tr { th scope="col" { "Tenant" } th scope="col" { "Instances" } th scope="col" { "API clients" } th scope="col" { "New instance" } } }
            tbody {
                @for (t, instances) in &list {
                    tr {
                        th scope="row" { (t.name) }
                        td { ul { @for i in instances { li { (i.name) @if !i.description.is_empty() { " — " (i.description) } } } } }
                        td { a href=(format!("/console/admin/{}/clients", t.name)) { "API clients of " (t.name) } }
                        td {
                            form method="post" action=(format!("/console/admin/{}/instances", t.name)) {
                                (csrf(&ctx))
                                p { label for=(format!("instance-{}", t.name)) { "Name" }
                                    input id=(format!("instance-{}", t.name)) name="name" required pattern="[A-Za-z0-9_-]{1,63}"; }
                                p { label for=(format!("description-{}", t.name)) { "Description" }
                                    input id=(format!("description-{}", t.name)) name="description"; }
                                button type="submit" { "Create instance" }
                            }
                        }
                    }
                }
            }
        }
        p.hint { "Tenants are made with " code { "openwelkin tenants create NAME" } "." }
    };
    page::frame(&ctx, "/console/admin", "Tenants", body).into_response()
}

async fn create_instance(State(state): State<AppState>, ctx: Ctx, Path(tenant): Path<String>, f: Fields) -> Response {
    let back = "/console/admin";
    let result = async {
        let t = tenants::tenant(&state.db, &tenant).await?;
        let name = f.text("name");
        tenants::create_instance(
            &state.db,
            &t,
            &ctx.signed.actor(),
            &name,
            &f.text("description"),
            state.clock.now_ms(),
        )
        .await
        .map(|_| name)
    }
    .await;
    match result {
        Ok(name) => page::done(back, &format!("Instance {name} created in {tenant}.")),
        Err(e) => page::failed(back, &e),
    }
}

fn grant_text(g: &InstanceGrant) -> String {
    match g {
        InstanceGrant::All => "every instance".into(),
        InstanceGrant::Only(list) if list.is_empty() => "no instance".into(),
        InstanceGrant::Only(list) => list.join(", "),
    }
}

fn policy_summary(p: &Policy) -> String {
    if p.all_access {
        return "all access".into();
    }
    let families: Vec<String> = p
        .permissions
        .iter()
        .map(|(f, ops)| format!("{} ({})", wire(f), ops.iter().map(wire).collect::<Vec<_>>().join(", ")))
        .collect();
    if families.is_empty() {
        "nothing".into()
    } else {
        families.join("; ")
    }
}

async fn clients(State(state): State<AppState>, ctx: Ctx, Path(tenant): Path<String>) -> Response {
    let loaded = async {
        let t = tenants::tenant(&state.db, &tenant).await?;
        let list = api_clients::list(&state.db, &t).await?;
        Ok::<_, crate::services::error::ServiceError>((t, list))
    }
    .await;
    let (t, list) = match loaded {
        Ok(x) => x,
        Err(e) => return page::service_error(&e),
    };
    let base = format!("/console/admin/{}/clients", t.name);
    let body = html! {
        h1 { "API clients of " (t.name) }
        table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "State" } th scope="col" { "Instances" } th scope="col" { "Policy" } th scope="col" { "Actions" } } }
            tbody {
                @for c in &list {
                    tr {
                        th scope="row" { a href=(format!("{base}/{}", c.name)) { (c.name) } }
                        td { @if c.enabled { "enabled" } @else { "disabled" } }
                        td { (grant_text(&c.instances)) }
                        td { (policy_summary(&c.policy)) }
                        td {
                            a href=(format!("{base}/{}", c.name)) { "Edit access" } " "
                            @if c.enabled { (button(&ctx, &format!("{base}/{}/disable", c.name), "Disable")) }
                            @else { (button(&ctx, &format!("{base}/{}/enable", c.name), "Enable")) }
                            (button(&ctx, &format!("{base}/{}/rotate", c.name), "Rotate secret"))
                        }
                    }
                }
            }
        }
        h2 { "New API client" }
        form method="post" action=(base) {
            (csrf(&ctx))
            p { label for="client-name" { "Name" } input id="client-name" name="name" required pattern="[A-Za-z0-9_-]{1,63}"; }
            p { label for="client-start" { "Starts with" }
                select id="client-start" name="start" {
                    option value="empty" { "New empty policy (no access)" }
                    option value="read" { "Read only (every family)" }
                    option value="all" { "Admin full (all access)" }
                }
            }
            button type="submit" { "Create client" }
        }
        p.hint { "The secret is shown once, right after creation; it is stored only as a hash." }
    };
    page::frame(&ctx, "/console/admin", "API clients", body).into_response()
}

/// The page that shows a new secret, once.
fn secret_page(ctx: &Ctx, tenant: &str, name: &str, secret: &str, what: &str) -> Response {
    let body = html! {
        h1 { (what) }
        p { "Client " strong { (name) } " of tenant " strong { (tenant) } ". Copy its secret now: it is not shown again." }
        p { label for="secret" { "Secret" } }
        p { output id="secret" class="secret" { (secret) } }
        p { "Get a token with " code { "POST /" (tenant) "/admin/api_clients/" (name) } " and the body " code { "{\"secret\": \"…\"}" } "." }
        p { a href=(format!("/console/admin/{tenant}/clients/{name}")) { "Edit its access" } " · "
            a href=(format!("/console/admin/{tenant}/clients")) { "Back to the clients" } }
    };
    page::frame(ctx, "/console/admin", what, body).into_response()
}

async fn create_client(State(state): State<AppState>, ctx: Ctx, Path(tenant): Path<String>, f: Fields) -> Response {
    let back = format!("/console/admin/{tenant}/clients");
    let name = f.text("name");
    let policy = match f.get("start") {
        Some("all") => Policy::all_access(),
        Some("read") => Policy {
            permissions: FAMILIES.iter().map(|fam| (*fam, [Op::Read].into_iter().collect())).collect(),
            ..Default::default()
        },
        _ => Policy::default(),
    };
    let result = async {
        let t = tenants::tenant(&state.db, &tenant).await?;
        api_clients::create(
            &state.db,
            &t,
            &ctx.signed.actor(),
            &name,
            &policy,
            &InstanceGrant::All,
            state.clock.now_ms(),
        )
        .await
    }
    .await;
    match result {
        Ok(secret) => secret_page(&ctx, &tenant, &name, &secret, "API client created"),
        Err(e) => page::failed(&back, &e),
    }
}

async fn rotate(State(state): State<AppState>, ctx: Ctx, Path((tenant, name)): Path<(String, String)>) -> Response {
    let result = async {
        let t = tenants::tenant(&state.db, &tenant).await?;
        api_clients::rotate_secret(&state.db, &t, &ctx.signed.actor(), &name, state.clock.now_ms()).await
    }
    .await;
    match result {
        Ok(secret) => secret_page(&ctx, &tenant, &name, &secret, "Secret rotated"),
        Err(e) => page::failed(&format!("/console/admin/{tenant}/clients"), &e),
    }
}

async fn switch(state: &AppState, ctx: &Ctx, tenant: &str, name: &str, enabled: bool) -> Response {
    let back = format!("/console/admin/{tenant}/clients");
    let result = async {
        let t = tenants::tenant(&state.db, tenant).await?;
        api_clients::set_enabled(&state.db, &t, &ctx.signed.actor(), name, enabled, state.clock.now_ms()).await
    }
    .await;
    match result {
        Ok(()) => page::done(&back, &format!("Client {name} {}.", if enabled { "enabled" } else { "disabled" })),
        Err(e) => page::failed(&back, &e),
    }
}

async fn enable(State(state): State<AppState>, ctx: Ctx, Path((tenant, name)): Path<(String, String)>) -> Response {
    switch(&state, &ctx, &tenant, &name, true).await
}

async fn disable(State(state): State<AppState>, ctx: Ctx, Path((tenant, name)): Path<(String, String)>) -> Response {
    switch(&state, &ctx, &tenant, &name, false).await
}

async fn delete(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((tenant, name)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let here = format!("/console/admin/{tenant}/clients/{name}");
    if f.get("confirm") != Some(name.as_str()) {
        let e = crate::services::error::ServiceError::bad_request(
            "CONSOLE",
            "type the client's name to confirm the deletion",
        );
        return page::failed(&here, &e);
    }
    let result = async {
        let t = tenants::tenant(&state.db, &tenant).await?;
        api_clients::delete(&state.db, &t, &ctx.signed.actor(), &name, state.clock.now_ms()).await
    }
    .await;
    match result {
        Ok(()) => page::done(&format!("/console/admin/{tenant}/clients"), &format!("Client {name} deleted.")),
        Err(e) => page::failed(&here, &e),
    }
}

async fn client(State(state): State<AppState>, ctx: Ctx, Path((tenant, name)): Path<(String, String)>) -> Response {
    let loaded = async {
        let t = tenants::tenant(&state.db, &tenant).await?;
        let c = api_clients::get(&state.db, &t, &name).await?;
        let instances = state.db.instances(&t.id).await?;
        Ok::<_, crate::services::error::ServiceError>((c, instances))
    }
    .await;
    let (c, instances) = match loaded {
        Ok(x) => x,
        Err(e) => return page::service_error(&e),
    };
    let body = policy_editor(&ctx, &tenant, &c, &instances);
    page::frame(&ctx, "/console/admin", &format!("Client {name}"), body).into_response()
}

fn policy_editor(ctx: &Ctx, tenant: &str, c: &ApiClient, instances: &[crate::store::tenants::Instance]) -> Markup {
    let base = format!("/console/admin/{tenant}/clients/{}", c.name);
    let granted = |i: &str| matches!(&c.instances, InstanceGrant::Only(list) if list.iter().any(|n| n == i));
    html! {
        h1 { "API client " (c.name) }
        p { "Tenant " (tenant) " · " @if c.enabled { "enabled" } @else { "disabled" } " · created " (page::time(c.created_at)) }
        p {
            @if c.enabled { (button(ctx, &format!("{base}/disable"), "Disable")) } @else { (button(ctx, &format!("{base}/enable"), "Enable")) }
            (button(ctx, &format!("{base}/rotate"), "Rotate secret"))
        }
        h2 { "Security policy" }
        form method="post" action=(format!("{base}/access")) {
            (csrf(ctx))
            fieldset {
                legend { "Everything" }
                input type="checkbox" id="allAccess" name="allAccess" checked[c.policy.all_access];
                label for="allAccess" { "All access (every family, operation and admin flag)" }
            }
            table {
                caption { "Operations per family" }
                thead { tr { th scope="col" { "Family" } @for op in OPS { th scope="col" { (wire(op)) } } } }
                tbody {
                    @for fam in FAMILIES {
                        tr {
                            th scope="row" { (wire(fam)) }
                            @for op in OPS {
                                @let id = format!("perm-{}-{}", wire(fam), if *op == Op::All { "all".to_string() } else { wire(op) });
                                @let on = c.policy.permissions.get(fam).is_some_and(|ops| ops.contains(op));
                                td {
                                    input type="checkbox" id=(id) name="perm" value=(format!("{}:{}", wire(fam), wire(op))) checked[on];
                                    label for=(id) { span.hint { (wire(fam)) " " (wire(op)) } }
                                }
                            }
                        }
                    }
                }
            }
            fieldset.checks {
                legend { "Admin flags" }
                @for (flag, what) in FLAGS {
                    p { input type="checkbox" id=(format!("flag-{flag}")) name="flag" value=(flag) checked[flag_of(&c.policy.admin, flag)];
                        label for=(format!("flag-{flag}")) { strong { (flag) } " — " (what) } }
                }
            }
            fieldset.checks {
                legend { "Instance grant" }
                p { input type="radio" id="grant-all" name="grant" value="all" checked[c.instances == InstanceGrant::All];
                    label for="grant-all" { "Every instance, present and future" } }
                p { input type="radio" id="grant-some" name="grant" value="some" checked[c.instances != InstanceGrant::All];
                    label for="grant-some" { "Only the instances checked below" } }
                @for i in instances {
                    p { input type="checkbox" id=(format!("instance-{}", i.name)) name="instance" value=(i.name) checked[granted(&i.name)];
                        label for=(format!("instance-{}", i.name)) { (i.name) } }
                }
            }
            button type="submit" { "Save access" }
        }
        h2 { "Resulting policy" }
        (page::json_block(&serde_json::to_value(&c.policy).unwrap_or_default()))
        p { "Instances: " (grant_text(&c.instances)) }
        h2 { "Delete" }
        form method="post" action=(format!("{base}/delete")) {
            (csrf(ctx))
            p { label for="confirm" { "Type " code { (c.name) } " to confirm" } input id="confirm" name="confirm" required; }
            button.danger type="submit" { "Delete client" }
        }
    }
}

/// The policy and grant a submitted editor describes.
fn access_of(f: &Fields) -> Result<(Policy, InstanceGrant), String> {
    let mut policy = Policy { all_access: f.checked("allAccess"), ..Default::default() };
    for item in f.all("perm") {
        let (fam, op) = item.split_once(':').ok_or_else(|| format!("bad permission {item:?}"))?;
        let fam: Family = serde_json::from_value(serde_json::json!(fam)).map_err(|_| format!("no family {fam:?}"))?;
        let op: Op = serde_json::from_value(serde_json::json!(op)).map_err(|_| format!("no operation {op:?}"))?;
        policy.permissions.entry(fam).or_default().insert(op);
    }
    let mut flags = serde_json::Map::new();
    for flag in f.all("flag") {
        flags.insert(flag.to_string(), serde_json::json!(true));
    }
    policy.admin = serde_json::from_value(serde_json::Value::Object(flags)).map_err(|e| format!("admin flags: {e}"))?;
    let grant = match f.get("grant") {
        Some("some") => InstanceGrant::Only(f.all("instance").into_iter().map(String::from).collect()),
        _ => InstanceGrant::All,
    };
    Ok((policy, grant))
}

async fn set_access(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((tenant, name)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let here = format!("/console/admin/{tenant}/clients/{name}");
    let (policy, grant) = match access_of(&f) {
        Ok(x) => x,
        Err(reason) => {
            return page::failed(&here, &crate::services::error::ServiceError::bad_request("CONSOLE", reason))
        }
    };
    let result = async {
        let t = tenants::tenant(&state.db, &tenant).await?;
        api_clients::set_access(&state.db, &t, &ctx.signed.actor(), &name, &policy, &grant, state.clock.now_ms()).await
    }
    .await;
    match result {
        Ok(()) => page::done(&here, "Access saved; it applies to the client's next request."),
        Err(e) => page::failed(&here, &e),
    }
}
