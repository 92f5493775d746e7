//! The fixed SQL of `_events`. Optional filters are `'' = $n OR ...`, so one
//! statement per shape serves every combination (prepared once per
//! connection). UUID columns are compared as text in the list: a filter
//! value that is not a UUID must match nothing, never fail the bind.

use rocket_store::Db;

#[cfg(test)]
const FILTER: &str = "($1 = '' OR source = $1) AND ($2 = '' OR component = $2) \
AND (($3 = '' AND $4 = '') OR action = $3 OR ($4 <> '' AND action LIKE $4 ESCAPE '\\')) \
AND ($5 = '' OR entity = $5) AND ($6 = '' OR event_type = $6) \
AND ($7 = '' OR CAST(trace_id AS TEXT) = $7) AND ($8 = '' OR CAST(user_id AS TEXT) = $8) \
AND ($9 = '' OR status = $9) AND created_at >= $10 AND created_at <= $11";

pub fn list(ascending: bool) -> &'static str {
    // The filter text is repeated rather than assembled at run time.
    if ascending {
        "SELECT * FROM _events WHERE ($1 = '' OR source = $1) AND ($2 = '' OR component = $2) \
AND (($3 = '' AND $4 = '') OR action = $3 OR ($4 <> '' AND action LIKE $4 ESCAPE '\\')) \
AND ($5 = '' OR entity = $5) AND ($6 = '' OR event_type = $6) \
AND ($7 = '' OR CAST(trace_id AS TEXT) = $7) AND ($8 = '' OR CAST(user_id AS TEXT) = $8) \
AND ($9 = '' OR status = $9) AND created_at >= $10 AND created_at <= $11 \
ORDER BY created_at ASC, id LIMIT $12 OFFSET $13"
    } else {
        "SELECT * FROM _events WHERE ($1 = '' OR source = $1) AND ($2 = '' OR component = $2) \
AND (($3 = '' AND $4 = '') OR action = $3 OR ($4 <> '' AND action LIKE $4 ESCAPE '\\')) \
AND ($5 = '' OR entity = $5) AND ($6 = '' OR event_type = $6) \
AND ($7 = '' OR CAST(trace_id AS TEXT) = $7) AND ($8 = '' OR CAST(user_id AS TEXT) = $8) \
AND ($9 = '' OR status = $9) AND created_at >= $10 AND created_at <= $11 \
ORDER BY created_at DESC, id LIMIT $12 OFFSET $13"
    }
}

pub const COUNT: &str =
    "SELECT COUNT(*) AS n FROM _events WHERE ($1 = '' OR source = $1) AND ($2 = '' OR component = $2) \
AND (($3 = '' AND $4 = '') OR action = $3 OR ($4 <> '' AND action LIKE $4 ESCAPE '\\')) \
AND ($5 = '' OR entity = $5) AND ($6 = '' OR event_type = $6) \
AND ($7 = '' OR CAST(trace_id AS TEXT) = $7) AND ($8 = '' OR CAST(user_id AS TEXT) = $8) \
AND ($9 = '' OR status = $9) AND created_at >= $10 AND created_at <= $11";

/// Every event of one trace, oldest first (uses `idx_events_trace`).
pub const TRACE: &str = "SELECT * FROM _events WHERE trace_id = $1 ORDER BY created_at ASC, id";

/// Stats over `from..to` and an optional entity: totals and error count.
pub const STATS_TOTALS: &str = "SELECT COUNT(*) AS total, AVG(duration_ms) AS avg_ms, \
SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS errors \
FROM _events WHERE created_at >= $1 AND created_at <= $2 AND ($3 = '' OR entity = $3)";

/// The durations of the stats window, for the p95 (SQLite has no
/// percentile function; PostgreSQL uses `percentile_cont`).
const PG_STATS_P95: &str = "SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95 \
FROM _events WHERE created_at >= $1 AND created_at <= $2 AND ($3 = '' OR entity = $3) AND duration_ms IS NOT NULL";
const SQLITE_STATS_DURATIONS: &str = "SELECT duration_ms AS d FROM _events \
WHERE created_at >= $1 AND created_at <= $2 AND ($3 = '' OR entity = $3) AND duration_ms IS NOT NULL ORDER BY duration_ms";

const PG_BY_SOURCE: &str = "SELECT source, COUNT(*) AS n, AVG(duration_ms) AS avg_ms, \
percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95, \
SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS errors \
FROM _events WHERE created_at >= $1 AND created_at <= $2 AND ($3 = '' OR entity = $3) AND duration_ms IS NOT NULL \
GROUP BY source ORDER BY n DESC, source";
const SQLITE_BY_SOURCE: &str = "SELECT source, COUNT(*) AS n, AVG(duration_ms) AS avg_ms, \
SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS errors \
FROM _events WHERE created_at >= $1 AND created_at <= $2 AND ($3 = '' OR entity = $3) AND duration_ms IS NOT NULL \
GROUP BY source ORDER BY n DESC, source";
const SQLITE_SOURCE_DURATIONS: &str = "SELECT duration_ms AS d FROM _events \
WHERE created_at >= $1 AND created_at <= $2 AND ($3 = '' OR entity = $3) AND duration_ms IS NOT NULL AND source = $4 \
ORDER BY duration_ms";

/// Stats statements of a dialect: the p95 either computed by the database
/// (`percentile_cont`) or from the sorted durations it returns.
pub enum Percentile {
    InQuery {
        total: &'static str,
        by_source: &'static str,
    },
    FromDurations {
        all: &'static str,
        by_source: &'static str,
        source: &'static str,
    },
}

pub fn stats(db: &Db) -> Percentile {
    match db {
        Db::Pg(_) => Percentile::InQuery {
            total: PG_STATS_P95,
            by_source: PG_BY_SOURCE,
        },
        Db::Sqlite(_) => Percentile::FromDurations {
            all: SQLITE_STATS_DURATIONS,
            by_source: SQLITE_BY_SOURCE,
            source: SQLITE_SOURCE_DURATIONS,
        },
    }
}

/// Retention: a bounded batch of expired rows per statement, so a large
/// backlog never holds the writer (SQLite) or one long transaction.
pub const EXPIRE_BATCH: &str =
    "DELETE FROM _events WHERE id IN (SELECT id FROM _events WHERE created_at < $1 LIMIT $2)";

#[cfg(test)]
mod tests {
    /// The list and count statements filter exactly as `FILTER` says.
    #[test]
    fn statements_share_the_filter() {
        for s in [super::list(true), super::list(false), super::COUNT] {
            assert!(s.contains(super::FILTER), "{s}");
        }
    }
}
