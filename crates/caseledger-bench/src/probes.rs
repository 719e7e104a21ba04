//! What the machine did during an open-loop run, measured beside it, so that a latency stall can
//! be put down to its cause with evidence rather than guessed at:
//! - [`DiskProbe`]: the disk's own commit latency. A 200-byte write and `fdatasync` every 10 ms
//!   (about 1% of the commits the stores make at half load) on the disk the databases use. Both
//!   stores commit durably, so no command commits faster than the disk syncs at that moment.
//! - [`WaitSampler`] (PostgreSQL): every 10 ms, what the server's active database sessions are
//!   waiting on (`pg_stat_activity.wait_event`; "CPU" when none), counted over the run.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::stats::{summarize, Summary};

/// How often each probe looks.
const EVERY: Duration = Duration::from_millis(10);

/// The fsync probe, running on a thread of its own until stopped.
pub struct DiskProbe {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Result<Vec<Duration>>>,
}

impl DiskProbe {
    /// Starts probing with a file in `dir` (removed when stopped).
    pub fn start(dir: &Path) -> Result<Self> {
        let path = dir.join("disk-probe.bin");
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            let payload = [b'x'; 200];
            while !stopping.load(Ordering::Relaxed) {
                let started = Instant::now();
                file.write_all_at(&payload, 0)?;
                file.sync_data()?;
                let took = started.elapsed();
                samples.push(took);
                std::thread::sleep(EVERY.saturating_sub(took));
            }
            drop(file);
            std::fs::remove_file(&path)?;
            Ok(samples)
        });
        Ok(Self { stop, thread })
    }

    /// Stops the probe and summarises what it measured.
    pub fn stop(self) -> Result<Summary> {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self
            .thread
            .join()
            .map_err(|_| anyhow::anyhow!("the disk probe panicked"))??;
        Ok(summarize(&samples))
    }
}

/// What the active sessions of one PostgreSQL database waited on.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Waits {
    /// How many times the sessions were sampled.
    pub samples: u64,
    /// Active sessions seen over all samples (their mean is this / `samples`).
    pub active: u64,
    /// Per wait (`type:event`, or `CPU`), how many active sessions were seen in it, most first.
    pub by_wait: Vec<(String, u64)>,
}

impl Waits {
    /// The `n` most frequent waits as `wait share%`, for a table cell.
    pub fn top(&self, n: usize) -> String {
        if self.active == 0 {
            return "-".to_owned();
        }
        self.by_wait
            .iter()
            .take(n)
            .map(|(wait, count)| {
                format!("{wait} {:.0}%", 100.0 * *count as f64 / self.active as f64)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Samples `pg_stat_activity` of one database until stopped.
pub struct WaitSampler {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<Waits>>,
}

/// The active sessions of the sampler's database (itself excluded) by what they wait on.
const WAITS: &str = "SELECT COALESCE(wait_event_type || ':' || wait_event, 'CPU'), count(*) \
     FROM pg_stat_activity \
     WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid() \
     GROUP BY 1";

impl WaitSampler {
    /// Starts sampling the database at `url` (a PostgreSQL URL).
    pub async fn start(url: &str) -> Result<Self> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .context("connecting the wait sampler")?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            let (mut samples, mut active) = (0, 0);
            let mut interval = tokio::time::interval(EVERY);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = interval.tick() => {}
                }
                let rows: Vec<(String, i64)> = sqlx::query_as(WAITS).fetch_all(&pool).await?;
                samples += 1;
                for (wait, count) in rows {
                    let count = u64::try_from(count).unwrap_or(0);
                    active += count;
                    *counts.entry(wait).or_default() += count;
                }
            }
            pool.close().await;
            let mut by_wait: Vec<(String, u64)> = counts.into_iter().collect();
            by_wait.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            Ok(Waits {
                samples,
                active,
                by_wait,
            })
        });
        Ok(Self { stop, task })
    }

    /// Stops sampling and returns the counts.
    pub async fn stop(self) -> Result<Waits> {
        let _ = self.stop.send(());
        self.task.await.context("the wait sampler failed")?
    }
}
