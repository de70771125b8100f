//! Designer: the current formation and its versions with every object kind, the draft
//! edited with forms (data type and dictionary fields) or a YAML editor for any object,
//! validation with every error at its path, the diff of draft against current, publish,
//! and the export of a version as a designer folder (a tar of YAML files that
//! `openwelkin designer apply` takes back).

use super::forms::Fields;
use super::page::{self, button, csrf, Ctx};
use crate::app::AppState;
use crate::designer::data_type::FIELD_TYPES;
use crate::designer::objects::Section;
use crate::designer::Designer;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::formations;
use crate::services::scope::InstanceScope;
use axum::extract::{OriginalUri, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/designer", get(pick))
        .route("/console/designer/{tenant}/{instance}", get(overview))
        .route("/console/designer/{tenant}/{instance}/validate", get(validate))
        .route("/console/designer/{tenant}/{instance}/diff", get(diff))
        .route("/console/designer/{tenant}/{instance}/export.tar", get(export))
        .route("/console/designer/{tenant}/{instance}/publish", post(publish))
        .route("/console/designer/{tenant}/{instance}/discard", post(discard))
        .route("/console/designer/{tenant}/{instance}/new", post(create))
        .merge(super::disposition::routes())
        .route("/console/designer/{tenant}/{instance}/{section}/{name}", get(object))
        .route("/console/designer/{tenant}/{instance}/{section}/{name}/yaml", post(replace_yaml))
        .route("/console/designer/{tenant}/{instance}/{section}/{name}/fields", post(add_field))
        .route("/console/designer/{tenant}/{instance}/{section}/{name}/delete", post(delete))
}

/// A page listing every tenant's instances with a link into `section` for each.
pub async fn instance_picker(state: &AppState, ctx: &Ctx, section: &str, title: &str, suffix: &str) -> Response {
    let list = match crate::services::tenants::list(&state.db).await {
        Ok(l) => l,
        Err(e) => return page::service_error(&e),
    };
    let body = html! {
        h1 { (title) }
        p { "Choose an instance." }
        ul {
            @for (t, instances) in &list {
                @for i in instances {
                    li { a href=(format!("{section}/{}/{}{suffix}", t.name, i.name)) { (t.name) " / " (i.name) } }
                }
            }
        }
    };
    page::frame(ctx, section, title, body).into_response()
}

async fn pick(State(state): State<AppState>, ctx: Ctx) -> Response {
    instance_picker(&state, &ctx, "/console/designer", "Designer", "").await
}

pub(super) fn base(t: &str, i: &str) -> String {
    format!("/console/designer/{t}/{i}")
}

fn section_of(folder: &str) -> ServiceResult<Section> {
    Section::from_folder(folder).ok_or_else(|| {
        ServiceError::not_found("FORMATION_NOT_FOUND", "FORMATION", "No such designer kind", json!({"kind": folder}))
    })
}

/// `version` from the query: `current` (the default), `draft` or a number.
pub(super) fn version_of(uri: &axum::http::Uri) -> String {
    page::query(uri).get("version").cloned().unwrap_or_else(|| "current".into())
}

const TITLES: &[(Section, &str)] = &[
    (Section::Cdts, "Custom data types"),
    (Section::Pdts, "Profile data types"),
    (Section::DocumentTypes, "Document types"),
    (Section::Assessments, "Assessments"),
    (Section::Programs, "Programs and phases"),
    (Section::EncounterTemplates, "Encounter templates"),
    (Section::GoalTemplates, "Goal templates"),
    (Section::Dictionaries, "Dictionaries"),
    (Section::Roles, "Roles"),
    (Section::SecurityPolicies, "Security policies"),
    (Section::Regions, "Regions"),
    (Section::Webhooks, "Webhooks"),
];

async fn overview(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let version = version_of(&uri);
    let loaded = async {
        let scope = ctx.signed.in_instance(&state, &t, &i).await?;
        let formation = formations::resolve(&state, &scope, &version).await?;
        let versions = formations::versions(&state, &scope).await?;
        Ok::<_, ServiceError>((formation, versions))
    }
    .await;
    let (formation, versions) = match loaded {
        Ok(x) => x,
        Err(e) => return page::service_error(&e),
    };
    let b = base(&t, &i);
    let d = &formation.designer;
    let body = html! {
        h1 { "Designer of " (t) " / " (i) }
        p { "Showing " strong { @if version == "draft" { "the draft (to be version " (formation.version) ")" } @else { "version " (formation.version) } } "." }
        p {
            a href=(format!("{b}?version=current")) { "Current version" } " · "
            a href=(format!("{b}?version=draft")) { "Draft" } " · "
            a href=(format!("{b}/validate")) { "Validate the draft" } " · "
            a href=(format!("{b}/diff")) { "Diff draft against current" } " · "
            a href=(format!("{b}/export.tar?version={version}")) { "Export this version (tar of YAML)" } " · "
            a href=(format!("{b}/disposition?version={version}")) { "Encounter disposition" }
        }
        (button(&ctx, &format!("{b}/publish"), "Publish the draft"))
        (button(&ctx, &format!("{b}/discard"), "Discard the draft"))
        div.cards {
            @for (section, title) in TITLES {
                section {
                    h2 { (title) " (" (d.count(*section)) ")" }
                    ul {
                        @for name in d.names(*section) {
                            li { a href=(format!("{b}/{}/{name}?version={version}", section.folder())) { (name) } }
                        }
                    }
                }
            }
        }
        h2 { "New object in the draft" }
        form method="post" action=(format!("{b}/new")) {
            (csrf(&ctx))
            p { label for="new-section" { "Kind" }
                select id="new-section" name="section" {
                    @for (section, title) in TITLES { option value=(section.folder()) { (title) } }
                }
            }
            p { label for="new-yaml" { "Object (YAML)" } }
            textarea id="new-yaml" name="yaml" rows="8" required { "name: \nfields:\n  - name: \n    type: text\n" }
            button type="submit" { "Add to the draft" }
        }
        h2 { "Versions" }
        table {
            thead { tr { th scope="col" { "Version" } th scope="col" { "Published" } th scope="col" { "By" } } }
            tbody {
                @for (v, at, by) in &versions {
                    tr { td { a href=(format!("{b}?version={v}")) { (v) } } td { (page::time(*at)) } td { (by) } }
                }
            }
        }
    };
    page::frame(&ctx, "/console/designer", "Designer", body).into_response()
}

async fn object(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i, folder, name)): Path<(String, String, String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let version = version_of(&uri);
    let loaded = async {
        let section = section_of(&folder)?;
        let scope = ctx.signed.in_instance(&state, &t, &i).await?;
        let formation = formations::resolve(&state, &scope, &version).await?;
        let object = formation.designer.object(section, &name).ok_or_else(|| {
            ServiceError::not_found("FORMATION_NOT_FOUND", "FORMATION", "No such object", json!({"name": name}))
        })?;
        Ok::<_, ServiceError>((section, object))
    }
    .await;
    let (section, object) = match loaded {
        Ok(x) => x,
        Err(e) => return page::service_error(&e),
    };
    let here = format!("{}/{folder}/{name}", base(&t, &i));
    let draft = version == "draft";
    let with_fields = section.is_data_type() || section == Section::Dictionaries;
    let body = html! {
        h1 { (folder) ": " (name) }
        p { a href=(format!("{}?version={version}", base(&t, &i))) { "Back to the designer (" (version) ")" } }
        @if with_fields {
            h2 { "Fields" }
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Required" } th scope="col" { "PHI" } } }
                tbody {
                    @for f in object["fields"].as_array().into_iter().flatten() {
                        tr { td { (f["name"].as_str().unwrap_or_default()) } td { (f["type"].as_str().unwrap_or_default()) }
                             td { @if f["meta"]["required"].as_bool() == Some(true) { "yes" } } td { @if f["phi"].as_bool() == Some(true) { "yes" } } }
                    }
                }
            }
        }
        @if draft {
            @if with_fields {
                h2 { "Add a field" }
                form method="post" action=(format!("{here}/fields")) {
                    (csrf(&ctx))
                    p { label for="field-name" { "Field name" } input id="field-name" name="name" required; }
                    p { label for="field-type" { "Type" }
                        select id="field-type" name="type" {
                            @if section == Section::Dictionaries { option { "text" } option { "integer" } option { "boolean" } }
                            @else { @for ty in FIELD_TYPES { option { (ty) } } }
                        }
                    }
                    @if section.is_data_type() {
                        p { label for="field-options" { "Options (select; comma-separated)" } input id="field-options" name="options"; }
                        p { input type="checkbox" id="field-required" name="required"; label for="field-required" { "Required" } }
                        p { input type="checkbox" id="field-phi" name="phi"; label for="field-phi" { "PHI" } }
                    }
                    button type="submit" { "Add the field" }
                }
            }
            h2 { "Edit as YAML" }
            form method="post" action=(format!("{here}/yaml")) {
                (csrf(&ctx))
                p { label for="yaml" { "The object (YAML)" } }
                textarea id="yaml" name="yaml" rows="20" { (page::yaml_text(&object)) }
                button type="submit" { "Save to the draft" }
            }
            h2 { "Remove" }
            (button(&ctx, &format!("{here}/delete"), "Remove from the draft"))
        } @else {
            h2 { "As a designer file (YAML)" }
            pre { (page::yaml_text(&object)) }
            p { a href=(format!("{here}?version=draft")) { "Edit it in the draft" } }
        }
    };
    page::frame(&ctx, "/console/designer", &name, body).into_response()
}

fn parse_yaml(text: &str) -> ServiceResult<Value> {
    let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
        .map_err(|e| ServiceError::bad_request("FORMATION", format!("invalid YAML: {e}")))?;
    yaml.apply_merge().map_err(|e| ServiceError::bad_request("FORMATION", format!("invalid YAML: {e}")))?;
    serde_json::to_value(yaml)
        .map_err(|e| ServiceError::bad_request("FORMATION", format!("YAML without a JSON form: {e}")))
}

async fn in_draft(state: &AppState, ctx: &Ctx, t: &str, i: &str) -> ServiceResult<InstanceScope> {
    ctx.signed.in_instance(state, t, i).await
}

async fn create(State(state): State<AppState>, ctx: Ctx, Path((t, i)): Path<(String, String)>, f: Fields) -> Response {
    let back = format!("{}?version=draft", base(&t, &i));
    let result = async {
        let section = section_of(&f.text("section"))?;
        let scope = in_draft(&state, &ctx, &t, &i).await?;
        let created =
            formations::put_object(&state, &scope, section, None, parse_yaml(f.get("yaml").unwrap_or_default())?)
                .await?;
        Ok::<_, ServiceError>((section, created["name"].as_str().unwrap_or_default().to_string()))
    }
    .await;
    match result {
        Ok((section, name)) => {
            page::done(&format!("{}/{}/{name}?version=draft", base(&t, &i), section.folder()), "Added to the draft.")
        }
        Err(e) => page::failed(&back, &e),
    }
}

async fn replace_yaml(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i, folder, name)): Path<(String, String, String, String)>,
    f: Fields,
) -> Response {
    let here = format!("{}/{folder}/{name}?version=draft", base(&t, &i));
    let result = async {
        let section = section_of(&folder)?;
        let scope = in_draft(&state, &ctx, &t, &i).await?;
        formations::put_object(&state, &scope, section, Some(&name), parse_yaml(f.get("yaml").unwrap_or_default())?)
            .await
    }
    .await;
    match result {
        Ok(_) => page::done(&here, "Saved to the draft."),
        Err(e) => page::failed(&here, &e),
    }
}

/// The field a submitted "add a field" form describes.
pub(super) fn field_of(section: Section, f: &Fields) -> Value {
    let mut field = json!({"name": f.text("name"), "type": f.text("type")});
    if section.is_data_type() {
        let mut meta = serde_json::Map::new();
        if f.checked("required") {
            meta.insert("required".into(), json!(true));
        }
        let options: Vec<Value> = f
            .text("options")
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| json!({"label": o, "value": o}))
            .collect();
        if !options.is_empty() {
            meta.insert("options".into(), Value::Array(options));
        }
        if !meta.is_empty() {
            field["meta"] = Value::Object(meta);
        }
        if f.checked("phi") {
            field["phi"] = json!(true);
        }
    }
    field
}

async fn add_field(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i, folder, name)): Path<(String, String, String, String)>,
    f: Fields,
) -> Response {
    let here = format!("{}/{folder}/{name}?version=draft", base(&t, &i));
    let result = async {
        let section = section_of(&folder)?;
        let scope = in_draft(&state, &ctx, &t, &i).await?;
        let draft = formations::resolve(&state, &scope, "draft").await?;
        let mut object = draft.designer.object(section, &name).ok_or_else(|| {
            ServiceError::not_found("FORMATION_NOT_FOUND", "FORMATION", "No such object", json!({"name": name}))
        })?;
        let field = field_of(section, &f);
        match object.get_mut("fields").and_then(Value::as_array_mut) {
            Some(fields) => fields.push(field),
            None => object["fields"] = json!([field]),
        }
        formations::put_object(&state, &scope, section, Some(&name), object).await
    }
    .await;
    match result {
        Ok(_) => page::done(&here, &format!("Field {} added to the draft.", f.text("name"))),
        Err(e) => page::failed(&here, &e),
    }
}

async fn delete(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i, folder, name)): Path<(String, String, String, String)>,
) -> Response {
    let result = async {
        let section = section_of(&folder)?;
        let scope = in_draft(&state, &ctx, &t, &i).await?;
        formations::remove_object(&state, &scope, section, &name).await
    }
    .await;
    match result {
        Ok(()) => page::done(&format!("{}?version=draft", base(&t, &i)), &format!("{name} removed from the draft.")),
        Err(e) => page::failed(&format!("{}/{folder}/{name}?version=draft", base(&t, &i)), &e),
    }
}

async fn publish(State(state): State<AppState>, ctx: Ctx, Path((t, i)): Path<(String, String)>) -> Response {
    let back = base(&t, &i);
    let result = async {
        let scope = in_draft(&state, &ctx, &t, &i).await?;
        formations::publish(&state, &scope).await
    }
    .await;
    match result {
        Ok((version, _)) => page::done(&back, &format!("The draft was published as version {version}.")),
        Err(e) => page::failed(&format!("{back}/validate"), &e),
    }
}

/// Throws the draft's edits away: the draft becomes the current version again.
async fn discard(State(state): State<AppState>, ctx: Ctx, Path((t, i)): Path<(String, String)>) -> Response {
    let back = base(&t, &i);
    let result = async {
        let scope = in_draft(&state, &ctx, &t, &i).await?;
        formations::discard_draft(&state, &scope).await
    }
    .await;
    match result {
        Ok(true) => {
            page::done(&format!("{back}?version=draft"), "The draft was discarded: it is the current version again.")
        }
        Ok(false) => page::done(&format!("{back}?version=draft"), "The draft had no changes: nothing to discard."),
        Err(e) => page::failed(&back, &e),
    }
}

async fn validate(State(state): State<AppState>, ctx: Ctx, Path((t, i)): Path<(String, String)>) -> Response {
    let draft = async {
        let scope = in_draft(&state, &ctx, &t, &i).await?;
        formations::resolve(&state, &scope, "draft").await
    }
    .await;
    let draft = match draft {
        Ok(d) => d,
        Err(e) => return page::service_error(&e),
    };
    let errors = draft.designer.validate();
    let body = html! {
        h1 { "Validation of the draft of " (t) " / " (i) }
        p { a href=(base(&t, &i)) { "Back to the designer" } }
        @if errors.is_empty() { p.notice role="status" { "The draft is valid: it can be published." } }
        @else {
            p.error role="alert" { (errors.len()) " problems; the draft cannot be published until they are fixed." }
            table {
                thead { tr { th scope="col" { "Path" } th scope="col" { "Problem" } } }
                tbody { @for e in &errors { tr { td { code { (e.path) } } td { (e.reason) } } } }
            }
        }
    };
    page::frame(&ctx, "/console/designer", "Validation", body).into_response()
}

/// What changed in one section between two designers: added, removed, and changed
/// objects with their YAML diff.
fn section_diff(section: Section, before: &Designer, after: &Designer) -> Markup {
    let old = before.names(section);
    let new = after.names(section);
    let added: Vec<&String> = new.iter().filter(|n| !old.contains(n)).collect();
    let removed: Vec<&String> = old.iter().filter(|n| !new.contains(n)).collect();
    let changed: Vec<(String, String, String)> = new
        .iter()
        .filter(|n| old.contains(n))
        .filter_map(|n| {
            let a = page::yaml_text(&before.object(section, n)?);
            let b = page::yaml_text(&after.object(section, n)?);
            (a != b).then(|| (n.clone(), a, b))
        })
        .collect();
    if added.is_empty() && removed.is_empty() && changed.is_empty() {
        return html! {};
    }
    html! {
        h2 { (section.folder()) }
        @for n in &added { p { ins { "added: " (n) } } }
        @for n in &removed { p { del { "removed: " (n) } } }
        @for (n, a, b) in &changed {
            h3 { "changed: " (n) }
            pre {
                @for change in similar::TextDiff::from_lines(a.as_str(), b.as_str()).iter_all_changes() {
                    @match change.tag() {
                        similar::ChangeTag::Delete => del { "- " (change.value()) },
                        similar::ChangeTag::Insert => ins { "+ " (change.value()) },
                        similar::ChangeTag::Equal => span { "  " (change.value()) },
                    }
                }
            }
        }
    }
}

async fn diff(State(state): State<AppState>, ctx: Ctx, Path((t, i)): Path<(String, String)>) -> Response {
    let loaded = async {
        let scope = in_draft(&state, &ctx, &t, &i).await?;
        let current = formations::resolve(&state, &scope, "current").await?;
        let draft = formations::resolve(&state, &scope, "draft").await?;
        Ok::<_, ServiceError>((current, draft))
    }
    .await;
    let (current, draft) = match loaded {
        Ok(x) => x,
        Err(e) => return page::service_error(&e),
    };
    let same = current.designer == draft.designer;
    let body = html! {
        h1 { "Draft against version " (current.version) " of " (t) " / " (i) }
        p { a href=(base(&t, &i)) { "Back to the designer" } }
        @if same { p.notice role="status" { "The draft is the same as the current version." } }
        @for section in Section::ALL { (section_diff(section, &current.designer, &draft.designer)) }
        @if current.designer.encounter_disposition != draft.designer.encounter_disposition {
            h2 { "encounter-disposition" } p { "changed" }
        }
    };
    page::frame(&ctx, "/console/designer", "Diff", body).into_response()
}

async fn export(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let version = version_of(&uri);
    let formation = async {
        let scope = in_draft(&state, &ctx, &t, &i).await?;
        formations::resolve(&state, &scope, &version).await
    }
    .await;
    let formation = match formation {
        Ok(f) => f,
        Err(e) => return page::service_error(&e),
    };
    let files = crate::designer::export::files(&formation.designer);
    let archive = super::tar::archive(&t, &files);
    let disposition = format!("attachment; filename=\"{t}-{i}-designer-v{}.tar\"", formation.version);
    ([(header::CONTENT_TYPE, "application/x-tar".to_string()), (header::CONTENT_DISPOSITION, disposition)], archive)
        .into_response()
}
