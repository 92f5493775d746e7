//! What the admin API does with webhook logs and secrets (http-api.md
//! §9.10; secrets are ours: Standard Webhooks signing).

use chrono::{Duration, Utc};
use rocket_apps::AppContext;
use rocket_error::{Error, Result};
use rocket_store::Value;
use serde_json::{json, Value as Json};
use uuid::Uuid;

use crate::deliver::{backoff_is_linear, Delivery};
use crate::logs;
use crate::sign;
use crate::statements as q;

fn not_found() -> Error {
    Error::not_found("Webhook log not found")
}

pub async fn list_logs(app: &AppContext, webhook_id: &str, status: &str, entity: &str) -> Result<Json> {
    Ok(json!(logs::list(&app.db, webhook_id, status, entity).await?))
}

pub async fn get_log(app: &AppContext, id: &str) -> Result<Json> {
    let row = logs::get(&app.db, id).await?.ok_or_else(not_found)?;
    Ok(logs::render(&row))
}

/// Manual retry: `retrying`, due now, one more attempt (the counter is not
/// reset), sent by the queue at once.
pub async fn retry_log(app: &AppContext, id: &str) -> Result<Json> {
    let Ok(uuid) = Uuid::parse_str(id) else {
        return Err(not_found());
    };
    let now = Utc::now();
    let row = match app
        .db
        .query_opt(q::MARK_RETRY, &[Value::Uuid(uuid), Value::Timestamp(now)])
        .await?
    {
        Some(r) => r,
        None => {
            return Err(match logs::get(&app.db, id).await? {
                Some(_) => Error::validation("Can only retry failed or retrying webhook logs"),
                None => not_found(),
            })
        }
    };
    let log = logs::render(&row);
    let entity = row.string("entity");
    let webhook_id = row.string("webhook_id");
    let linear = app
        .registry()
        .logic(&entity)
        .and_then(|l| l.webhooks.iter().find(|w| w.id == webhook_id).cloned())
        .is_some_and(|w| backoff_is_linear(w.retry.backoff));
    let attempt = u32::try_from(row.i64("attempt").unwrap_or(0)).unwrap_or(0);
    let d = Delivery {
        log_id: uuid,
        webhook_id,
        entity,
        hook: row.string("hook"),
        url: row.string("url"),
        method: row.string("method"),
        headers: row
            .json("request_headers")
            .as_object()
            .cloned()
            .unwrap_or_default(),
        body: row.json("request_body"),
        key: row.string("idempotency_key"),
        attempt: attempt + 1,
        max_attempts: u32::try_from(row.i64("max_attempts").unwrap_or(1)).unwrap_or(1),
        linear,
        created_at: row.timestamp("created_at").unwrap_or(now),
    };
    app.queue
        .enqueue(d.job(None))
        .await
        .map_err(|e| Error::overloaded(format!("the retry cannot be queued: {e}")))?;
    let keys = [
        "id",
        "webhook_id",
        "entity",
        "hook",
        "url",
        "method",
        "status",
        "attempt",
        "max_attempts",
        "next_retry_at",
        "updated_at",
    ];
    Ok(Json::Object(
        keys.iter()
            .map(|k| (k.to_string(), log.get(*k).cloned().unwrap_or(Json::Null)))
            .collect(),
    ))
}

async fn webhook_uuid(app: &AppContext, id: &str) -> Result<Uuid> {
    let not_found = || Error::not_found("Webhook not found");
    let uuid = Uuid::parse_str(id).map_err(|_| not_found())?;
    app.db
        .query_opt(q::WEBHOOK_EXISTS, &[Value::Uuid(uuid)])
        .await?
        .ok_or_else(not_found)?;
    Ok(uuid)
}

/// Sets (or generates) the webhook's signing secret; the one it replaces
/// keeps signing for `grace`. The answer is the only place the secret is
/// ever shown.
pub async fn rotate_secret(
    app: &AppContext,
    id: &str,
    body: &Json,
    grace: std::time::Duration,
) -> Result<Json> {
    let uuid = webhook_uuid(app, id).await?;
    let secret = match body.get("secret") {
        None | Some(Json::Null) => sign::new_secret(),
        Some(Json::String(s)) if sign::key_of(s).is_some() => s.clone(),
        Some(_) => {
            return Err(Error::validation(
                "secret must be whsec_ followed by base64 of 16 to 128 bytes",
            ))
        }
    };
    let now = Utc::now();
    let until = now + Duration::from_std(grace).unwrap_or(Duration::zero());
    app.db
        .execute(
            q::ROTATE_SECRET,
            &[
                Value::Uuid(uuid),
                Value::text(&secret),
                Value::Timestamp(now),
                Value::Timestamp(until),
            ],
        )
        .await?;
    app.changed().await?;
    Ok(json!({
        "webhook_id": id,
        "secret": secret,
        "previous_valid_until": rocket_store::format_timestamp(&until),
    }))
}

/// Stops signing the webhook's deliveries.
pub async fn delete_secret(app: &AppContext, id: &str) -> Result<Json> {
    let uuid = webhook_uuid(app, id).await?;
    app.db.execute(q::DELETE_SECRET, &[Value::Uuid(uuid)]).await?;
    app.changed().await?;
    Ok(json!({"webhook_id": id, "signed": false}))
}
