//! Console operators: made and managed from the command line (`openwelkin operators`),
//! signing in to the console with throttling, and their sessions. Passwords and session
//! tokens are never stored: argon2 hashes of the passwords, SHA-256 digests of the tokens.

use super::error::{Kind, ServiceError, ServiceResult};
use crate::store::operator_audit::{self, OperatorEvent};
use crate::store::operators::{self as store, Operator};
use crate::store::ratelimit::TokenLimit;
use crate::store::Db;
use crate::store::Tx;
use sha2::{Digest, Sha256};

const COMPONENT: &str = "CONSOLE";

/// How long a console session lasts after sign-in.
pub const SESSION_LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;

/// Shortest password an operator may have.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Sign-in throttles: attempts per operator name and per client address in a window.
#[derive(Clone, Copy, Debug)]
pub struct SignInLimits {
    pub per_operator: i64,
    pub per_address: i64,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits { per_operator: 10, per_address: 100 }
    }
}

/// How a server serves its console.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConsoleSettings {
    /// Session cookies carry `Secure` (the server speaks TLS).
    pub secure_cookies: bool,
    pub limits: SignInLimits,
}

fn check_name(name: &str) -> ServiceResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(ServiceError::bad_request(COMPONENT, "an operator name is 1-63 letters, digits, '-', '_' or '.'"))
    }
}

fn check_password(password: &str) -> ServiceResult<()> {
    if password.chars().count() >= MIN_PASSWORD_CHARS {
        Ok(())
    } else {
        Err(ServiceError::bad_request(COMPONENT, format!("a password has at least {MIN_PASSWORD_CHARS} characters")))
    }
}

/// Hashes on a blocking thread: argon2 takes tens of milliseconds.
async fn hash(password: &str) -> ServiceResult<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || crate::auth::secrets::hash(&password)).await.map_err(ServiceError::internal)
}

/// Where an operator change came from: who (`Actor::full_name`) and, for the console,
/// the client address.
#[derive(Clone, Debug)]
pub struct Origin {
    pub actor: String,
    pub address: Option<String>,
}

impl Origin {
    /// The command line (`openwelkin operators …`, the demo's operator).
    pub fn cli() -> Origin {
        Origin { actor: crate::events::audit::Actor::system().full_name(), address: None }
    }
}

/// Writes one row of the server-wide operator audit in `tx`. `detail` never holds a
/// password: callers pass only names and reasons.
async fn audit(
    tx: &mut Tx,
    event: &str,
    operator: &str,
    origin: &Origin,
    detail: serde_json::Value,
    now_ms: i64,
) -> ServiceResult<()> {
    let row = OperatorEvent {
        id: crate::ids::new_event_id(now_ms),
        occurred_at: now_ms,
        event: event.to_string(),
        operator_name: operator.to_string(),
        actor: origin.actor.clone(),
        address: origin.address.clone(),
        detail: detail.to_string(),
    };
    Ok(operator_audit::insert(tx, &row).await?)
}

/// A page of the operator audit, newest first, with the number of rows in all.
pub async fn audit_page(db: &Db, offset: i64, limit: i64) -> ServiceResult<(Vec<OperatorEvent>, i64)> {
    Ok(db.operator_events(offset, limit).await?)
}

pub async fn create(db: &Db, name: &str, password: &str, origin: &Origin, now_ms: i64) -> ServiceResult<()> {
    check_name(name)?;
    check_password(password)?;
    let hashed = hash(password).await?;
    let mut tx = db.begin().await?;
    match store::insert_operator(&mut tx, &crate::ids::new_id(), name, &hashed, now_ms).await {
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(ServiceError::conflict(
                "OPERATOR_ALREADY_EXISTS",
                COMPONENT,
                format!("an operator named {name:?} exists"),
                serde_json::json!({"name": name}),
            ))
        }
        other => other?,
    }
    audit(&mut tx, "OPERATOR_CREATED", name, origin, serde_json::json!({}), now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Creates the operator unless one of that name exists (the demo's `demo`).
pub async fn ensure(db: &Db, name: &str, password: &str, now_ms: i64) -> ServiceResult<()> {
    if db.operator_by_name(name).await?.is_some() {
        return Ok(());
    }
    match create(db, name, password, &Origin::cli(), now_ms).await {
        // Another node made it meanwhile.
        Err(e) if e.kind == Kind::Conflict => Ok(()),
        other => other,
    }
}

pub async fn list(db: &Db) -> ServiceResult<Vec<Operator>> {
    Ok(db.operators().await?)
}

fn no_operator(name: &str) -> ServiceError {
    ServiceError::not_found("OPERATOR_NOT_FOUND", COMPONENT, "No such operator", serde_json::json!({"name": name}))
}

/// Disables the operator and ends their sessions.
pub async fn disable(db: &Db, name: &str, origin: &Origin, now_ms: i64) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    if !store::disable_operator(&mut tx, name, now_ms).await? {
        return Err(no_operator(name));
    }
    store::delete_sessions_of(&mut tx, name).await?;
    audit(&mut tx, "OPERATOR_DISABLED", name, origin, serde_json::json!({"sessionsEnded": true}), now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a new password (enabling the operator again) and ends their sessions.
pub async fn reset_password(db: &Db, name: &str, password: &str, origin: &Origin, now_ms: i64) -> ServiceResult<()> {
    check_password(password)?;
    let hashed = hash(password).await?;
    let mut tx = db.begin().await?;
    if !store::set_operator_password(&mut tx, name, &hashed, now_ms).await? {
        return Err(no_operator(name));
    }
    store::delete_sessions_of(&mut tx, name).await?;
    let detail = serde_json::json!({"enabled": true, "sessionsEnded": true});
    audit(&mut tx, "OPERATOR_PASSWORD_RESET", name, origin, detail, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// The digest under which a session token is stored.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The CSRF token of a session: derived from the session token, so it needs no storage
/// and cannot be made without the cookie.
pub fn csrf_token(session_token: &str) -> String {
    hex::encode(Sha256::digest(format!("openwelkin-console-csrf:{session_token}").as_bytes()))
}

/// Why a sign-in failed. Unknown names, wrong passwords and disabled operators look alike.
#[derive(Debug, PartialEq, Eq)]
pub enum SignInRefused {
    Throttled,
    BadCredentials,
}

/// A new session: the token for the cookie, and who it is for.
pub struct Session {
    pub token: String,
    pub operator: Operator,
}

/// Checks the throttles (per operator name and per client address), then the password,
/// and opens a session.
pub async fn sign_in(
    db: &Db,
    limits: SignInLimits,
    name: &str,
    password: &str,
    address: &str,
    now_ms: i64,
) -> ServiceResult<Result<Session, SignInRefused>> {
    let window = |limit| TokenLimit { limit, window_ms: 5 * 60 * 1000, block_ms: 5 * 60 * 1000 };
    // Both are counted on every attempt, so that a blocked address cannot probe names.
    let by_name =
        db.admit_token_request(&format!("console-operator:{name}"), now_ms, &window(limits.per_operator)).await?;
    let by_address =
        db.admit_token_request(&format!("console-address:{address}"), now_ms, &window(limits.per_address)).await?;
    // A throttled attempt writes no audit row: the attempts that led to the throttle are
    // recorded, and the throttle is what bounds how fast anyone can add rows.
    if by_name.is_err() || by_address.is_err() {
        return Ok(Err(SignInRefused::Throttled));
    }
    let operator = db.operator_by_name(name).await?;
    // An unknown name is checked against a hash of nothing anyone knows, so that both
    // cases take as long.
    let stored = operator.as_ref().map(|o| o.password_hash.clone()).unwrap_or_else(crate::app::dummy_hash);
    let given = password.to_string();
    let matches = tokio::task::spawn_blocking(move || crate::auth::secrets::verify(&given, &stored))
        .await
        .map_err(ServiceError::internal)?;
    let operator = match operator {
        Some(o) if matches && o.enabled => o,
        other => {
            let reason = match &other {
                Some(o) if matches && !o.enabled => "disabled",
                _ => "bad credentials",
            };
            refused(db, other.as_ref(), address, reason, now_ms).await?;
            return Ok(Err(SignInRefused::BadCredentials));
        }
    };
    let token = crate::auth::secrets::generate();
    let mut tx = db.begin().await?;
    store::insert_session(&mut tx, &token_digest(&token), &operator.id, now_ms, now_ms + SESSION_LIFETIME_MS).await?;
    let origin = Origin { actor: console_actor(&operator), address: Some(address.to_string()) };
    audit(&mut tx, "OPERATOR_SIGNED_IN", &operator.name, &origin, serde_json::json!({}), now_ms).await?;
    tx.commit().await?;
    Ok(Ok(Session { token, operator }))
}

/// The operator a session token belongs to, while the session lives.
pub async fn session(db: &Db, token: &str, now_ms: i64) -> ServiceResult<Option<Operator>> {
    Ok(db.operator_of_session(&token_digest(token), now_ms).await?)
}

fn console_actor(operator: &Operator) -> String {
    crate::events::audit::Actor::operator(&operator.id, &operator.name).full_name()
}

/// Records a refused sign-in. The name is kept only when an operator has it: an unknown
/// "name" may be a password typed into the wrong field.
async fn refused(db: &Db, operator: Option<&Operator>, address: &str, reason: &str, now_ms: i64) -> ServiceResult<()> {
    let name = operator.map(|o| o.name.as_str()).unwrap_or("(unknown)");
    let origin = Origin { actor: "ANONYMOUS".into(), address: Some(address.to_string()) };
    let mut tx = db.begin().await?;
    audit(&mut tx, "OPERATOR_SIGN_IN_REFUSED", name, &origin, serde_json::json!({"reason": reason}), now_ms).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn sign_out(db: &Db, token: &str, operator: &Operator, address: &str, now_ms: i64) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    store::delete_session(&mut tx, &token_digest(token)).await?;
    let origin = Origin { actor: console_actor(operator), address: Some(address.to_string()) };
    audit(&mut tx, "OPERATOR_SIGNED_OUT", &operator.name, &origin, serde_json::json!({}), now_ms).await?;
    tx.commit().await?;
    Ok(())
}
