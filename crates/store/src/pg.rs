//! PostgreSQL: a deadpool of tokio-postgres clients, each with its own
//! prepared-statement cache, and a bounded checkout wait (503 on timeout).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime};
use postgres_types::{ToSql, Type};
use tokio_postgres::NoTls;

use crate::error::{StoreError, StoreErrorKind};
use crate::{PoolStats, Result, Rows, Value};

#[derive(Debug, Clone)]
pub struct PgSettings {
    pub config: tokio_postgres::Config,
    pub max_size: usize,
    pub checkout_timeout: Duration,
}

pub struct PgDb {
    pool: Pool,
    timeouts: AtomicU64,
    /// Kept for the dedicated (unpooled) connections LISTEN needs.
    config: tokio_postgres::Config,
}

fn params_ref(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn decode(row: &tokio_postgres::Row, i: usize, ty: &Type) -> Result<Value> {
    fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
        v.map_or(Value::Null, f)
    }
    Ok(match *ty {
        Type::BOOL => opt(row.try_get::<_, Option<bool>>(i)?, Value::Bool),
        Type::INT2 => opt(row.try_get::<_, Option<i16>>(i)?, |v| Value::Int(v.into())),
        Type::INT4 => opt(row.try_get::<_, Option<i32>>(i)?, |v| Value::Int(v.into())),
        Type::INT8 => opt(row.try_get::<_, Option<i64>>(i)?, Value::Int),
        Type::FLOAT4 => opt(row.try_get::<_, Option<f32>>(i)?, |v| Value::Float(v.into())),
        Type::FLOAT8 => opt(row.try_get::<_, Option<f64>>(i)?, Value::Float),
        Type::NUMERIC => opt(row.try_get::<_, Option<rust_decimal::Decimal>>(i)?, |d| {
            use rust_decimal::prelude::ToPrimitive;
            match d.to_i64() {
                Some(n) if d.fract().is_zero() => Value::Int(n),
                _ => Value::Float(d.to_f64().unwrap_or(0.0)),
            }
        }),
        Type::UUID => opt(row.try_get::<_, Option<uuid::Uuid>>(i)?, Value::Uuid),
        Type::TIMESTAMPTZ => opt(
            row.try_get::<_, Option<chrono::DateTime<chrono::Utc>>>(i)?,
            Value::Timestamp,
        ),
        Type::TIMESTAMP => opt(row.try_get::<_, Option<chrono::NaiveDateTime>>(i)?, |t| {
            Value::Timestamp(t.and_utc())
        }),
        Type::DATE => opt(row.try_get::<_, Option<chrono::NaiveDate>>(i)?, Value::Date),
        Type::JSON | Type::JSONB => opt(row.try_get::<_, Option<serde_json::Value>>(i)?, Value::Json),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => {
            opt(row.try_get::<_, Option<Vec<String>>>(i)?, Value::TextList)
        }
        _ => match row.try_get::<_, Option<String>>(i) {
            Ok(v) => opt(v, Value::Text),
            Err(_) => return Err(StoreError::other(format!("unsupported column type {ty}"))),
        },
    })
}

fn decode_rows(rows: Vec<tokio_postgres::Row>, stmt: &tokio_postgres::Statement) -> Result<Rows> {
    let columns: Arc<[String]> = stmt.columns().iter().map(|c| c.name().to_string()).collect();
    let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut vals = Vec::with_capacity(types.len());
        for (i, ty) in types.iter().enumerate() {
            vals.push(decode(r, i, ty)?);
        }
        out.push(vals);
    }
    Ok(Rows { columns, rows: out })
}

async fn query_on(client: &Object, sql: &str, params: &[Value]) -> Result<Rows> {
    let stmt = client.prepare_cached(sql).await?;
    let rows = client.query(&stmt, &params_ref(params)).await?;
    decode_rows(rows, &stmt)
}

async fn execute_on(client: &Object, sql: &str, params: &[Value]) -> Result<u64> {
    let stmt = client.prepare_cached(sql).await?;
    Ok(client.execute(&stmt, &params_ref(params)).await?)
}

impl PgDb {
    pub fn connect(settings: PgSettings) -> Result<Arc<PgDb>> {
        let config = settings.config.clone();
        let mgr = Manager::from_config(
            settings.config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(settings.max_size.max(1))
            .wait_timeout(Some(settings.checkout_timeout))
            .create_timeout(Some(settings.checkout_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::other(format!("cannot build pool: {e}")))?;
        Ok(Arc::new(PgDb {
            pool,
            timeouts: AtomicU64::new(0),
            config,
        }))
    }

    /// The connection settings of this pool's database.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    async fn client(&self) -> Result<Object> {
        match self.pool.get().await {
            Ok(c) => Ok(c),
            Err(PoolError::Timeout(_)) => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::new(
                    StoreErrorKind::PoolTimeout,
                    "timed out waiting for a database connection",
                ))
            }
            Err(PoolError::Closed) => Err(StoreError::new(StoreErrorKind::Closed, "database pool is closed")),
            Err(PoolError::Backend(e)) => Err(e.into()),
            Err(e) => Err(StoreError::other(e.to_string())),
        }
    }

    pub async fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        let client = self.client().await?;
        query_on(&client, sql, params).await
    }

    pub async fn query_many(&self, stmts: &[(&str, &[Value])]) -> Result<Vec<Rows>> {
        let client = self.client().await?;
        // Concurrent futures on one client are pipelined by tokio-postgres.
        let futs = stmts.iter().map(|(sql, params)| query_on(&client, sql, params));
        futures_util::future::try_join_all(futs).await
    }

    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let client = self.client().await?;
        execute_on(&client, sql, params).await
    }

    pub async fn batch(&self, sql: &str) -> Result<()> {
        let client = self.client().await?;
        Ok(client.batch_execute(sql).await?)
    }

    pub async fn begin(&self) -> Result<PgTx> {
        let client = self.client().await?;
        client.batch_execute("BEGIN").await?;
        Ok(PgTx {
            client: Some(client),
            done: false,
        })
    }

    /// Binary COPY of `rows` in one transaction with `synchronous_commit =
    /// off` (see [`crate::bulk`]).
    pub(crate) async fn copy_in(&self, table: &crate::bulk::BulkTable, rows: &[Vec<Value>]) -> Result<u64> {
        let client = self.client().await?;
        client
            .batch_execute("BEGIN; SET LOCAL synchronous_commit = off")
            .await?;
        let types = table.pg_types();
        let copied = async {
            let sink = client.copy_in(&table.copy_sql()).await?;
            let mut writer =
                std::pin::pin!(tokio_postgres::binary_copy::BinaryCopyInWriter::new(sink, &types));
            for r in rows {
                writer.as_mut().write(&params_ref(r)).await?;
            }
            writer.finish().await
        }
        .await;
        match copied {
            Ok(n) => {
                client.batch_execute("COMMIT").await?;
                Ok(n)
            }
            Err(e) => {
                if client.batch_execute("ROLLBACK").await.is_err() {
                    drop(Object::take(client));
                }
                Err(e.into())
            }
        }
    }

    pub fn stats(&self) -> PoolStats {
        let s = self.pool.status();
        PoolStats {
            max_size: s.max_size,
            size: s.size,
            idle: s.available,
            waiting: s.waiting,
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }

    pub fn close(&self) {
        self.pool.close();
    }
}

pub struct PgTx {
    client: Option<Object>,
    done: bool,
}

impl PgTx {
    fn client(&self) -> Result<&Object> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::new(StoreErrorKind::Closed, "transaction finished"))
    }

    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows> {
        query_on(self.client()?, sql, params).await
    }

    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        execute_on(self.client()?, sql, params).await
    }

    pub async fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.client()?.batch_execute(sql).await?)
    }

    pub async fn commit(mut self) -> Result<()> {
        self.done = true;
        let res = self.client()?.batch_execute("COMMIT").await;
        if res.is_err() {
            let _ = self.client()?.batch_execute("ROLLBACK").await;
        }
        Ok(res?)
    }

    pub async fn rollback(mut self) -> Result<()> {
        self.done = true;
        Ok(self.client()?.batch_execute("ROLLBACK").await?)
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Abandoned mid-transaction (error path or cancelled request): roll back
        // before the connection goes back to the pool, or discard it.
        if let Some(client) = self.client.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(h) => {
                    h.spawn(async move {
                        if client.batch_execute("ROLLBACK").await.is_err() {
                            drop(Object::take(client));
                        }
                    });
                }
                Err(_) => drop(Object::take(client)),
            }
        }
    }
}
