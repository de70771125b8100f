//! The provider side of SMS (openwelkin extensions): the inbound webhook
//! (`/{tenant}/{instance}/providers/sms/inbound`) and delivery reports
//! (`…/providers/sms/status`), in Twilio's form fields or JSON, answered with TwiML or
//! JSON; and the local outbox (`…/outbox/sms`). The callbacks take a bearer token or
//! Twilio's signature (`api::provider_caller`). The use cases are
//! `services::sms::provider`.

use super::phone_param;
use crate::api::body::JsonObject;
use crate::api::caller::InstanceCaller;
use crate::api::error::{ApiError, ApiResult, ErrorItem};
use crate::api::json::Json;
use crate::api::paging::{PageRequest, SpringPage};
use crate::api::params::Params;
use crate::api::provider_caller::ProviderCaller;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::services::sms::provider as service;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// A provider's request body: form fields (`application/x-www-form-urlencoded`, as
/// Twilio sends them) or a JSON object with the same names.
pub struct ProviderForm {
    /// The fields by name (the last of a repeated name).
    pub fields: Map<String, Value>,
    /// A form's parameters as sent, which Twilio's signature covers; `None` for JSON.
    pub pairs: Option<Vec<(String, String)>>,
}

impl<S: Send + Sync> FromRequest<S> for ProviderForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
        if is_json {
            let JsonObject(fields) = JsonObject::from_request(req, state).await?;
            return Ok(ProviderForm { fields, pairs: None });
        }
        let bytes = Bytes::from_request(req, state).await.map_err(crate::api::body::unreadable)?;
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
        let mut fields = Map::new();
        for (k, v) in &pairs {
            crate::api::body::no_nul(k, k)?;
            crate::api::body::no_nul(k, v)?;
            fields.insert(k.clone(), Value::String(v.clone()));
        }
        Ok(ProviderForm { fields, pairs: Some(pairs) })
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("application/json"))
}

/// The answer to a provider: the SMS as JSON when asked for (`Accept: application/json`),
/// else an empty TwiML document, which is what Twilio expects.
fn provider_answer(headers: &HeaderMap, s: &Value) -> Response {
    if wants_json(headers) {
        return Json(s.clone()).into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
    )
        .into_response()
}

/// Receive an inbound SMS in Twilio's webhook form (`From`, `To`, `Body`, `MessageSid`;
/// an openwelkin extension). From a number exactly one patient of the instance has (phone
/// or secondary phone), it becomes that patient's `RECEIVED` SMS; otherwise an
/// `UNRECOGNISED` one, listed under `/unrecognized-patients/sms` until assigned. A
/// `MessageSid` seen before returns the stored message (providers retry). Without a
/// bearer token, the request must carry Twilio's `X-Twilio-Signature` (see
/// docs/PROVIDERS.md); a bad or missing one is 403 and nothing is stored.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/providers/sms/inbound", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("X-Twilio-Signature" = Option<String>, Header, description = "Twilio's signature; needed when there is no bearer token")),
    request_body(content((crate::api::schemas::providers::TwilioInboundSms = "application/x-www-form-urlencoded"), (crate::api::schemas::providers::TwilioInboundSms = "application/json"))),
    responses((status = 200, description = "The SMS as JSON with Accept: application/json, else an empty TwiML <Response/>"),
              (status = 400, body = Vec<ErrorItem>), (status = 401, body = Vec<ErrorItem>),
              (status = 403, body = Vec<ErrorItem>, description = "INVALID_PROVIDER_SIGNATURE, or outside the client's policy")),
    security(("bearer" = []), ()),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn inbound(
    State(state): State<AppState>,
    caller: ProviderCaller,
    Path(_path): Path<(String, String)>,
    headers: HeaderMap,
    form: ProviderForm,
) -> ApiResult<Response> {
    let ctx = caller.twilio(&state, form.pairs.as_deref()).await?;
    ctx.require(Family::Sms, Op::Create)?;
    Ok(provider_answer(&headers, &service::inbound(&state, &ctx, &form.fields).await?))
}

/// Record a provider's delivery report in Twilio's status-callback form (`MessageSid`,
/// `MessageStatus`: `sent`, `delivered`, `undelivered`, `failed`; an openwelkin
/// extension). Reports never move a message back (they may arrive out of order); others
/// (`queued`, `sending`, …) are acknowledged and change nothing. Without a bearer token,
/// the request must carry Twilio's `X-Twilio-Signature`.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/providers/sms/status", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("X-Twilio-Signature" = Option<String>, Header, description = "Twilio's signature; needed when there is no bearer token")),
    request_body(content((crate::api::schemas::providers::TwilioStatusReport = "application/x-www-form-urlencoded"), (crate::api::schemas::providers::TwilioStatusReport = "application/json"))),
    responses((status = 200, description = "The SMS as JSON with Accept: application/json, else an empty TwiML <Response/>"),
              (status = 400, body = Vec<ErrorItem>), (status = 401, body = Vec<ErrorItem>),
              (status = 403, body = Vec<ErrorItem>, description = "INVALID_PROVIDER_SIGNATURE, or outside the client's policy"),
              (status = 404, body = Vec<ErrorItem>, description = "SMS_NOT_FOUND {externalId}")),
    security(("bearer" = []), ()),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn status_report(
    State(state): State<AppState>,
    caller: ProviderCaller,
    Path(_path): Path<(String, String)>,
    headers: HeaderMap,
    form: ProviderForm,
) -> ApiResult<Response> {
    let ctx = caller.twilio(&state, form.pairs.as_deref()).await?;
    ctx.require(Family::Sms, Op::Update)?;
    Ok(provider_answer(&headers, &service::status_report(&state, &ctx, &form.fields).await?))
}

/// What the local outbox provider recorded (an openwelkin extension): a Spring page of
/// `{id, smsId, externalId, from, to, message, queuedAt}`, oldest first.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/outbox/sms", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("to" = Option<String>, Query), ("smsId" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn outbox(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Sms, Op::Read)?;
    let page = PageRequest::parse(&params, |_| None)?;
    let to = phone_param(&params, "to");
    let sms_id = params.text("smsId");
    let (items, total) =
        service::outbox(&state, &ctx, to.as_deref(), sms_id.as_deref(), page.offset(), page.size).await?;
    Ok(Json(SpringPage::new(items, &page, total)))
}
