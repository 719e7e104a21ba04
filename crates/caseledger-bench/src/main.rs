//! `caseledger-bench`: the benchmark behind `scripts/bench` (docs/PERFORMANCE.md explains every
//! number). For each store (PostgreSQL, then SQLite) it measures the database's own rate and
//! latency for the transaction a command needs (pgbench / sqlx), on our `events` table and on the
//! plain one the event-store library ships, starts the release server on loopback, drives it with
//! its own HTTP load generator (closed-loop throughput and saturation latency at 1, 8, 32 and 64
//! clients; open-loop latency and projection lag at half the peak, three times; add-note on a
//! 10-event against a 10,000-event stream), reads the server's peak memory, then times a projection rebuild over
//! bulk-generated events. Prints a table with the targets and writes the results as JSON.
//!
//! Every phase is bounded (fixed durations or request counts). Never a dependency of another
//! crate and never run by the test suite.

mod baseline;
mod cpu;
mod load;
mod probes;
mod scale;
mod scale_seed;
mod seed;
mod server;
mod stats;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use caseledger_store::{Database, PgStore};
use clap::Parser;
use serde::Serialize;
use serde_json::{json, Value};

use crate::baseline::Table;
use crate::cpu::{CpuMeter, CpuUse};
use crate::load::{Api, ClosedLoop, Tokens};
use crate::server::Caseledger;
use crate::stats::{summarize, Summary};

#[derive(Parser)]
#[command(
    name = "caseledger-bench",
    about = "Benchmark caseledger (see docs/PERFORMANCE.md)"
)]
struct Args {
    /// A PostgreSQL URL of a user who may CREATE DATABASE (scripts/bench starts a throwaway one).
    #[arg(long)]
    postgres_admin_url: String,
    /// The release `caseledger` binary.
    #[arg(long, default_value = "target/release/caseledger")]
    caseledger: PathBuf,
    /// The pgbench binary.
    #[arg(long, default_value = "pgbench")]
    pgbench: PathBuf,
    /// Full mode: longer runs and 1,000,000 events for the rebuild (quick mode: 100,000).
    #[arg(long)]
    full: bool,
    /// Where to write the results.
    #[arg(long, default_value = "target/bench/results.json")]
    output: PathBuf,
    /// Scratch directory (SQLite files, logs, reference data); emptied first.
    #[arg(long, default_value = "target/bench/work")]
    work_dir: PathBuf,
    /// Benchmark only this store (both by default, PostgreSQL first).
    #[arg(long, value_enum)]
    store: Option<Store>,
    /// Scale mode instead of the phases above: a decade of a large district, then the reads
    /// people make, verify and rebuild (docs/PERFORMANCE.md, "Scale").
    #[arg(long)]
    scale: bool,
    /// The size of the --scale district: 1.0 is the decade (1,000,000 cases, about 10,000,000
    /// events); 0.01 gives 10,000 cases.
    #[arg(long, default_value_t = 1.0)]
    scale_factor: f64,
}

/// Durations and sizes of one mode.
#[derive(Debug, Clone, Serialize)]
struct Plan {
    mode: &'static str,
    concurrency: Vec<usize>,
    baseline_seconds: u64,
    closed_loop_seconds: u64,
    open_loop_seconds: u64,
    /// How many times the open-loop phase runs back to back; the targets use the worst run.
    latency_repeats: usize,
    stream_commands: usize,
    long_stream_events: usize,
    short_stream_events: usize,
    rebuild_events: usize,
    /// A rebuild still running after this long is stopped (and reported as a miss).
    rebuild_limit_seconds: u64,
}

impl Plan {
    fn new(full: bool) -> Self {
        Plan {
            mode: if full { "full" } else { "quick" },
            concurrency: vec![1, 8, 32, 64],
            baseline_seconds: if full { 20 } else { 5 },
            closed_loop_seconds: if full { 30 } else { 8 },
            open_loop_seconds: if full { 60 } else { 15 },
            latency_repeats: 3,
            stream_commands: if full { 300 } else { 60 },
            long_stream_events: 10_000,
            short_stream_events: 10,
            rebuild_events: if full { 1_000_000 } else { 100_000 },
            rebuild_limit_seconds: if full { 1_800 } else { 300 },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Store {
    Postgres,
    Sqlite,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::Postgres => "postgres",
            Store::Sqlite => "sqlite",
        }
    }
}

/// The results for one store.
#[derive(Debug, Serialize)]
struct StoreResults {
    store: &'static str,
    /// Baseline transactions per second at each concurrency (our migrated `events` table).
    baseline: Vec<(usize, f64)>,
    /// The latency of every baseline transaction, per concurrency (pgbench's own log on
    /// PostgreSQL).
    baseline_latency: Vec<Summary>,
    /// The same transaction on the plain `events` table the event-store library ships (no extra
    /// columns, indexes or triggers), in a database of its own, per concurrency.
    plain_baseline: Vec<(usize, f64)>,
    /// The latency of every plain baseline transaction, per concurrency.
    plain_baseline_latency: Vec<Summary>,
    /// CPU used by each baseline run (the machine's; `process` is this program, the SQLite
    /// baseline's client).
    baseline_cpu: Vec<CpuUse>,
    /// HTTP commands per second at each concurrency.
    http: Vec<ClosedLoop>,
    /// CPU used during each HTTP run (`process` is the server).
    http_cpu: Vec<CpuUse>,
    /// How long the `cases` view took to catch up after the throughput runs (its backlog).
    projector_drain_seconds: f64,
    /// The open-loop request rate (half commands, half reads), half the peak command rate.
    open_loop_rate: f64,
    /// Errors over all the open-loop repeats.
    open_loop_errors: u64,
    /// Skipped requests over all the open-loop repeats.
    open_loop_skipped: u64,
    /// Each open-loop repeat, in the order run.
    latency_repeats: Vec<LatencyRepeat>,
    /// The commands of the repeat with the largest command p99.
    command_latency: Summary,
    /// The reads of the repeat with the largest read p99.
    read_latency: Summary,
    /// The lag samples of the repeat with the largest lag p99.
    projection_lag: Summary,
    stream_short: Summary,
    stream_long: Summary,
    server_peak_memory_mib: f64,
    rebuild_events: usize,
    rebuild_seconds: f64,
    rebuild_events_per_second: f64,
    /// Whether the rebuild was stopped at the plan's limit.
    rebuild_timed_out: bool,
    /// CPU used during the rebuild (`process` is the `caseledger projections rebuild` command).
    rebuild_cpu: CpuUse,
}

/// One run of the open-loop phase.
#[derive(Debug, Clone, Serialize)]
struct LatencyRepeat {
    errors: u64,
    skipped: u64,
    command_latency: Summary,
    read_latency: Summary,
    projection_lag: Summary,
    /// The disk's own commit latency during the run (`probes::DiskProbe`).
    disk_fsync: Summary,
    /// PostgreSQL: what the server's sessions waited on during the run.
    waits: Option<probes::Waits>,
}

/// The largest of `measure` over the repeats, and which repeat (from 0) had it.
fn worst(repeats: &[LatencyRepeat], measure: impl Fn(&LatencyRepeat) -> f64) -> (f64, usize) {
    repeats
        .iter()
        .enumerate()
        .map(|(index, repeat)| (measure(repeat), index))
        .fold(
            (0.0, 0),
            |worst, this| if this.0 > worst.0 { this } else { worst },
        )
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let plan = Plan::new(args.full);
    if args.work_dir.exists() {
        std::fs::remove_dir_all(&args.work_dir)
            .with_context(|| format!("emptying {}", args.work_dir.display()))?;
    }
    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("creating {}", args.work_dir.display()))?;
    let work_dir = args
        .work_dir
        .canonicalize()
        .context("resolving the work directory")?;
    if args.scale {
        return scale::run(&args, &work_dir).await;
    }
    let started = Instant::now();
    eprintln!("caseledger-bench: {} mode", plan.mode);
    let mut results = Vec::new();
    let stores = match args.store {
        Some(store) => vec![store],
        None => vec![Store::Postgres, Store::Sqlite],
    };
    for store in stores {
        results.push(
            bench_store(&args, &plan, &work_dir, store)
                .await
                .with_context(|| format!("benchmarking {}", store.name()))?,
        );
    }
    let targets = targets(&results);
    print_table(&plan, &results, &targets);
    let machine = machine();
    let document = json!({
        "format": "caseledger-bench-v1",
        "finished_at": chrono::Utc::now().to_rfc3339(),
        "seconds": started.elapsed().as_secs(),
        "plan": plan,
        "machine": machine,
        "stores": results,
        "targets": targets,
    });
    write_results(&args, &document, started)
}

/// A fresh, migrated database for one purpose; returns its URL.
async fn fresh_database(
    args: &Args,
    work_dir: &Path,
    store: Store,
    purpose: &str,
) -> Result<String> {
    match store {
        Store::Postgres => {
            let admin = Database::connect(&args.postgres_admin_url)
                .await
                .context("connecting to PostgreSQL as the admin user")?;
            let name = format!("caseledger_bench_{purpose}");
            if let Database::Postgres(PgStore { write: pool, .. }) = &admin {
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(pool)
                    .await
                    .with_context(|| format!("dropping {name}"))?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(pool)
                    .await
                    .with_context(|| format!("creating {name}"))?;
                pool.close().await;
            }
            let base = args
                .postgres_admin_url
                .rsplit_once('/')
                .map_or(args.postgres_admin_url.as_str(), |(base, _)| base);
            Ok(format!("{base}/{name}"))
        }
        Store::Sqlite => Ok(format!("sqlite://{}/{purpose}.db", work_dir.display())),
    }
}

fn caseledger(args: &Args, work_dir: &Path, url: &str) -> Result<Caseledger> {
    Ok(Caseledger {
        binary: args
            .caseledger
            .canonicalize()
            .with_context(|| format!("finding {}", args.caseledger.display()))?,
        data_dir: work_dir.join("data"),
        database_url: url.to_owned(),
    })
}

async fn bench_store(
    args: &Args,
    plan: &Plan,
    work_dir: &Path,
    store: Store,
) -> Result<StoreResults> {
    let name = store.name();
    let seconds = Duration::from_secs;

    // 1. Baseline, on our table and on the plain one (in its own database), alternating at each
    // concurrency so that both see the same machine.
    let baseline_url = fresh_database(args, work_dir, store, "baseline").await?;
    caseledger(args, work_dir, &baseline_url)?.run(&["migrate"])?;
    let plain_url = fresh_database(args, work_dir, store, "plain").await?;
    match store {
        Store::Postgres => baseline::create_plain_postgres(&plain_url).await?,
        Store::Sqlite => baseline::create_plain_sqlite(&work_dir.join("plain.db")).await?,
    }
    let mut baseline = Vec::new();
    let mut baseline_latency = Vec::new();
    let mut baseline_cpu = Vec::new();
    let mut plain_baseline = Vec::new();
    let mut plain_baseline_latency = Vec::new();
    let script = work_dir.join("pgbench-command.sql");
    std::fs::write(&script, baseline::pgbench_script(Table::Own))
        .context("writing the pgbench script")?;
    let plain_script = work_dir.join("pgbench-command-plain.sql");
    std::fs::write(&plain_script, baseline::pgbench_script(Table::Plain))
        .context("writing the plain pgbench script")?;
    for &clients in &plan.concurrency {
        let mut runs = Vec::new();
        for table in [Table::Own, Table::Plain] {
            let (url, script, file, label) = match table {
                Table::Own => (&baseline_url, &script, "baseline.db", "own"),
                Table::Plain => (&plain_url, &plain_script, "plain.db", "plain"),
            };
            let meter = CpuMeter::start(std::process::id());
            let run = match store {
                Store::Postgres => baseline::pgbench(
                    &args.pgbench,
                    url,
                    script,
                    clients,
                    seconds(plan.baseline_seconds),
                    &work_dir.join(format!("pgbench-{label}-{clients}")),
                )?,
                Store::Sqlite => {
                    let path = work_dir.join(file);
                    baseline::sqlite(&path, table, clients, seconds(plan.baseline_seconds)).await?
                }
            };
            runs.push((run, meter.read()));
        }
        let [(own, own_cpu), (plain, _)] = [runs[0], runs[1]];
        baseline_cpu.push(own_cpu);
        eprintln!(
            "{name}: baseline at {clients:>2} clients: {:.0} tx/s (p50 {:.2} ms, p99 {:.2} ms); plain table: {:.0} tx/s (p50 {:.2} ms, p99 {:.2} ms)",
            own.per_second,
            own.latency.p50_ms,
            own.latency.p99_ms,
            plain.per_second,
            plain.latency.p50_ms,
            plain.latency.p99_ms
        );
        baseline.push((clients, own.per_second));
        baseline_latency.push(own.latency);
        plain_baseline.push((clients, plain.per_second));
        plain_baseline_latency.push(plain.latency);
    }

    // The server's database, with the streams of the stream-length measurement stored up front.
    let server_url = fresh_database(args, work_dir, store, "server").await?;
    let cli = caseledger(args, work_dir, &server_url)?;
    cli.run(&["migrate"])?;
    let db = Database::connect(&server_url)
        .await
        .context("opening the server database")?;
    let now = chrono::Utc::now();
    let mut short_streams = Vec::new();
    for _ in 0..plan.stream_commands {
        let (id, rows) = seed::case_stream(plan.short_stream_events - 3, false, now)?;
        seed::insert(&db, &rows).await?;
        short_streams.push(id);
    }
    let (long_stream, rows) = seed::case_stream(plan.long_stream_events - 3, false, now)?;
    seed::insert(&db, &rows).await?;
    if let Database::Postgres(PgStore { write: pool, .. }) = &db {
        pool.close().await;
    }
    drop(db);

    let tokens = Tokens {
        liaison: cli.token("bench-liaison", "liaison_officer", None)?,
        dispatcher: cli.token("bench-dispatcher", "dispatcher", None)?,
        handler: cli.token("bench-handler", "department_handler", Some("dept-commerce"))?,
        enterprise: cli.token("bench-enterprise", "enterprise", Some("ent-0001"))?,
    };
    let server = cli.serve(&work_dir.join(format!("server-{name}.log")))?;
    let api = Arc::new(Api::new(&server.address, tokens)?);
    // Let the projector apply the seeded streams before measuring.
    api.drain_projector(seconds(600)).await?;

    // 2. Throughput.
    let mut http = Vec::new();
    let mut http_cpu = Vec::new();
    for &clients in &plan.concurrency {
        let meter = CpuMeter::start(server.pid());
        let result =
            load::closed_loop(api.clone(), clients, seconds(plan.closed_loop_seconds)).await?;
        eprintln!(
            "{name}: HTTP at {clients:>2} clients: {:.0} commands/s, p50 {:.2} ms, p99 {:.2} ms ({} errors{})",
            result.per_second,
            result.latency.p50_ms,
            result.latency.p99_ms,
            result.errors,
            result
                .first_error
                .as_deref()
                .map(|e| format!(", first: {e}"))
                .unwrap_or_default()
        );
        http.push(result);
        http_cpu.push(meter.read());
    }
    let peak = http.iter().map(|r| r.per_second).fold(0.0, f64::max);
    // The projector may trail the commands at full load; let it catch up (and record how long
    // that took) so that the next phase measures its own load only.
    let drain = api.drain_projector(seconds(600)).await?;
    let projector_drain_seconds = drain.as_secs_f64();
    eprintln!(
        "{name}: the cases view caught up {projector_drain_seconds:.1} s after the throughput runs"
    );

    // 3 and 4. Latency and projection lag at half the peak: requests (commands and reads,
    // alternating) at half the peak command rate, `latency_repeats` times back to back at the
    // same rate (a stall that hits one run in three still shows in the worst of them).
    let rate = (peak / 2.0).max(2.0);
    let mut latency_repeats = Vec::new();
    for repeat in 1..=plan.latency_repeats {
        let disk = probes::DiskProbe::start(work_dir)?;
        let sampler = match store {
            Store::Postgres => Some(probes::WaitSampler::start(&server_url).await?),
            Store::Sqlite => None,
        };
        let open = load::open_loop(api.clone(), rate, seconds(plan.open_loop_seconds)).await?;
        let waits = match sampler {
            Some(sampler) => Some(sampler.stop().await?),
            None => None,
        };
        let summaries = LatencyRepeat {
            errors: open.errors,
            skipped: open.skipped,
            command_latency: summarize(&open.commands),
            read_latency: summarize(&open.reads),
            projection_lag: summarize(&open.lag),
            disk_fsync: disk.stop()?,
            waits,
        };
        eprintln!(
            "{name}: open loop {repeat} of {} at {rate:.0} requests/s (half commands, half reads): {} commands (p99 {:.2} ms), {} reads (p99 {:.2} ms), {} lag reads (p99 {:.2} ms), {} errors{}, {} skipped",
            plan.latency_repeats,
            open.commands.len(),
            summaries.command_latency.p99_ms,
            open.reads.len(),
            summaries.read_latency.p99_ms,
            open.lag.len(),
            summaries.projection_lag.p99_ms,
            open.errors,
            open.first_error.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default(),
            open.skipped
        );
        latency_repeats.push(summaries);
    }
    let worst_repeat = |measure: fn(&LatencyRepeat) -> f64| {
        latency_repeats[worst(&latency_repeats, measure).1].clone()
    };
    let command_latency = worst_repeat(|r| r.command_latency.p99_ms).command_latency;
    let read_latency = worst_repeat(|r| r.read_latency.p99_ms).read_latency;
    let projection_lag = worst_repeat(|r| r.projection_lag.p99_ms).projection_lag;

    let drain = api.drain_projector(seconds(600)).await?;
    eprintln!(
        "{name}: the cases view caught up {:.1} s after the open loop",
        drain.as_secs_f64()
    );

    // 6. Stream length.
    let (short, long) = load::stream_length(&api, &short_streams, &long_stream).await?;
    let (stream_short, stream_long) = (summarize(&short), summarize(&long));
    eprintln!(
        "{name}: add-note on a {}-event stream: p50 {:.2} ms; on a {}-event stream: p50 {:.2} ms",
        plan.short_stream_events, stream_short.p50_ms, plan.long_stream_events, stream_long.p50_ms
    );

    // 7. Peak memory.
    let server_peak_memory_mib = server.peak_memory_kib()? as f64 / 1024.0;
    server.stop()?;

    // 5. Rebuild.
    let rebuild_url = fresh_database(args, work_dir, store, "rebuild").await?;
    let rebuild_cli = caseledger(args, work_dir, &rebuild_url)?;
    rebuild_cli.run(&["migrate"])?;
    let db = Database::connect(&rebuild_url)
        .await
        .context("opening the rebuild database")?;
    let generating = Instant::now();
    seed::lifecycles(&db, plan.rebuild_events).await?;
    if let Database::Postgres(PgStore { write: pool, .. }) = &db {
        pool.close().await;
    }
    drop(db);
    eprintln!(
        "{name}: stored {} events in {:.1} s",
        plan.rebuild_events,
        generating.elapsed().as_secs_f64()
    );
    let (printed, rebuild_seconds, rebuild_cpu) = rebuild_cli.run_measured(
        &["projections", "rebuild", "cases"],
        seconds(plan.rebuild_limit_seconds),
    )?;
    let rebuild_timed_out = printed.is_none();
    // A rebuild that did not finish counts as 0 events/s (it is one transaction: nothing is
    // known about how far it got).
    let rebuild_events_per_second = match &printed {
        Some(printed) => {
            let rate = plan.rebuild_events as f64 / rebuild_seconds;
            eprintln!("{name}: {printed} ({rate:.0} events/s)");
            rate
        }
        None => {
            eprintln!(
                "{name}: the rebuild did not finish within {} s and was stopped",
                plan.rebuild_limit_seconds
            );
            0.0
        }
    };

    Ok(StoreResults {
        store: name,
        baseline,
        baseline_latency,
        plain_baseline,
        plain_baseline_latency,
        baseline_cpu,
        http,
        http_cpu,
        projector_drain_seconds,
        open_loop_rate: rate,
        open_loop_errors: latency_repeats.iter().map(|r| r.errors).sum(),
        open_loop_skipped: latency_repeats.iter().map(|r| r.skipped).sum(),
        latency_repeats,
        command_latency,
        read_latency,
        projection_lag,
        stream_short,
        stream_long,
        server_peak_memory_mib,
        rebuild_events: plan.rebuild_events,
        rebuild_seconds,
        rebuild_events_per_second,
        rebuild_timed_out,
        rebuild_cpu,
    })
}

/// One target, with what was measured.
#[derive(Debug, Serialize)]
struct Target {
    name: String,
    measured: f64,
    target: String,
    pass: bool,
    /// For a worst-of-the-repeats target, which open-loop run (from 1) it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    worst_run: Option<usize>,
}

impl Target {
    /// A target measured once (not the worst of repeats).
    fn new(name: String, measured: f64, target: impl Into<String>, pass: bool) -> Self {
        Self {
            name,
            measured,
            target: target.into(),
            pass,
            worst_run: None,
        }
    }
}

fn targets(results: &[StoreResults]) -> Vec<Target> {
    let mut targets = Vec::new();
    let mut add_from = |name: String, measured: f64, target: &str, pass: bool, worst_run| {
        targets.push(Target {
            name,
            measured,
            target: target.to_owned(),
            pass,
            worst_run,
        });
    };
    // The latency targets take the worst of the open-loop repeats: the label, the figure, the
    // limit it must stay under, and the limit as printed.
    type LatencyTarget = (&'static str, fn(&LatencyRepeat) -> f64, f64, &'static str);
    let latency_targets: [LatencyTarget; 4] = [
        (
            "command p99 at 50% of peak (ms)",
            |r| r.command_latency.p99_ms,
            20.0,
            "< 20",
        ),
        (
            "command p99.9 at 50% of peak (ms)",
            |r| r.command_latency.p999_ms,
            50.0,
            "< 50",
        ),
        (
            "read p99 at 50% of peak (ms)",
            |r| r.read_latency.p99_ms,
            5.0,
            "< 5",
        ),
        (
            "projection lag p99 (ms)",
            |r| r.projection_lag.p99_ms,
            100.0,
            "< 100",
        ),
    ];
    for result in results {
        let store = result.store;
        if store == "postgres" {
            let ratio = ratio_at(result, 32);
            add_from(
                format!("{store}: HTTP commands at 32 clients / pgbench baseline"),
                ratio,
                ">= 0.64",
                ratio >= 0.64,
                None,
            );
        }
        let repeats = &result.latency_repeats;
        let n = repeats.len();
        for (label, measure, limit, target) in latency_targets {
            let (measured, index) = worst(repeats, measure);
            // No repeat ran: a miss, not a pass on zeros.
            add_from(
                format!("{store}: {label}, worst of {n}"),
                measured,
                target,
                n > 0 && measured < limit,
                (n > 0).then_some(index + 1),
            );
        }
        let mut add = |name: String, measured: f64, target: &str, pass: bool| {
            add_from(name, measured, target, pass, None)
        };
        let saturated = result.http.iter().find(|r| r.clients == 32);
        let tail = saturated.map_or(0.0, |r| r.p99_over_p50);
        add(
            format!("{store}: closed loop at 32 clients, command p99 / p50"),
            tail,
            "<= 10",
            saturated.is_some_and(|r| r.latency.n > 0) && tail <= 10.0,
        );
        add(
            format!("{store}: rebuild (events/s)"),
            result.rebuild_events_per_second,
            ">= 50000",
            result.rebuild_events_per_second >= 50_000.0,
        );
        let stream_ratio = if result.stream_short.p50_ms > 0.0 {
            result.stream_long.p50_ms / result.stream_short.p50_ms
        } else {
            f64::INFINITY
        };
        add(
            format!("{store}: 10,000-event / 10-event stream, add-note p50"),
            stream_ratio,
            "<= 2",
            stream_ratio <= 2.0,
        );
        add(
            format!("{store}: server peak memory (MiB)"),
            result.server_peak_memory_mib,
            "< 200",
            result.server_peak_memory_mib < 200.0,
        );
    }
    targets
}

fn ratio_at(result: &StoreResults, clients: usize) -> f64 {
    let baseline = result
        .baseline
        .iter()
        .find(|(c, _)| *c == clients)
        .map_or(0.0, |(_, tps)| *tps);
    let http = result
        .http
        .iter()
        .find(|r| r.clients == clients)
        .map_or(0.0, |r| r.per_second);
    if baseline > 0.0 {
        http / baseline
    } else {
        0.0
    }
}

/// The plain baseline's transactions per second at `clients` (0 when it did not run).
fn plain_at(result: &StoreResults, clients: usize) -> f64 {
    result
        .plain_baseline
        .iter()
        .find(|(c, _)| *c == clients)
        .map_or(0.0, |(_, tps)| *tps)
}

/// `numerator / denominator`, or 0 when the denominator is 0.
fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

fn print_table(plan: &Plan, results: &[StoreResults], targets: &[Target]) {
    println!("\ncaseledger benchmark ({} mode)\n", plan.mode);
    println!("| store | clients | baseline tx/s | plain tx/s | baseline / plain | HTTP commands/s | ratio | ratio vs plain | errors | view catch-up after all four, s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for result in results {
        for http in &result.http {
            let baseline = result
                .baseline
                .iter()
                .find(|(c, _)| *c == http.clients)
                .map_or(0.0, |(_, tps)| *tps);
            let plain = plain_at(result, http.clients);
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} | {} | {:.1} |",
                result.store,
                http.clients,
                baseline,
                plain,
                ratio(baseline, plain),
                http.per_second,
                ratio_at(result, http.clients),
                ratio(http.per_second, plain),
                http.errors,
                result.projector_drain_seconds
            );
        }
    }
    println!("\nClosed-loop latency per command or transaction (ms), at the same clients: HTTP = the throughput runs above; baseline = on our table (PostgreSQL: pgbench's own log); plain = on the plain table:\n");
    println!("| store | clients | HTTP p50 | HTTP p99 | HTTP p99.9 | HTTP p99/p50 | baseline p50 | baseline p99 | baseline p99.9 | baseline p99/p50 | plain p50 | plain p99 | plain p99.9 |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for result in results {
        for (index, http) in result.http.iter().enumerate() {
            let own = result
                .baseline_latency
                .get(index)
                .copied()
                .unwrap_or_default();
            let plain = result
                .plain_baseline_latency
                .get(index)
                .copied()
                .unwrap_or_default();
            println!(
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2} | {:.2} | {:.2} |",
                result.store,
                http.clients,
                http.latency.p50_ms,
                http.latency.p99_ms,
                http.latency.p999_ms,
                http.p99_over_p50,
                own.p50_ms,
                own.p99_ms,
                own.p999_ms,
                own.p99_over_p50(),
                plain.p50_ms,
                plain.p99_ms,
                plain.p999_ms
            );
        }
    }
    println!("\nCPU per command or transaction (ms, all cores; rest = machine - server - load generator, mostly the database):\n");
    println!("| store | clients | baseline: machine | HTTP: server | HTTP: load generator | HTTP: rest | HTTP: machine |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for result in results {
        for ((http, cpu), ((_, tps), base_cpu)) in result
            .http
            .iter()
            .zip(&result.http_cpu)
            .zip(result.baseline.iter().zip(&result.baseline_cpu))
        {
            let per_tx = |seconds: f64, n: f64| if n > 0.0 { seconds * 1000.0 / n } else { 0.0 };
            let n_tx = tps * plan.baseline_seconds as f64;
            let n = http.commands as f64;
            println!(
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                result.store,
                http.clients,
                per_tx(base_cpu.machine_seconds, n_tx),
                per_tx(cpu.process_seconds, n),
                per_tx(cpu.load_generator_seconds, n),
                per_tx(
                    cpu.machine_seconds - cpu.process_seconds - cpu.load_generator_seconds,
                    n
                ),
                per_tx(cpu.machine_seconds, n)
            );
        }
    }
    println!("\nOpen loop at 50% of peak, run {} times back to back (* = the worst run's figure, which the target uses), then add-note by stream length:\n", plan.latency_repeats);
    println!("| store | measure (ms) | n | p50 | p99 | p99.9 |");
    println!("|---|---|---:|---:|---:|---:|");
    for result in results {
        let repeats = &result.latency_repeats;
        // The label, the figures, and whether a target uses the p99.9 too.
        type Measure = (&'static str, fn(&LatencyRepeat) -> Summary, bool);
        let measures: [Measure; 3] = [
            ("command", |r| r.command_latency, true),
            ("read", |r| r.read_latency, false),
            ("projection lag", |r| r.projection_lag, false),
        ];
        for (label, summary_of, p999_target) in measures {
            let (_, worst_p99) = worst(repeats, |r| summary_of(r).p99_ms);
            let (_, worst_p999) = worst(repeats, |r| summary_of(r).p999_ms);
            for (index, repeat) in repeats.iter().enumerate() {
                let summary = summary_of(repeat);
                let mark = |is_worst: bool| if is_worst { "*" } else { "" };
                println!(
                    "| {} | {label} at {:.0}/s, run {} of {} | {} | {:.2} | {:.2}{} | {:.2}{} |",
                    result.store,
                    result.open_loop_rate,
                    index + 1,
                    repeats.len(),
                    summary.n,
                    summary.p50_ms,
                    summary.p99_ms,
                    mark(index == worst_p99),
                    summary.p999_ms,
                    mark(p999_target && index == worst_p999)
                );
            }
        }
        let rows = [
            (
                format!("add-note, {}-event stream", plan.short_stream_events),
                result.stream_short,
            ),
            (
                format!("add-note, {}-event stream", plan.long_stream_events),
                result.stream_long,
            ),
        ];
        for (name, summary) in rows {
            println!(
                "| {} | {name} | {} | {:.2} | {:.2} | {:.2} |",
                result.store, summary.n, summary.p50_ms, summary.p99_ms, summary.p999_ms
            );
        }
    }
    println!("\nDuring each open-loop run: the disk's own commit latency (a 200-byte write and fdatasync every 10 ms, ms) and, on PostgreSQL, what the server's active sessions waited on (share of samples every 10 ms; mean active sessions):\n");
    println!(
        "| store | run | command p99.9 | disk fsync p50 | p99 | p99.9 | max | PostgreSQL waits |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    for result in results {
        for (index, repeat) in result.latency_repeats.iter().enumerate() {
            let fsync = repeat.disk_fsync;
            let waits = repeat.waits.as_ref().map_or_else(
                || "-".to_owned(),
                |waits| {
                    format!(
                        "{} (mean {:.1} active)",
                        waits.top(4),
                        waits.active as f64 / waits.samples.max(1) as f64
                    )
                },
            );
            println!(
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {waits} |",
                result.store,
                index + 1,
                repeat.command_latency.p999_ms,
                fsync.p50_ms,
                fsync.p99_ms,
                fsync.p999_ms,
                fsync.max_ms
            );
        }
    }
    println!(
        "\n| store | rebuild events | rebuild s | events/s | rebuild command CPU s | machine CPU s | server peak MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for result in results {
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} |",
            result.store,
            result.rebuild_events,
            result.rebuild_seconds,
            result.rebuild_events_per_second,
            result.rebuild_cpu.process_seconds,
            result.rebuild_cpu.machine_seconds,
            result.server_peak_memory_mib
        );
    }
    println!("\n| target | measured | target | result |");
    println!("|---|---:|---|---|");
    for target in targets {
        let run = target
            .worst_run
            .map(|run| format!(" (run {run})"))
            .unwrap_or_default();
        println!(
            "| {} | {:.2}{run} | {} | {} |",
            target.name,
            target.measured,
            target.target,
            if target.pass { "pass" } else { "MISS" }
        );
    }
}

/// nproc, memory and kernel, for the record.
fn machine() -> Value {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let memory_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|text| text.trim().to_owned())
        .unwrap_or_default();
    json!({"cpus": cpus, "memory_mib": memory_kib / 1024, "kernel": kernel})
}

/// Writes the results document to `--output` and prints where, with the machine and the run's
/// length.
fn write_results(args: &Args, document: &Value, started: Instant) -> Result<()> {
    if let Some(parent) = args.output.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&args.output, serde_json::to_string_pretty(document)?)
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!(
        "\nmachine: {}\nresults: {} ({} s)",
        document["machine"],
        args.output.display(),
        started.elapsed().as_secs()
    );
    Ok(())
}
