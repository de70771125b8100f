//! Signing in and out, the session guard and the CSRF check.
//!
//! A session is a random token in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` when
//! the server speaks TLS), stored only as its digest. Its CSRF token is derived from it
//! (`services::operators::csrf_token`), put in every form and checked on every POST
//! before the handler runs; the sign-in form, which comes before any session, is checked
//! against a random pre-session cookie in the same way (double submit).

use super::forms::Fields;
use super::page::{self, Ctx};
use crate::app::AppState;
use crate::services::operators::{self, SignInRefused};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

const SESSION_COOKIE: &str = "ow_console";
const PRE_SESSION_COOKIE: &str = "ow_console_pre";

/// The operator of the request, put in its extensions by `guard`.
#[derive(Clone)]
pub struct Signed {
    pub operator: crate::store::operators::Operator,
    pub csrf: String,
}

impl Signed {
    pub fn actor(&self) -> crate::events::audit::Actor {
        crate::events::audit::Actor::operator(&self.operator.id, &self.operator.name)
    }

    /// The operator acting in an instance, for the use cases of `services/`.
    pub async fn in_instance(
        &self,
        state: &AppState,
        tenant: &str,
        instance: &str,
    ) -> crate::services::error::ServiceResult<crate::services::scope::InstanceScope> {
        let t = crate::services::tenants::tenant(&state.db, tenant).await?;
        let i = crate::services::tenants::instance(&state.db, &t, instance).await?;
        let scope = crate::services::scope::Scope::for_operator(t, self.actor());
        Ok(crate::services::scope::InstanceScope { scope, instance: i })
    }
}

fn now_ms() -> i64 {
    // Sessions and throttles follow the wall clock, not the emulator's movable clock: moving
    // the emulated time a day ahead must not sign the operator out.
    crate::clock::Clock::system().now_ms()
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age_s: i64) -> String {
    let secure = state.console.is_some_and(|c| c.secure_cookies);
    format!(
        "{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// 403 with a page that says why; nothing was changed.
pub fn refused(reason: &str) -> Response {
    let body = page::bare(
        "Refused",
        html! {
            h1 { "Refused" }
            p role="alert" { (reason) }
            p { a href="/console/" { "Back to the console" } }
        },
    );
    (StatusCode::FORBIDDEN, body).into_response()
}

/// Lets a request through only with a live session; a POST also needs the session's CSRF
/// token and, when the browser names an origin, this server's. The parsed form goes to
/// the handler as `Fields`.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let token = cookie(req.headers(), SESSION_COOKIE).map(str::to_string);
    let operator = match &token {
        Some(t) => match operators::session(&state.db, t, now_ms()).await {
            Ok(o) => o,
            Err(e) => return page::service_error(&e),
        },
        None => None,
    };
    let (Some(token), Some(operator)) = (token, operator) else {
        if req.method() == Method::GET {
            return Redirect::to("/console/sign-in").into_response();
        }
        return refused("You are not signed in (or your session has ended): nothing was changed.");
    };
    let signed = Signed { operator, csrf: operators::csrf_token(&token) };
    let (mut parts, body) = req.into_parts();
    if parts.method == Method::POST {
        if !same_origin(&parts.headers) {
            return refused("This form was sent from another site: nothing was changed.");
        }
        let fields = match Fields::read(body).await {
            Ok(f) => f,
            Err(response) => return response,
        };
        if fields.get("csrf") != Some(signed.csrf.as_str()) {
            return refused("This form carries no valid security token: nothing was changed.");
        }
        parts.extensions.insert(fields);
        parts.extensions.insert(signed);
        return next.run(Request::from_parts(parts, axum::body::Body::empty())).await;
    }
    parts.extensions.insert(signed);
    next.run(Request::from_parts(parts, body)).await
}

/// A browser names the page's origin on a form POST; it must be this server's.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else { return false };
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

pub async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let pre = cookie(&headers, PRE_SESSION_COOKIE).map(str::to_string).unwrap_or_else(crate::auth::secrets::generate);
    let cookie = set_cookie(&state, PRE_SESSION_COOKIE, &pre, 3600);
    ([(header::SET_COOKIE, cookie)], sign_in_form(&pre, "", None)).into_response()
}

fn sign_in_form(pre: &str, name: &str, problem: Option<&str>) -> maud::Markup {
    page::bare(
        "Sign in",
        html! {
            h1 { "openwelkin console" }
            @if let Some(p) = problem { p.error role="alert" { (p) } }
            form method="post" action="/console/sign-in" {
                input type="hidden" name="csrf" value=(operators::csrf_token(pre));
                p { label for="name" { "Operator" } input id="name" name="name" value=(name) autocomplete="username" required; }
                p { label for="password" { "Password" } input id="password" name="password" type="password" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
            p.hint { "Operators are made with " code { "openwelkin operators create NAME" } "." }
        },
    )
}

pub async fn sign_in(State(state): State<AppState>, req: Request) -> Response {
    let connect = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().copied();
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let Some(pre) = cookie(&headers, PRE_SESSION_COOKIE).map(str::to_string) else {
        return refused("Open the sign-in page first: this form carries no valid security token.");
    };
    if !same_origin(&headers) {
        return refused("This form was sent from another site: nothing was changed.");
    }
    let fields = match Fields::read(body).await {
        Ok(f) => f,
        Err(response) => return response,
    };
    if fields.get("csrf") != Some(operators::csrf_token(&pre).as_str()) {
        return refused("This form carries no valid security token: nothing was changed.");
    }
    let settings = state.console.unwrap_or_default();
    let address = connect.map(|c| c.0.ip().to_string()).unwrap_or_else(|| "unknown".into());
    let name = fields.get("name").unwrap_or_default();
    let password = fields.get("password").unwrap_or_default();
    match operators::sign_in(&state.db, settings.limits, name, password, &address, now_ms()).await {
        Err(e) => page::service_error(&e),
        Ok(Err(refusal)) => {
            let (status, text) = match refusal {
                SignInRefused::Throttled => {
                    (StatusCode::TOO_MANY_REQUESTS, "Too many sign-in attempts: wait five minutes and try again.")
                }
                SignInRefused::BadCredentials => (StatusCode::UNAUTHORIZED, "Wrong operator name or password."),
            };
            (status, sign_in_form(&pre, name, Some(text))).into_response()
        }
        Ok(Ok(session)) => {
            let lifetime = operators::SESSION_LIFETIME_MS / 1000;
            let mut response = Redirect::to("/console/").into_response();
            let h = response.headers_mut();
            h.append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, &session.token, lifetime).parse().unwrap());
            h.append(header::SET_COOKIE, set_cookie(&state, PRE_SESSION_COOKIE, "", 0).parse().unwrap());
            response
        }
    }
}

pub async fn sign_out(State(state): State<AppState>, ctx: Ctx, req: Request) -> Response {
    let connect = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().copied();
    let address = connect.map(|c| c.0.ip().to_string()).unwrap_or_else(|| "unknown".into());
    if let Some(token) = cookie(req.headers(), SESSION_COOKIE) {
        if let Err(e) = operators::sign_out(&state.db, token, &ctx.signed.operator, &address, now_ms()).await {
            return page::service_error(&e);
        }
    }
    let mut response = Redirect::to("/console/sign-in").into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", 0).parse().unwrap());
    response
}
