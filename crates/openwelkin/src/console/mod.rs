//! The web console at `/console/`: Welkin's Admin panel and Designer, the data an
//! integration wrote, the audits and the emulator's controls, as server-rendered pages
//! (maud templates, plain HTML forms posted and redirected, no script at all).
//!
//! It is its own HTTP room beside `api/`: handlers read the form and the path, call
//! `services/` (and, for the emulator, `emulator/`) as the signed-in operator, and render a
//! page. It never calls the API's handlers. Every page carries a strict
//! Content-Security-Policy; every POST is checked for the session's CSRF token
//! (`session.rs`).

mod admin;
mod audit;
mod data;
mod designer;
mod disposition;
mod emulator;
mod forms;
mod page;
mod session;
mod tar;

use crate::app::AppState;
use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;

/// Every console route, behind the session guard and the security headers.
pub fn routes(state: AppState) -> Router<AppState> {
    let guarded = Router::new()
        .route("/console", get(|| async { axum::response::Redirect::to("/console/") }))
        .route("/console/", get(admin::home))
        .route("/console/sign-out", post(session::sign_out))
        .merge(admin::routes())
        .merge(designer::routes())
        .merge(data::routes())
        .merge(audit::routes())
        .merge(emulator::routes())
        .route_layer(axum::middleware::from_fn_with_state(state, session::guard));
    Router::new()
        .route("/console/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/console/assets/console.css", get(stylesheet))
        .merge(guarded)
        .layer(axum::middleware::from_fn(security_headers))
}

/// The console's own styles, served from the binary (the CSP allows only same-origin styles).
async fn stylesheet() -> impl axum::response::IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("console.css"))
}

/// No script, no frames, no foreign origins: the pages are plain HTML and forms.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: with it, browsers send `Origin: null` on the console's own form
    // posts, and the session guard could no longer tell them from a foreign site's.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
