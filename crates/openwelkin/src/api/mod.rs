//! The HTTP room: routes, extractors for scope and caller, the Welkin envelopes and error
//! format, and the cross-cutting layers (headers, request ids, limits, panics).

pub mod assessment_records;
pub mod audit;
pub mod billing;
pub mod body;
pub mod calendar;
pub mod caller;
pub mod calls;
pub mod care_plans;
pub mod cdts;
pub mod chat;
pub mod communication_ids;
pub mod contacts;
pub mod dictionaries;
pub mod documents;
pub mod email_drafts;
pub mod email_inbound;
pub mod emails;
pub mod emulator;
pub mod encounter_parts;
pub mod encounters;
pub mod error;
pub mod export;
pub mod faxes;
pub mod formations;
pub mod guard;
pub mod headers;
pub mod health;
pub mod json;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod paging;
pub mod params;
pub mod patient_programs;
pub mod patients;
pub mod pdts;
pub mod provider_caller;
pub mod reports;
pub mod retry;
pub mod schemas;
pub mod sms;
pub mod tasks;
pub mod templates;
pub mod token;
pub mod user_access;
pub mod users;
pub mod webhooks;

use crate::app::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use error::ApiError;
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Every route with its OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(token::issue))
        .routes(routes!(token::issue_docs_form))
        .routes(routes!(token::issue_docs_form_in_tenant))
        .routes(routes!(patients::create, patients::list))
        .routes(routes!(patients::read, patients::update, patients::delete))
        .routes(routes!(patients::by_filter))
        .routes(routes!(users::create, users::list))
        .routes(routes!(users::read, users::patch, users::replace, users::delete))
        .routes(routes!(users::list_in_instance))
        .routes(routes!(user_access::read_app_access, user_access::put_app_access))
        .routes(routes!(user_access::read_permissions, user_access::put_permissions))
        .routes(routes!(user_access::read_territories, user_access::put_territories))
        .routes(routes!(patient_programs::list))
        .routes(routes!(patient_programs::read_current))
        .routes(routes!(patient_programs::read_history))
        .routes(routes!(patient_programs::read, patient_programs::update, patient_programs::delete))
        .routes(routes!(patient_programs::change_phase))
        .routes(routes!(cdts::create, cdts::list, cdts::bulk_update))
        .routes(routes!(cdts::read, cdts::update, cdts::delete))
        .routes(routes!(pdts::create_profile, pdts::list_profiles))
        .routes(routes!(pdts::read_profile))
        .routes(routes!(pdts::patients_with))
        .routes(routes!(pdts::create_for_patient, pdts::list_for_patient))
        .routes(routes!(pdts::read_for_patient, pdts::update_for_patient, pdts::delete_for_patient))
        .routes(routes!(contacts::create, contacts::list))
        .routes(routes!(contacts::list_slash))
        .routes(routes!(contacts::read, contacts::update))
        .routes(routes!(tasks::create, tasks::search, tasks::batch_update))
        .routes(routes!(tasks::read, tasks::update))
        .routes(routes!(tasks::add_watcher))
        .routes(routes!(tasks::remove_watcher))
        .routes(routes!(tasks::add_comment))
        .routes(routes!(tasks::remove_comment))
        .routes(routes!(care_plans::read))
        .routes(routes!(care_plans::create_overview, care_plans::update_overview))
        .routes(routes!(care_plans::create_goal, care_plans::list_goals))
        .routes(routes!(care_plans::read_goal, care_plans::update_goal))
        .routes(routes!(care_plans::list_goal_comments, care_plans::create_goal_comment))
        .routes(routes!(care_plans::list_goal_tasks, care_plans::create_goal_task))
        .routes(routes!(dictionaries::list, dictionaries::add, dictionaries::replace_all))
        .routes(routes!(dictionaries::read, dictionaries::update, dictionaries::delete))
        .routes(routes!(assessment_records::create, assessment_records::list))
        .routes(routes!(assessment_records::read, assessment_records::update, assessment_records::delete))
        .routes(routes!(assessment_records::answers))
        .routes(routes!(encounters::create, encounters::list))
        .routes(routes!(encounters::read, encounters::update, encounters::delete))
        .routes(routes!(encounters::list_full))
        .routes(routes!(encounters::read_full))
        .routes(routes!(encounters::list_for_user))
        .routes(routes!(encounters::list_full_for_user))
        .routes(routes!(encounter_parts::comments, encounter_parts::add_comment))
        .routes(routes!(encounter_parts::comment, encounter_parts::update_comment, encounter_parts::delete_comment))
        .routes(routes!(encounter_parts::links, encounter_parts::add_link))
        .routes(routes!(encounter_parts::read_link, encounter_parts::update_link, encounter_parts::delete_link))
        .routes(routes!(encounter_parts::disposition, encounter_parts::update_disposition))
        .routes(routes!(documents::create, documents::list))
        .routes(routes!(documents::read, documents::update, documents::delete))
        .routes(documents::upload_routes())
        .routes(routes!(documents::download))
        .routes(routes!(
            documents::read_type_record,
            documents::create_type_record,
            documents::update_type_record,
            documents::delete_type_record
        ))
        .routes(routes!(billing::add_method, billing::list_methods))
        .routes(routes!(billing::read_method, billing::delete_method))
        .routes(routes!(billing::create_subscription, billing::list_subscriptions))
        .routes(routes!(billing::read_subscription))
        .routes(routes!(billing::cancel_subscription))
        .routes(routes!(billing::create_invoice, billing::list_invoices))
        .routes(routes!(billing::read_invoice, billing::update_invoice))
        .routes(routes!(billing::add_payment))
        .routes(routes!(billing::list_patient_invoices))
        .routes(routes!(billing::list_encounter_invoices))
        .routes(routes!(billing::list_payments))
        .routes(routes!(billing::read_payment))
        .routes(routes!(emails::send, emails::list))
        .routes(routes!(emails::read, emails::update, emails::patch, emails::post_update, emails::delete))
        .routes(routes!(emails::attachment))
        .routes(routes!(email_drafts::create, email_drafts::list))
        .routes(routes!(email_drafts::read, email_drafts::update, email_drafts::replace, email_drafts::delete))
        .routes(routes!(email_drafts::send))
        .routes(routes!(email_inbound::receive))
        .routes(routes!(email_inbound::list_unrecognized))
        .routes(routes!(
            email_inbound::read_unrecognized,
            email_inbound::update_unrecognized,
            email_inbound::post_unrecognized,
            email_inbound::delete_unrecognized
        ))
        .routes(routes!(email_inbound::docs_list))
        .routes(routes!(email_inbound::docs_read, email_inbound::docs_resolve))
        .routes(routes!(email_inbound::docs_attachment))
        .routes(routes!(email_inbound::outbox))
        .routes(routes!(formations::publish))
        .routes(routes!(formations::disposition, formations::replace_disposition))
        .routes(routes!(formations::assessment_cdt))
        .routes(routes!(formations::pdts))
        .routes(routes!(formations::pdt))
        .routes(routes!(formations::list, formations::create))
        .routes(routes!(formations::read, formations::replace, formations::remove))
        .routes(routes!(formations::list_singular, formations::create_singular))
        .routes(routes!(formations::read_singular, formations::replace_singular, formations::remove_singular))
        .routes(routes!(calendar::create_event, calendar::find_events))
        .routes(routes!(calendar::find_events_slash))
        .routes(routes!(calendar::read_event, calendar::replace_event, calendar::patch_event, calendar::delete_event))
        .routes(routes!(calendar::invitation_response))
        .routes(routes!(calendar::event_summary))
        .routes(routes!(calendar::schedules))
        .routes(routes!(calendar::available_schedules))
        .routes(routes!(calendar::full_schedules))
        .routes(routes!(calendar::create_work_hours, calendar::list_work_hours))
        .routes(routes!(calendar::read_work_hours, calendar::replace_work_hours))
        .routes(routes!(sms::create, sms::list))
        .routes(routes!(sms::read, sms::update, sms::update_patch, sms::update_post, sms::delete))
        .routes(routes!(sms::list_unrecognized))
        .routes(routes!(
            sms::read_unrecognized,
            sms::assign_unrecognized,
            sms::assign_unrecognized_patch,
            sms::assign_unrecognized_post,
            sms::delete_unrecognized
        ))
        .routes(routes!(sms::docs_list))
        .routes(routes!(sms::docs_read, sms::docs_resolve))
        .routes(routes!(sms::inbound))
        .routes(routes!(sms::status_report))
        .routes(routes!(sms::outbox))
        .routes(routes!(communication_ids::create, communication_ids::list))
        .routes(routes!(communication_ids::read, communication_ids::update, communication_ids::delete))
        .routes(routes!(chat::inbound))
        .routes(routes!(chat::inbound_v8))
        .routes(routes!(chat::list))
        .routes(routes!(chat::list_v8))
        .routes(routes!(chat::search))
        .routes(routes!(chat::search_v8))
        .routes(routes!(chat::archive))
        .routes(routes!(chat::restore))
        .routes(routes!(chat::archive_v8))
        .routes(routes!(chat::restore_v8))
        .routes(routes!(chat::send, chat::messages))
        .routes(routes!(chat::search_docs))
        .routes(routes!(chat::read_webhook, chat::put_webhook, chat::delete_webhook))
        .routes(routes!(calls::inbound))
        .routes(routes!(faxes::send, faxes::list))
        .routes(routes!(faxes::read, faxes::update))
        .routes(routes!(reports::phase_distribution))
        .routes(routes!(calls::list))
        .routes(routes!(calls::read))
        .routes(routes!(calls::recording))
        .routes(routes!(calls::list_unrecognized))
        .routes(routes!(calls::read_unrecognized, calls::resolve_unrecognized))
        .routes(routes!(templates::list, templates::create))
        .routes(routes!(templates::read, templates::replace, templates::delete))
        .routes(routes!(templates::resolve))
        .routes(routes!(templates::send, templates::list_communications))
        .routes(routes!(templates::read_communication))
        .routes(routes!(audit::data))
        .routes(routes!(export::export))
        .routes(routes!(audit::webhook))
        .routes(routes!(audit::security))
        .routes(routes!(webhooks::list))
        .routes(routes!(webhooks::activate))
        .routes(routes!(webhooks::deactivate))
        .routes(routes!(webhooks::test))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
}

pub fn router(state: AppState) -> Router {
    let (routes, doc) = api_router().split_for_parts();
    // Served as bytes made once: the document's tree (about 4 MB of small allocations)
    // is not kept, nor cloned and serialized again for each request.
    let document = openapi::served(openapi::complete(doc));
    let request_id = HeaderName::from_static("x-request-id");
    // Only mounted when enabled, so a production server has no such paths at all.
    let routes = if state.emulator.is_some() { routes.merge(emulator::routes()) } else { routes };
    let faults = state.emulator.as_ref().map(|e| e.faults.clone());
    let routes = match faults {
        Some(f) => routes.layer(axum::middleware::from_fn_with_state(f, emulator::inject)),
        None => routes,
    };
    // The web console: its own room (`console/`), outside the fault injection.
    let routes = if state.console.is_some() { routes.merge(crate::console::routes(state.clone())) } else { routes };
    // Here unless `serve --metrics-listen` serves it elsewhere; outside the fault injection.
    let routes = match &state.metrics {
        Some(exporter) => routes.merge(metrics::route(exporter.clone())),
        None => routes,
    };
    routes
        .route("/openapi.json", axum::routing::get(move || std::future::ready(document.clone())))
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/openapi.json")))
        .fallback(|| async { not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "REQUEST",
                "Method not allowed",
                json!({}),
            )
        })
        // Every route's middleware, outermost first, applied as one layer: `Router::layer`
        // wraps each route in a box per call, and the matched route's service is cloned
        // for every request, box by box (eight layers were 37 nested clones and 49
        // allocations a request, about a sixth of a read's instructions). They stay
        // per route, not around the router, because `observe` and `guard` read the
        // route's `MatchedPath`.
        .layer(
            tower::ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(request_id))
                // Metrics, the request's span and its access line, around everything but
                // the request id, which it reads (a 5xx is also logged where it is made,
                // once and with its cause: an internal error with its reference, a full
                // disk once per period); inside it the CORS headers, outside the panic
                // catcher so that even a 500 from a panic carries them; inside those the
                // request head's checks (URI and header limits, path decoding) before any
                // extractor, and plain-text rejections into the error format. One layer
                // (`observe::edge`), one box for all three.
                .layer(axum::middleware::from_fn(observe::edge))
                .layer(CatchPanicLayer::custom(|_| ApiError::internal("handler panicked").into_response()))
                .layer(DefaultBodyLimit::max(BODY_LIMIT))
                // Inside the body limit and the panic catcher: a request that failed on a
                // broken database connection before committing runs again (`retry.rs`).
                .layer(axum::middleware::from_fn(retry::retry_broken_transactions)),
        )
        .with_state(state)
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "REQUEST", "No such endpoint", json!({}))
}
