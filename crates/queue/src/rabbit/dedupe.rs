//! Dedupe keys for RabbitMQ, which has none of its own: a row in the app
//! database's `_queue_dedupe` (system migration V2) per live job with a key.
//! The insert happens before the publish (in the business transaction for
//! `enqueue_in`), and ack or bury delete the row. Fixed, dialect-neutral
//! statements (`$n` placeholders; the store rewrites them for SQLite).

use rocket_store::{Db, Tx, Value};
use uuid::Uuid;

use crate::driver::Result;
use crate::job::{now_ms, Enqueued, NewJob};

const CLAIM: &str =
    "INSERT INTO _queue_dedupe (kind, dedupe_key, job_id, created_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT DO NOTHING";
const HOLDER: &str = "SELECT job_id FROM _queue_dedupe WHERE kind = $1 AND dedupe_key = $2";
const RELEASE: &str = "DELETE FROM _queue_dedupe WHERE kind = $1 AND dedupe_key = $2 AND job_id = $3";

fn claim_params(job: &NewJob, key: &str) -> [Value; 4] {
    [
        Value::text(&job.kind),
        Value::text(key),
        Value::text(job.id.to_string()),
        Value::Int(now_ms()),
    ]
}

fn holder_of(row: Option<rocket_store::Row>) -> Option<Uuid> {
    row.and_then(|r| r.str("job_id"))
        .and_then(|s| Uuid::parse_str(&s).ok())
}

/// Takes the job's key: `New` when it was free (or the job has no key),
/// else `Duplicate` naming the job that holds it.
pub async fn claim(db: &Db, job: &NewJob) -> Result<Enqueued> {
    let Some(key) = &job.dedupe_key else {
        return Ok(Enqueued::New(job.id));
    };
    if db.execute(CLAIM, &claim_params(job, key)).await? == 1 {
        return Ok(Enqueued::New(job.id));
    }
    let row = db
        .query_opt(HOLDER, &[Value::text(&job.kind), Value::text(key)])
        .await?;
    Ok(Enqueued::Duplicate(holder_of(row)))
}

/// The same inside a business transaction: the key is taken if and only if
/// the transaction commits, like the outbox row beside it.
pub async fn claim_in(tx: &mut Tx, job: &NewJob) -> Result<bool> {
    let Some(key) = &job.dedupe_key else {
        return Ok(true);
    };
    Ok(tx.execute(CLAIM, &claim_params(job, key)).await? == 1)
}

/// Frees the key, only if this job still holds it.
pub async fn release(db: &Db, kind: &str, key: &str, id: Uuid) -> Result<()> {
    db.execute(
        RELEASE,
        &[Value::text(kind), Value::text(key), Value::text(id.to_string())],
    )
    .await?;
    Ok(())
}
