//! The /v1 HTTP API: routes, the OpenAPI document generated from the handlers, and the layers
//! around them. Invariant: handlers only translate (extract, call storage, map the error); every
//! route is registered through the OpenAPI router, so the published spec cannot drift from it.

mod auth;
mod billing;
pub mod events;
mod extract;
mod footage;
mod members;
mod openapi;
mod pages;
mod projects;
mod sharing;
mod sync;
pub mod throttle;
mod uploads;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::IntoResponse;
use axum::Router;
use resonance_api::{ErrorCode, ErrorDetail};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::credentials::Keys;
use crate::db::Db;
use crate::error::error_response;
use crate::storage::accounts::SessionPolicy;

/// Requests larger than this are refused with 413 before they are parsed.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub keys: Keys,
    pub session_policy: SessionPolicy,
    pub storage: Arc<dyn object_store::ObjectStore>,
    /// Uploads: where their bytes go, and the largest accepted.
    pub uploads: crate::uploads::Uploads,
    /// Live events from the instance's LISTEN connection (see `events`).
    pub events: tokio::sync::broadcast::Sender<events::Broadcast>,
    pub billing: crate::billing::Billing,
    /// Argon2's share of the machine (sign-in and sign-up).
    pub password_slots: crate::credentials::PasswordSlots,
    /// Requests per client address on the endpoints anyone can call.
    pub auth_limiter: throttle::ClientLimiter,
    /// Requests per client address for shared videos.
    pub share_limiter: throttle::ClientLimiter,
    /// Outgoing e-mail (sign-up verification).
    pub mail: crate::mail::MailSettings,
    /// The oldest app served, and where a newer one is.
    pub clients: crate::config::ClientPolicy,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// The state of one server instance, from its settings.
    pub fn new(db: Db, settings: &crate::Settings, events: tokio::sync::broadcast::Sender<events::Broadcast>) -> Self {
        Self(Arc::new(Inner {
            uploads: crate::uploads::Uploads::new(db.clone(), settings.storage.clone(), settings.max_upload_bytes),
            db,
            keys: Keys::new(&settings.jwt_secret, settings.access_token_ttl),
            session_policy: SessionPolicy { refresh_ttl: settings.refresh_token_ttl, grace: settings.refresh_grace },
            storage: settings.storage.clone(),
            events,
            billing: crate::billing::Billing::new(settings.stripe.clone()),
            password_slots: crate::credentials::PasswordSlots::per_core(settings.hash_wait),
            auth_limiter: throttle::ClientLimiter::new(settings.auth_per_minute),
            share_limiter: throttle::ClientLimiter::new(settings.share_per_minute),
            mail: settings.mail.clone(),
            clients: settings.clients.clone(),
        }))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Resonance API", description = "The hosted backend of Resonance Desktop."),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "projects"), (name = "generations"), (name = "sharing"), (name = "uploads"), (name = "footage"), (name = "members"),
         (name = "activity"), (name = "billing"), (name = "sync"), (name = "health"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, spec) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::signup))
        .routes(routes!(auth::invitation))
        .routes(routes!(auth::token))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::verify_email))
        .routes(routes!(projects::list, projects::create))
        .routes(routes!(projects::get, projects::update, projects::delete))
        .routes(routes!(projects::generations_of, projects::start_generation))
        .routes(routes!(projects::generation))
        .routes(routes!(projects::video))
        .routes(routes!(projects::thumbnail))
        .routes(routes!(sharing::list, sharing::create))
        .routes(routes!(sharing::revoke))
        .routes(routes!(sharing::page))
        .routes(routes!(sharing::video))
        .routes(routes!(members::list, members::invite))
        .routes(routes!(members::change_role, members::remove))
        .routes(routes!(members::update_organization))
        .routes(routes!(members::system_logs))
        .routes(routes!(uploads::options, uploads::create))
        .routes(routes!(uploads::head, uploads::patch, uploads::terminate))
        .routes(routes!(footage::list))
        .routes(routes!(footage::update, footage::remove))
        .routes(routes!(footage::poster))
        .routes(routes!(footage::source))
        .routes(routes!(billing::webhook))
        .routes(routes!(billing::checkout))
        .routes(routes!(billing::portal))
        .routes(routes!(sync::pull))
        .routes(routes!(events::stream))
        .routes(routes!(sync::health))
        .split_for_parts();
    (router, spec)
}

/// The OpenAPI document, as served at /v1/openapi.json by a server that accepts uploads of up
/// to `max_upload_bytes`.
pub fn openapi(max_upload_bytes: u64) -> serde_json::Value {
    openapi::document(api().1, max_upload_bytes)
}

/// This server's address as browsers reach it, for links (Stripe's return, e-mail): the
/// configured public URL, else the address the request came to.
pub(crate) fn public_base(app: &AppState, headers: &axum::http::HeaderMap) -> String {
    match &app.billing.settings.public_url {
        Some(url) => url.clone(),
        None => {
            let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
            format!("http://{host}")
        }
    }
}

/// What an app of any version may still call: health (where it reads the minimum) and sign-out
/// (an outdated app on a shared computer must still be able to end its session on the server).
const SERVED_TO_ANY_APP: [&str; 2] = ["/v1/health", "/v1/auth/logout"];

/// Answers `426 client_outdated` to a Resonance app older than the server serves, before any
/// handler runs, so an old app learns it must be updated at its first request instead of failing
/// later on a changed contract. `SERVED_TO_ANY_APP` still answers it, and callers that are not a
/// Resonance app (browsers on a share page, curl) pass.
async fn refuse_outdated_clients(
    State(app): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let version = req
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|ua| ua.to_str().ok())
        .and_then(resonance_api::version::client_version);
    match version {
        Some(current) if current < app.clients.minimum && !SERVED_TO_ANY_APP.contains(&req.uri().path()) => {
            tracing::debug!(%current, minimum = %app.clients.minimum, "refused an outdated app");
            error_response(ErrorDetail {
                code: ErrorCode::ClientOutdated,
                message: resonance_api::version::update_advice(
                    current,
                    app.clients.minimum,
                    app.clients.download_url.as_deref(),
                ),
                field: None,
            })
            .into_response()
        }
        _ => next.run(req).await,
    }
}

/// The router as a service that knows each connection's client address (the auth endpoints'
/// rate is per address).
pub fn service(
    state: AppState,
) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, std::net::SocketAddr> {
    router(state).into_make_service_with_connect_info::<std::net::SocketAddr>()
}

pub fn router(state: AppState) -> Router {
    let (routes, spec) = api();
    // Written once: the document is the same for every request.
    let spec = axum::body::Bytes::from(
        serde_json::to_vec(&openapi::document(spec, state.uploads.max_bytes())).unwrap_or_default(),
    );
    routes
        .route("/v1/billing/return", axum::routing::get(billing::returned))
        .route(
            "/v1/openapi.json",
            axum::routing::get(move || async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], spec) }),
        )
        .fallback(|| async {
            error_response(ErrorDetail {
                code: ErrorCode::NotFound,
                message: "There is no such endpoint.".into(),
                field: None,
            })
        })
        .method_not_allowed_fallback(|| async {
            error_response(ErrorDetail {
                code: ErrorCode::MethodNotAllowed,
                message: "That method is not allowed on this endpoint; the Allow header lists those that are.".into(),
                field: None,
            })
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), refuse_outdated_clients))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            error_response(ErrorDetail {
                code: ErrorCode::Internal,
                message: "Something went wrong on the server; it has been logged.".into(),
                field: None,
            })
            .into_response()
        }))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            // The route, not the path: query strings may carry cursors, headers tokens, and a
            // path may itself be a secret (a share link's token plays the video). A request
            // that matched no route is named as such.
            let route = req.extensions().get::<axum::extract::MatchedPath>().map_or("(no route)", |m| m.as_str());
            tracing::info_span!("request", method = %req.method(), route = %route)
        }))
        .with_state(state)
}
