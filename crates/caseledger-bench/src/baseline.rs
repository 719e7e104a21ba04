//! Baselines: what the database alone sustains for the transaction shape of one command, at a
//! given concurrency, on the same machine in the same run.
//!
//! The shape (what `Database::execute` costs the database, minus the extra look-ups): read the
//! stream (`SELECT … WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence`, what
//! postgres-es / sqlite-es run), then a transaction that inserts one event row and commits. Each
//! client owns its streams (so there are no conflicts) and picks one of 200 at random, so streams
//! stay a few events long, like the HTTP mix's cases.
//!
//! PostgreSQL: `pgbench` with a custom script (prepared statements, as sqlx uses), one connection
//! per client, each transaction's latency read from pgbench's own log (`--log`). SQLite: sqlx with
//! the server's settings (WAL, synchronous=FULL, busy_timeout 5 s) and the server's pool size (8),
//! `clients` concurrent tasks, each transaction timed by its task.
//!
//! Two tables: ours ([`Table::Own`], migrated by `caseledger migrate`: extra columns, indexes and
//! triggers, and the event hash), and the plain `events` table that postgres-es and sqlite-es
//! 0.5.0 ship ([`Table::Plain`]), so that the cost of our schema shows as a ratio of the two.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::stats::{summarize, Summary};

/// Which `events` table a baseline writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Ours, in a database migrated by `caseledger migrate`.
    Own,
    /// Only the table the event-store library ships ([`PLAIN_POSTGRES_TABLE`],
    /// [`PLAIN_SQLITE_TABLE`]), in a database of its own.
    Plain,
}

/// The `events` table of postgres-es 0.5.0, as its `db/init.sql` creates it (the file also creates
/// a snapshot table, an example view table and a test user, which the baseline does not use).
pub const PLAIN_POSTGRES_TABLE: &str = "CREATE TABLE events (\
    aggregate_type text NOT NULL, \
    aggregate_id text NOT NULL, \
    sequence bigint CHECK (sequence >= 0) NOT NULL, \
    event_type text NOT NULL, \
    event_version text NOT NULL, \
    payload json NOT NULL, \
    metadata json NOT NULL, \
    PRIMARY KEY (aggregate_type, aggregate_id, sequence))";

/// The `events` table of sqlite-es 0.5.0, as its `migrations/20221114171845_init.sql` creates it.
pub const PLAIN_SQLITE_TABLE: &str = "CREATE TABLE events (\
    aggregate_type text NOT NULL, \
    aggregate_id text NOT NULL, \
    sequence integer CHECK (sequence >= 0) NOT NULL, \
    event_type text NOT NULL, \
    event_version text NOT NULL, \
    payload text NOT NULL, \
    metadata text NOT NULL, \
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)) STRICT";

/// What one baseline run achieved.
#[derive(Debug, Clone, Copy)]
pub struct BaselineRun {
    /// Transactions per second.
    pub per_second: f64,
    /// The latency of every transaction (the stream read, then the insert's transaction).
    pub latency: Summary,
}

/// Streams per client.
const STREAMS_PER_CLIENT: u64 = 200;
/// A realistic note event (the size of a real one).
const PAYLOAD: &str = r#"{"InternalNoteAdded":{"text":"已电话联系企业，财政局正在走拨付流程。","author":"bench-dispatcher","author_org":null,"added_at":"2026-11-24T12:00:00.000000Z"}}"#;
const METADATA: &str = r#"{"actor_sub":"bench-dispatcher","actor_roles":"dispatcher","occurred_at":"2026-11-24T12:00:00.000000Z"}"#;
const HASH: &str = "f3280aad89e305eb122b67e8260be12a5e0deb381e144f61b0038c097166c9db";
const READ_STREAM: &str = "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence";
const INSERT: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// The statement sqlite-es runs (no hash: the plain table has no such column).
const INSERT_PLAIN: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// The pgbench script: the same statements, with the next sequence computed in the INSERT. The
/// JSON documents travel hex-encoded: pgbench would read `:name` inside them as a variable.
pub fn pgbench_script(table: Table) -> String {
    let hex = |text: &str| -> String { text.bytes().map(|byte| format!("{byte:02x}")).collect() };
    let (payload, metadata) = (hex(PAYLOAD), hex(METADATA));
    if table == Table::Plain {
        // The plain table has no event_hash column and stores json, not jsonb.
        return format!(
            "\\set stream random(1, {STREAMS_PER_CLIENT})\n\
             SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata FROM events \
             WHERE aggregate_type = 'EnterpriseCase' AND aggregate_id = 'pgbench-' || :client_id || '-' || :stream ORDER BY sequence;\n\
             BEGIN;\n\
             INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
             SELECT 'EnterpriseCase', 'pgbench-' || :client_id || '-' || :stream, coalesce(max(sequence), 0) + 1, 'InternalNoteAdded', '1', \
             convert_from(decode('{payload}', 'hex'), 'UTF8')::json, convert_from(decode('{metadata}', 'hex'), 'UTF8')::json FROM events \
             WHERE aggregate_type = 'EnterpriseCase' AND aggregate_id = 'pgbench-' || :client_id || '-' || :stream;\n\
             COMMIT;\n"
        );
    }
    format!(
        "\\set stream random(1, {STREAMS_PER_CLIENT})\n\
         SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata FROM events \
         WHERE aggregate_type = 'EnterpriseCase' AND aggregate_id = 'pgbench-' || :client_id || '-' || :stream ORDER BY sequence;\n\
         BEGIN;\n\
         INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_hash) \
         SELECT 'EnterpriseCase', 'pgbench-' || :client_id || '-' || :stream, coalesce(max(sequence), 0) + 1, 'InternalNoteAdded', '1', \
         convert_from(decode('{payload}', 'hex'), 'UTF8')::jsonb, convert_from(decode('{metadata}', 'hex'), 'UTF8')::jsonb, '{HASH}' FROM events \
         WHERE aggregate_type = 'EnterpriseCase' AND aggregate_id = 'pgbench-' || :client_id || '-' || :stream;\n\
         COMMIT;\n"
    )
}

/// Creates the plain table in the empty PostgreSQL database at `url`.
pub async fn create_plain_postgres(url: &str) -> Result<()> {
    let pool = sqlx::PgPool::connect(url)
        .await
        .context("connecting to the plain baseline database")?;
    sqlx::query(PLAIN_POSTGRES_TABLE)
        .execute(&pool)
        .await
        .context("creating the plain events table")?;
    pool.close().await;
    Ok(())
}

/// Creates the SQLite database file `path` with only the plain table.
pub async fn create_plain_sqlite(path: &Path) -> Result<()> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .context("sqlite url")?
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .context("creating the plain SQLite baseline database")?;
    sqlx::query(PLAIN_SQLITE_TABLE)
        .execute(&pool)
        .await
        .context("creating the plain events table")?;
    pool.close().await;
    Ok(())
}

/// Runs pgbench for `duration` with `clients` connections, logging every transaction to files
/// named `log_prefix.<pid>[.<thread>]`; returns its transactions per second and the latencies
/// from those files.
pub fn pgbench(
    pgbench: &Path,
    url: &str,
    script: &Path,
    clients: usize,
    duration: Duration,
    log_prefix: &Path,
) -> Result<BaselineRun> {
    let output = std::process::Command::new(pgbench)
        .args(["-n", "-M", "prepared", "--log"])
        .arg(format!("--log-prefix={}", log_prefix.display()))
        .arg(format!("--client={clients}"))
        .arg(format!("--jobs={}", clients.min(2)))
        .arg(format!("--time={}", duration.as_secs().max(1)))
        .arg(format!("--file={}", script.display()))
        .arg(url)
        .output()
        .with_context(|| format!("running {}", pgbench.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        anyhow::bail!(
            "pgbench failed ({}): {}{}",
            output.status,
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    // "tps = 1234.567890 (without initial connection time)"
    let per_second = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .with_context(|| format!("no tps in pgbench output: {stdout}"))?;
    let latencies = read_pgbench_logs(log_prefix)?;
    Ok(BaselineRun {
        per_second,
        latency: summarize(&latencies),
    })
}

/// Every transaction latency in the log files pgbench wrote for `log_prefix` (one file per
/// thread: `<prefix>.<pid>`, then `<prefix>.<pid>.<thread>`).
fn read_pgbench_logs(log_prefix: &Path) -> Result<Vec<Duration>> {
    let directory = log_prefix
        .parent()
        .context("the pgbench log prefix has no directory")?;
    let name = log_prefix
        .file_name()
        .and_then(|name| name.to_str())
        .context("the pgbench log prefix has no file name")?;
    let mut latencies = Vec::new();
    let mut n_files = 0;
    for entry in
        std::fs::read_dir(directory).with_context(|| format!("listing {}", directory.display()))?
    {
        let path = entry?.path();
        let is_log = path
            .file_name()
            .and_then(|file| file.to_str())
            .and_then(|file| file.strip_prefix(name)?.strip_prefix('.'))
            .is_some_and(|rest| rest.split('.').all(|part| part.parse::<u32>().is_ok()));
        if !is_log {
            continue;
        }
        n_files += 1;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        latencies.extend(
            parse_pgbench_log(&text).with_context(|| format!("parsing {}", path.display()))?,
        );
    }
    if latencies.is_empty() {
        bail!(
            "no transactions in pgbench's logs {}.* ({n_files} files)",
            log_prefix.display()
        );
    }
    Ok(latencies)
}

/// The latencies of a pgbench per-transaction log. Each line is `client_id transaction_no time
/// script_no time_epoch time_us [schedule_lag] [retries]`, `time` being the transaction's elapsed
/// time in microseconds (PostgreSQL 15 pgbench documentation, "Per-Transaction Logging"). Any
/// other third field (`failed`, `skipped`) is an error: the script has no retries or rate limit.
pub fn parse_pgbench_log(text: &str) -> Result<Vec<Duration>> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            line.split_whitespace()
                .nth(2)
                .and_then(|micros| micros.parse::<u64>().ok())
                .map(Duration::from_micros)
                .with_context(|| format!("no latency in the pgbench log line {line:?}"))
        })
        .collect()
}

/// The SQLite baseline on the database file `path` (migrated for [`Table::Own`], made by
/// [`create_plain_sqlite`] for [`Table::Plain`]).
pub async fn sqlite(
    path: &Path,
    table: Table,
    clients: usize,
    duration: Duration,
) -> Result<BaselineRun> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .context("sqlite url")?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(clients.min(8) as u32)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .context("opening the SQLite baseline database")?;
    let done = Arc::new(AtomicU64::new(0));
    let insert = match table {
        Table::Own => INSERT,
        Table::Plain => INSERT_PLAIN,
    };
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let pool = pool.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut state = (client as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let transaction_started = Instant::now();
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let stream_id = format!("sqlite-{client}-{}", state % STREAMS_PER_CLIENT + 1);
                let rows = sqlx::query(READ_STREAM)
                    .bind("EnterpriseCase")
                    .bind(&stream_id)
                    .fetch_all(&pool)
                    .await?;
                let mut tx = pool.begin().await?;
                let mut query = sqlx::query(insert)
                    .bind("EnterpriseCase")
                    .bind(&stream_id)
                    .bind(rows.len() as i64 + 1)
                    .bind("InternalNoteAdded")
                    .bind("1")
                    .bind(PAYLOAD)
                    .bind(METADATA);
                if table == Table::Own {
                    query = query.bind(HASH);
                }
                query.execute(&mut *tx).await?;
                tx.commit().await?;
                latencies.push(transaction_started.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<Vec<Duration>, sqlx::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(
            task.await
                .context("a baseline task panicked")?
                .context("SQLite baseline transaction")?,
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    pool.close().await;
    Ok(BaselineRun {
        per_second: done.load(Ordering::Relaxed) as f64 / elapsed,
        latency: summarize(&latencies),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_log_lines_give_the_third_column_in_microseconds() {
        // Two lines as PostgreSQL 15's pgbench writes them (the second with --rate's lag).
        let log = "0 199 2241 0 1175850568 995598\n12 7 1345 0 1175850569 3112 101\n";
        let latencies = parse_pgbench_log(log).unwrap();
        assert_eq!(
            latencies,
            vec![Duration::from_micros(2241), Duration::from_micros(1345)]
        );
        assert!(parse_pgbench_log("3 12 skipped 0 1175850569 3112 101\n").is_err());
    }

    #[test]
    fn the_plain_script_names_only_the_plain_tables_columns() {
        let plain = pgbench_script(Table::Plain);
        assert!(!plain.contains("event_hash"));
        assert!(!plain.contains("jsonb"));
        assert!(pgbench_script(Table::Own).contains("event_hash"));
    }
}
