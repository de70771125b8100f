//! Designer: the encounter disposition, the one data type every encounter's closing form
//! uses (`encounter-disposition` in a designer folder). Its fields are shown as a table;
//! in the draft a field can be added or removed with a form, through the same use case as
//! the API's `PUT …/formations/draft/encounter-disposition`.

use super::designer::{base, field_of, version_of};
use super::forms::Fields;
use super::page::{self, csrf, Ctx};
use crate::app::AppState;
use crate::designer::data_type::FIELD_TYPES;
use crate::designer::objects::Section;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::formations;
use axum::extract::{OriginalUri, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::html;
use serde_json::{json, Map, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/designer/{tenant}/{instance}/disposition", get(show))
        .route("/console/designer/{tenant}/{instance}/disposition/fields", post(add_field))
        .route("/console/designer/{tenant}/{instance}/disposition/remove", post(remove_field))
}

fn here(t: &str, i: &str) -> String {
    format!("{}/disposition", base(t, i))
}

/// The disposition's data type in `version`, as its designer file has it.
async fn load(state: &AppState, ctx: &Ctx, t: &str, i: &str, version: &str) -> ServiceResult<Map<String, Value>> {
    let scope = ctx.signed.in_instance(state, t, i).await?;
    let formation = formations::resolve(state, &scope, version).await?;
    match serde_json::to_value(formation.designer.disposition()) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ServiceError::internal("the disposition does not render as an object")),
    }
}

async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let version = version_of(&uri);
    let dt = match load(&state, &ctx, &t, &i, &version).await {
        Ok(dt) => dt,
        Err(e) => return page::service_error(&e),
    };
    let h = here(&t, &i);
    let fields = dt.get("fields").and_then(Value::as_array).cloned().unwrap_or_default();
    let draft = version == "draft";
    let body = html! {
        h1 { "Encounter disposition of " (t) " / " (i) " (" (version) ")" }
        p { a href=(format!("{}?version={version}", base(&t, &i))) { "Back to the designer (" (version) ")" } }
        table {
            caption { "Fields" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Required" } th scope="col" { "Options" }
                         @if draft { th scope="col" { "Remove" } } } }
            tbody {
                @for f in &fields {
                    @let name = f["name"].as_str().unwrap_or_default();
                    tr {
                        td { (name) } td { (f["type"].as_str().unwrap_or_default()) }
                        td { @if f["meta"]["required"].as_bool() == Some(true) { "yes" } }
                        td { @for o in f["meta"]["options"].as_array().into_iter().flatten() { (o["label"].as_str().unwrap_or_default()) "; " } }
                        @if draft {
                            td {
                                form.inline method="post" action=(format!("{h}/remove")) {
                                    (csrf(&ctx)) input type="hidden" name="field" value=(name);
                                    button.danger type="submit" aria-label=(format!("Remove the field {name}")) { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if draft {
            h2 { "Add a field" }
            form method="post" action=(format!("{h}/fields")) {
                (csrf(&ctx))
                p { label for="field-name" { "Field name" } input id="field-name" name="name" required; }
                p { label for="field-type" { "Type" }
                    select id="field-type" name="type" { @for ty in FIELD_TYPES { option { (ty) } } } }
                p { label for="field-options" { "Options (select; comma-separated)" } input id="field-options" name="options"; }
                p { input type="checkbox" id="field-required" name="required"; label for="field-required" { "Required" } }
                button type="submit" { "Add the field" }
            }
        } @else {
            p { a href=(format!("{h}?version=draft")) { "Edit it in the draft" } }
        }
    };
    page::frame(&ctx, "/console/designer", "Encounter disposition", body).into_response()
}

/// Changes the draft's disposition with `edit` and saves it (validated and audited by
/// the use case).
async fn change(
    state: &AppState,
    ctx: &Ctx,
    t: &str,
    i: &str,
    edit: impl FnOnce(&mut Vec<Value>) -> ServiceResult<()>,
) -> ServiceResult<()> {
    let mut dt = load(state, ctx, t, i, "draft").await?;
    let mut fields = dt.get("fields").and_then(Value::as_array).cloned().unwrap_or_default();
    edit(&mut fields)?;
    dt.insert("fields".into(), Value::Array(fields));
    let scope = ctx.signed.in_instance(state, t, i).await?;
    formations::replace_disposition(state, &scope, "draft", dt).await.map(|_| ())
}

async fn add_field(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let back = format!("{}?version=draft", here(&t, &i));
    let field = field_of(Section::Cdts, &f);
    let result = change(&state, &ctx, &t, &i, |fields| {
        if fields.iter().any(|x| x["name"] == field["name"]) {
            return Err(ServiceError::conflict(
                "FORMATION_ALREADY_EXISTS",
                "FORMATION",
                format!("the disposition has a field {}", field["name"]),
                json!({"name": field["name"]}),
            ));
        }
        fields.push(field);
        Ok(())
    })
    .await;
    match result {
        Ok(()) => page::done(&back, &format!("Field {} added to the draft's disposition.", f.text("name"))),
        Err(e) => page::failed(&back, &e),
    }
}

async fn remove_field(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, i)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let back = format!("{}?version=draft", here(&t, &i));
    let name = f.text("field");
    let result = change(&state, &ctx, &t, &i, |fields| {
        let before = fields.len();
        fields.retain(|x| x["name"].as_str() != Some(name.as_str()));
        if fields.len() == before {
            return Err(ServiceError::not_found(
                "FORMATION_NOT_FOUND",
                "FORMATION",
                "The disposition has no such field",
                json!({"name": name}),
            ));
        }
        Ok(())
    })
    .await;
    match result {
        Ok(()) => page::done(&back, &format!("Field {name} removed from the draft's disposition.")),
        Err(e) => page::failed(&back, &e),
    }
}
