//! The page frame (skip link, navigation, notices, sign-out) and the small pieces every
//! page uses: CSRF-carrying forms, notices after a redirect, error pages.

use super::session::Signed;
use crate::app::AppState;
use crate::services::error::ServiceError;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup, DOCTYPE};

/// What every signed-in page needs: the operator, the notice of the last action, and
/// whether the emulator's pages exist.
pub struct Ctx {
    pub signed: Signed,
    pub notice: Option<String>,
    pub problem: Option<String>,
    pub emulator: bool,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Response> {
        let signed = parts
            .extensions
            .get::<Signed>()
            .cloned()
            .ok_or_else(|| Redirect::to("/console/sign-in").into_response())?;
        let mut notice = None;
        let mut problem = None;
        for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()) {
            match k.as_ref() {
                "notice" => notice = Some(v.into_owned()),
                "problem" => problem = Some(v.into_owned()),
                _ => {}
            }
        }
        Ok(Ctx { signed, notice, problem, emulator: state.emulator.is_some() })
    }
}

/// The query parameters of a page (filters, paging), the last value of each name winning.
pub fn query(uri: &axum::http::Uri) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · openwelkin console" }
            link rel="stylesheet" href="/console/assets/console.css";
        }
    }
}

/// A page outside the signed-in frame (sign-in, refusals).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                a.skip href="#main" { "Skip to content" }
                main id="main" tabindex="-1" { (body) }
            }
        }
    }
}

/// The sections of the navigation: (path prefix, label).
const SECTIONS: &[(&str, &str)] = &[
    ("/console/admin", "Admin"),
    ("/console/designer", "Designer"),
    ("/console/data", "Data"),
    ("/console/audit", "Audit"),
    ("/console/emulator", "Emulator"),
];

/// A signed-in page: skip link, navigation, the notice of the last action, the content.
pub fn frame(ctx: &Ctx, current: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Sections" {
                        a.brand href="/console/" { "openwelkin" }
                        ul {
                            @for (path, label) in SECTIONS {
                                @if *label != "Emulator" || ctx.emulator {
                                    li { a href=(path) aria-current=[(current == *path).then_some("page")] { (label) } }
                                }
                            }
                        }
                        form.signout method="post" action="/console/sign-out" {
                            (csrf(ctx))
                            span { "Signed in as " strong { (ctx.signed.operator.name) } }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    @if let Some(n) = &ctx.notice { p.notice role="status" { (n) } }
                    @if let Some(p) = &ctx.problem { p.error role="alert" { (p) } }
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF field every POST form carries.
pub fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.signed.csrf); }
}

/// A one-button POST form (enable, disable, publish, …).
pub fn button(ctx: &Ctx, action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf(ctx))
            button type="submit" { (label) }
        }
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A redirect to `to` (which may end with a `#fragment`) with one more query parameter.
fn back_with(to: &str, key: &str, value: &str) -> Response {
    let (path, fragment) = match to.split_once('#') {
        Some((path, fragment)) => (path, format!("#{fragment}")),
        None => (to, String::new()),
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}{key}={}{fragment}", encode(value))).into_response()
}

/// Back to `to` with a notice (POST, then redirect: a reload does not post again).
pub fn done(to: &str, notice: &str) -> Response {
    back_with(to, "notice", notice)
}

/// Back to `to` with the reason the action failed; nothing was changed.
pub fn failed(to: &str, e: &ServiceError) -> Response {
    back_with(to, "problem", &describe(e))
}

/// A service error as one line for a person: the message, and the errors at their paths.
pub fn describe(e: &ServiceError) -> String {
    let mut text = e.content.message.clone();
    if let Some(errors) = e.content.details.get("errors").and_then(|v| v.as_array()) {
        if errors.len() > 1 {
            text = format!("{} problems: ", errors.len());
            let all: Vec<String> = errors
                .iter()
                .map(|x| format!("{}: {}", x["path"].as_str().unwrap_or("$"), x["reason"].as_str().unwrap_or("")))
                .collect();
            text.push_str(&all.join("; "));
        }
    }
    text
}

/// An error page for a failure while reading (a page that cannot be shown).
pub fn service_error(e: &ServiceError) -> Response {
    let status = if e.kind.is_server_error() { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::NOT_FOUND };
    let status = match e.kind {
        crate::services::error::Kind::BadRequest => StatusCode::BAD_REQUEST,
        _ => status,
    };
    let body = bare(
        "Error",
        html! {
            h1 { "Cannot show this page" }
            p role="alert" { (describe(e)) }
            p { a href="/console/" { "Back to the console" } }
        },
    );
    (status, body).into_response()
}

/// A JSON value, pretty, in a `<pre>` (escaped).
pub fn json_block(v: &serde_json::Value) -> Markup {
    html! { pre.json { (serde_json::to_string_pretty(v).unwrap_or_default()) } }
}

/// A value as YAML, in a `<pre>` (escaped).
pub fn yaml_text(v: &serde_json::Value) -> String {
    serde_yaml_ng::to_string(v).unwrap_or_default()
}

/// Links to pages 0..n of a list, keeping the other query parameters.
pub fn pager(base: &str, params: &[(&str, String)], page: i64, size: i64, total: i64) -> Markup {
    let pages = (total + size - 1) / size;
    let link = |p: i64| {
        let mut q: Vec<String> =
            params.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", encode(v))).collect();
        q.push(format!("page={p}"));
        format!("{base}?{}", q.join("&"))
    };
    html! {
        nav.pager aria-label="Pages" {
            span { (total) " in all · page " (page + 1) " of " (pages.max(1)) }
            @if page > 0 { " " a href=(link(page - 1)) rel="prev" { "Previous" } }
            @if page + 1 < pages { " " a href=(link(page + 1)) rel="next" { "Next" } }
        }
    }
}

/// Milliseconds since the epoch as Welkin writes times.
pub fn time(ms: i64) -> String {
    crate::time::format_ms(ms)
}
