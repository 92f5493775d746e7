//! The fixed SQL of `_webhook_logs` and `_webhook_secrets`. The batched
//! upsert takes its rows as one JSON array parameter, expanded per dialect.

use rocket_store::Db;

const PG_UPSERT: &str = r#"INSERT INTO _webhook_logs (id, webhook_id, entity, hook, url, method, request_headers, request_body, response_status, response_body, status, attempt, max_attempts, next_retry_at, error, idempotency_key, created_at, updated_at)
SELECT r.id, r.webhook_id, r.entity, r.hook, r.url, r.method, r.request_headers, r.request_body, r.response_status, r.response_body, r.status, r.attempt, r.max_attempts, r.next_retry_at, r.error, r.idempotency_key, r.created_at, r.updated_at
FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, webhook_id uuid, entity text, hook text, url text, method text, request_headers jsonb, request_body jsonb, response_status int, response_body text, status text, attempt int, max_attempts int, next_retry_at timestamptz, error text, idempotency_key text, created_at timestamptz, updated_at timestamptz)
WHERE EXISTS (SELECT 1 FROM _webhooks w WHERE w.id = r.webhook_id)
ON CONFLICT (id) DO UPDATE SET request_headers = EXCLUDED.request_headers, response_status = EXCLUDED.response_status, response_body = EXCLUDED.response_body, status = EXCLUDED.status, attempt = EXCLUDED.attempt, max_attempts = EXCLUDED.max_attempts, next_retry_at = EXCLUDED.next_retry_at, error = EXCLUDED.error, updated_at = EXCLUDED.updated_at"#;

const SQLITE_UPSERT: &str = r#"INSERT INTO _webhook_logs (id, webhook_id, entity, hook, url, method, request_headers, request_body, response_status, response_body, status, attempt, max_attempts, next_retry_at, error, idempotency_key, created_at, updated_at)
SELECT json_extract(r.value, '$.id'), json_extract(r.value, '$.webhook_id'), json_extract(r.value, '$.entity'), json_extract(r.value, '$.hook'), json_extract(r.value, '$.url'), json_extract(r.value, '$.method'), json(json_extract(r.value, '$.request_headers')), json(json_extract(r.value, '$.request_body')), json_extract(r.value, '$.response_status'), json_extract(r.value, '$.response_body'), json_extract(r.value, '$.status'), json_extract(r.value, '$.attempt'), json_extract(r.value, '$.max_attempts'), json_extract(r.value, '$.next_retry_at'), json_extract(r.value, '$.error'), json_extract(r.value, '$.idempotency_key'), json_extract(r.value, '$.created_at'), json_extract(r.value, '$.updated_at')
FROM json_each($1) AS r
WHERE EXISTS (SELECT 1 FROM _webhooks w WHERE w.id = json_extract(r.value, '$.webhook_id'))
ON CONFLICT (id) DO UPDATE SET request_headers = excluded.request_headers, response_status = excluded.response_status, response_body = excluded.response_body, status = excluded.status, attempt = excluded.attempt, max_attempts = excluded.max_attempts, next_retry_at = excluded.next_retry_at, error = excluded.error, updated_at = excluded.updated_at"#;

pub fn upsert(db: &Db) -> &'static str {
    match db {
        Db::Pg(_) => PG_UPSERT,
        Db::Sqlite(_) => SQLITE_UPSERT,
    }
}

pub const LIST: &str = "SELECT * FROM _webhook_logs WHERE ($1 = '' OR CAST(webhook_id AS TEXT) = $1) AND ($2 = '' OR status = $2) AND ($3 = '' OR entity = $3) ORDER BY created_at DESC, id LIMIT 200";

pub const GET: &str = "SELECT * FROM _webhook_logs WHERE id = $1";

/// Claims retry attempt `$2` of a log: only one sender per attempt, however
/// many jobs carry it (a scheduled retry and a manual one).
pub const CLAIM: &str =
    "UPDATE _webhook_logs SET attempt = $2, updated_at = $3 WHERE id = $1 AND attempt < $2 AND status <> 'delivered'";

pub const EXISTS: &str = "SELECT 1 AS one FROM _webhook_logs WHERE id = $1";

/// Manual retry: only failed or retrying logs, due now.
pub const MARK_RETRY: &str = "UPDATE _webhook_logs SET status = 'retrying', next_retry_at = $2, updated_at = $2 WHERE id = $1 AND status IN ('failed', 'retrying') RETURNING *";

pub const WEBHOOK_EXISTS: &str = "SELECT id FROM _webhooks WHERE id = $1";

/// Sets the secret; the one it replaces keeps signing until `$4`.
pub const ROTATE_SECRET: &str = "INSERT INTO _webhook_secrets (webhook_id, secret, previous, previous_until, updated_at) VALUES ($1, $2, NULL, NULL, $3) \
     ON CONFLICT (webhook_id) DO UPDATE SET previous = _webhook_secrets.secret, previous_until = $4, secret = excluded.secret, updated_at = excluded.updated_at";

pub const DELETE_SECRET: &str = "DELETE FROM _webhook_secrets WHERE webhook_id = $1";
