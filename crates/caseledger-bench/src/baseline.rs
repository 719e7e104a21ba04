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
//! per client. SQLite: sqlx with the server's settings (WAL, synchronous=FULL, busy_timeout 5 s)
//! and the server's pool size (8), `clients` concurrent tasks.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// Streams per client.
const STREAMS_PER_CLIENT: u64 = 200;
/// A realistic note event (the size of a real one).
const PAYLOAD: &str = r#"{"InternalNoteAdded":{"text":"已电话联系企业，财政局正在走拨付流程。","author":"bench-dispatcher","author_org":null,"added_at":"2026-11-24T12:00:00.000000Z"}}"#;
const METADATA: &str = r#"{"actor_sub":"bench-dispatcher","actor_roles":"dispatcher","occurred_at":"2026-11-24T12:00:00.000000Z"}"#;
const HASH: &str = "f3280aad89e305eb122b67e8260be12a5e0deb381e144f61b0038c097166c9db";
const READ_STREAM: &str = "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence";
const INSERT: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// The pgbench script: the same statements, with the next sequence computed in the INSERT. The
/// JSON documents travel hex-encoded: pgbench would read `:name` inside them as a variable.
pub fn pgbench_script() -> String {
    let hex = |text: &str| -> String { text.bytes().map(|byte| format!("{byte:02x}")).collect() };
    let (payload, metadata) = (hex(PAYLOAD), hex(METADATA));
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

/// Runs pgbench for `duration` with `clients` connections; returns transactions per second.
pub fn pgbench(
    pgbench: &Path,
    url: &str,
    script: &Path,
    clients: usize,
    duration: Duration,
) -> Result<f64> {
    let output = std::process::Command::new(pgbench)
        .args(["-n", "-M", "prepared"])
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
    stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .with_context(|| format!("no tps in pgbench output: {stdout}"))
}

/// The SQLite baseline on the migrated database file `path`; returns transactions per second.
pub async fn sqlite(path: &Path, clients: usize, duration: Duration) -> Result<f64> {
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
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let pool = pool.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut state = (client as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            while Instant::now() < deadline {
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
                sqlx::query(INSERT)
                    .bind("EnterpriseCase")
                    .bind(&stream_id)
                    .bind(rows.len() as i64 + 1)
                    .bind("InternalNoteAdded")
                    .bind("1")
                    .bind(PAYLOAD)
                    .bind(METADATA)
                    .bind(HASH)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), sqlx::Error>(())
        }));
    }
    for task in tasks {
        task.await
            .context("a baseline task panicked")?
            .context("SQLite baseline transaction")?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    pool.close().await;
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed)
}
