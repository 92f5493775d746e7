//! HTTP surface: routes, extractors, middleware and the error envelope.
//! Thin by design: handlers parse, call the layers below, and render.

mod envelope;
pub mod error;
pub mod extract;
mod input;
mod metrics;
mod middleware;
mod routes;
pub mod traces;

use std::sync::Arc;

use axum::http::{HeaderValue, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;
use rocket_apps::Platform;
use rocket_error::Error;

pub use error::{ApiError, ApiResult};

#[derive(Clone)]
pub struct AppState {
    pub platform: Arc<Platform>,
}

async fn not_found() -> ApiError {
    Error::not_found("Route not found").into()
}

/// The full router. Trailing slashes are trimmed before routing by the server.
pub fn router(state: AppState) -> Router {
    metrics::init();
    let body_limit = state.platform.config.server.body_limit;

    let platform_public = Router::new()
        .route("/auth/login", post(routes::platform::login))
        .route("/auth/refresh", post(routes::platform::refresh))
        .route("/auth/logout", post(routes::platform::logout));
    let platform_private = Router::new()
        .route(
            "/apps",
            get(routes::platform::list_apps).post(routes::platform::create_app),
        )
        .route(
            "/apps/{name}",
            get(routes::platform::get_app).delete(routes::platform::delete_app),
        )
        .route("/ai/status", get(routes::ai::status))
        .layer(from_fn_with_state(state.clone(), middleware::platform_auth));

    let app_public = Router::new()
        .route("/auth/login", post(routes::app_auth::login))
        .route("/auth/refresh", post(routes::app_auth::refresh))
        .route("/auth/logout", post(routes::app_auth::logout))
        .route("/auth/accept-invite", post(routes::admin_access::accept_invite));
    use rocket_admin::logic::Kind;
    use routes::admin_access as aa;
    use routes::admin_schema as sa;
    let admin = Router::new()
        .route("/entities", get(sa::list_entities).post(sa::create_entity))
        .route(
            "/entities/{name}",
            get(sa::get_entity)
                .put(sa::update_entity)
                .delete(sa::delete_entity),
        )
        .route("/relations", get(sa::list_relations).post(sa::create_relation))
        .route(
            "/relations/{name}",
            get(sa::get_relation)
                .put(sa::update_relation)
                .delete(sa::delete_relation),
        )
        .route(
            "/ui-configs",
            get(routes::ui_configs::list).post(routes::ui_configs::create),
        )
        .route(
            "/ui-configs/{id}",
            get(routes::ui_configs::get)
                .put(routes::ui_configs::update)
                .delete(routes::ui_configs::delete),
        )
        .route("/ai/status", get(routes::ai::status))
        .route("/ai/generate", post(routes::ai::generate))
        .route("/export", get(routes::transfer::export))
        .route("/import", post(routes::transfer::import))
        .route("/rules", routes::admin_logic::collection(Kind::Rule))
        .route("/rules/{id}", routes::admin_logic::item(Kind::Rule))
        .route(
            "/state-machines",
            routes::admin_logic::collection(Kind::StateMachine),
        )
        .route(
            "/state-machines/{id}",
            routes::admin_logic::item(Kind::StateMachine),
        )
        .route("/workflows", routes::admin_logic::collection(Kind::Workflow))
        .route("/workflows/{id}", routes::admin_logic::item(Kind::Workflow))
        .route("/webhooks", routes::admin_logic::collection(Kind::Webhook))
        .route("/webhooks/{id}", routes::admin_logic::item(Kind::Webhook))
        .route(
            "/webhooks/{id}/secret",
            post(routes::admin_webhooks::rotate_secret).delete(routes::admin_webhooks::delete_secret),
        )
        .route("/webhook-logs", get(routes::admin_webhooks::list_logs))
        .route("/webhook-logs/{id}", get(routes::admin_webhooks::get_log))
        .route(
            "/webhook-logs/{id}/retry",
            post(routes::admin_webhooks::retry_log),
        )
        .route("/users", get(aa::list_users).post(aa::create_user))
        .route(
            "/users/{id}",
            get(aa::get_user).put(aa::update_user).delete(aa::delete_user),
        )
        .route(
            "/permissions",
            get(aa::list_permissions).post(aa::create_permission),
        )
        .route(
            "/permissions/{id}",
            get(aa::get_permission)
                .put(aa::update_permission)
                .delete(aa::delete_permission),
        )
        .route("/invites", get(aa::list_invites).post(aa::create_invite))
        .route("/invites/bulk", post(aa::bulk_invites))
        .route("/invites/{id}", axum::routing::delete(aa::delete_invite))
        .route("/queue", get(routes::admin_queue::stats))
        .route(
            "/queue/dead",
            get(routes::admin_queue::list_dead).delete(routes::admin_queue::delete_all),
        )
        .route("/queue/dead/requeue", post(routes::admin_queue::requeue_all))
        .route(
            "/queue/dead/{id}",
            axum::routing::delete(routes::admin_queue::delete_one),
        )
        .route("/queue/dead/{id}/requeue", post(routes::admin_queue::requeue_one))
        .fallback(not_found)
        .layer(from_fn(middleware::require_admin));
    let app_private = Router::new()
        .nest("/_admin", admin)
        .route("/_events", get(routes::events::list).post(routes::events::emit))
        .route(
            "/_events/batch",
            post(routes::events::batch).layer(axum::extract::DefaultBodyLimit::max(
                state.platform.config.instrumentation.batch_max_bytes,
            )),
        )
        .route("/_events/trace/{id}", get(routes::events::trace))
        .route("/_events/stats", get(routes::events::stats))
        .route(
            "/_files/upload",
            post(routes::files::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/_files", get(routes::files::list))
        .route(
            "/_files/{id}",
            get(routes::files::serve).delete(routes::files::delete),
        )
        .route("/_openapi", get(routes::openapi::app))
        .route("/_ui/configs", get(routes::ui_configs::read_all))
        .route("/_ui/config/{entity}", get(routes::ui_configs::read_one))
        .route(
            "/{entity}",
            get(routes::records::list).post(routes::records::create),
        )
        .route(
            "/{entity}/{id}",
            get(routes::records::get)
                .put(routes::records::update)
                .delete(routes::records::delete),
        )
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), middleware::app_auth));
    let app = app_public
        .merge(app_private)
        .layer(from_fn_with_state(state.clone(), middleware::resolve_app));

    let mut root = Router::new()
        .route("/health", get(routes::health::health))
        .route("/health/live", get(routes::health::live))
        .route("/health/ready", get(routes::health::ready))
        .route("/openapi.json", get(routes::openapi::platform));
    if state.platform.config.metrics.on_main_listener() {
        root = root.route("/metrics", get(metrics::render));
    }
    root.nest("/api/_platform", platform_public.merge(platform_private))
        .nest("/api/{app}", app)
        .fallback(not_found)
        // One `Router::layer` for the whole stack (outermost first): axum wraps
        // every route in a boxed `Route` per `layer` call and clones the boxed
        // stack below each layer on every request, so five separate calls cost
        // a few dozen allocations per request that this composite does not.
        .layer(
            tower::ServiceBuilder::new()
                .layer(from_fn(trace_id))
                .layer(from_fn(metrics::track))
                .layer(from_fn(envelope::ensure))
                .layer(axum::extract::DefaultBodyLimit::max(body_limit))
                .layer(from_fn(input::reject_nul_path)),
        )
        .with_state(state)
}

/// `/metrics` alone, for the separate `metrics.listen` listener.
pub fn metrics_router(state: AppState) -> Router {
    metrics::init();
    Router::new()
        .route("/metrics", get(metrics::render))
        .fallback(not_found)
        .layer(from_fn(envelope::ensure))
        .with_state(state)
}

/// The request path before nested routers strip their prefix.
#[derive(Clone)]
pub(crate) struct FullPath(pub String);

/// Records the full path and echoes a valid incoming `X-Trace-ID` or assigns a fresh one.
async fn trace_id(
    mut req: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = FullPath(req.uri().path().to_string());
    req.extensions_mut().insert(path);
    let id = req
        .headers()
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v).ok())
        .unwrap_or_else(uuid::Uuid::new_v4);
    req.extensions_mut().insert(traces::TraceId(id));
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        res.headers_mut().insert("x-trace-id", v);
    }
    res
}
