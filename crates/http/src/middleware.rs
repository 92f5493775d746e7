//! Per-request gates: app resolution, dual auth, platform auth, admin role.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use rocket_apps::AppContext;
use rocket_auth::verify_access_token;
use rocket_error::Error;

use crate::error::ApiError;
use crate::extract::{bearer, Principal};
use crate::AppState;

/// `/api/:app/...`: unknown or inactive app → 404 APP_NOT_FOUND before auth.
pub async fn resolve_app(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    // Nested routers see a stripped path; the original URI keeps `/api/:app`.
    let path = match req.extensions().get::<crate::FullPath>() {
        Some(p) => p.0.clone(),
        None => req.uri().path().to_string(),
    };
    let name = path.split('/').nth(2).unwrap_or_default().to_string();
    let app = state.platform.app(&name).await?;
    let traced = crate::traces::begin(&app, &mut req);
    req.extensions_mut().insert(app);
    let res = next.run(req).await;
    crate::traces::end(traced, &path, &res);
    Ok(res)
}

/// Dual auth: the app's secret first, then the platform secret (with admin).
pub async fn app_auth(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let app = req
        .extensions()
        .get::<Arc<AppContext>>()
        .cloned()
        .ok_or_else(|| Error::internal("app not resolved before auth"))?;
    let token = match bearer(req.headers()) {
        Ok(t) => t,
        Err(e) => return Ok(untraced(e)),
    };
    let principal = if let Some(c) = verify_access_token(&app.jwt_secret, token) {
        Principal {
            id: c.sub,
            roles: c.roles,
        }
    } else if let Some(c) = verify_access_token(&state.platform.config.platform_jwt_secret, token) {
        let mut roles = c.roles;
        roles.push("admin".into());
        Principal { id: c.sub, roles }
    } else {
        return Ok(untraced(Error::unauthorized("Invalid or expired token")));
    };
    if let Some(t) = req.extensions().get::<Arc<rocket_events::Trace>>() {
        t.set_user(&principal.id);
    }
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}

/// A refused authentication: answered, and not traced (§18.2).
fn untraced(e: Error) -> Response {
    use axum::response::IntoResponse;
    let mut res = ApiError::from(e).into_response();
    res.extensions_mut().insert(crate::traces::Untraced);
    res
}

pub async fn platform_auth(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = bearer(req.headers())?;
    let claims = verify_access_token(&state.platform.config.platform_jwt_secret, token)
        .ok_or_else(|| Error::unauthorized("Invalid or expired token"))?;
    req.extensions_mut().insert(Principal {
        id: claims.sub,
        roles: claims.roles,
    });
    Ok(next.run(req).await)
}

/// `/_admin`: the caller's roles must contain exactly `admin`.
pub async fn require_admin(req: Request, next: Next) -> Result<Response, ApiError> {
    match req.extensions().get::<Principal>() {
        Some(p) if p.is_admin() => Ok(next.run(req).await),
        Some(_) => Err(Error::forbidden("Admin access required").into()),
        None => Err(Error::unauthorized("Authentication required").into()),
    }
}
