//! `--scale`: a decade of a large district (`scale_seed`), on each store: how long generating
//! it takes and how big the database gets, then by wall clock (process start to exit) the
//! rebuild of every rebuildable projection, the audit chain's catch-up and a full
//! `caseledger audit verify`, then `caseledger serve` and the reads people make, each timed
//! sequentially and warm, with the server's resident memory sampled during the reads.
//! Prints a table with the targets and writes a `scale` object to the results file.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use caseledger_store::{Database, PgStore};
use chrono::{Datelike, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::scale_seed::{self, Generated, Layout};
use crate::server::{Caseledger, Server};
use crate::stats::{summarize, Summary};
use crate::{write_results, Args, Store, Target};

/// Timed requests per read (after `WARM_UP` untimed ones), unless the read is so slow that
/// `READ_BUDGET` passes first; then it stops after at least `MIN_SAMPLES` (so the run ends in
/// reasonable time; the sample count is reported, and with fewer than 100 the p99 is the max).
const SAMPLES: usize = 100;
const MIN_SAMPLES: usize = 20;
const READ_BUDGET: Duration = Duration::from_secs(60);
const WARM_UP: usize = 3;
/// A maintenance command still running after this long is stopped and reported as a miss.
const COMMAND_LIMIT: Duration = Duration::from_secs(3 * 3_600);
/// The projection that is never rebuilt (it would seal tampering); it catches up instead.
const AUDIT_CHAIN: &str = "audit_chain";

/// One rebuild (today one entry: every projection in one pass).
#[derive(Debug, Serialize)]
struct Rebuild {
    projection: String,
    seconds: f64,
    finished: bool,
}

/// One read, timed.
#[derive(Debug, Serialize)]
struct Read {
    name: &'static str,
    request: String,
    target_p99_ms: f64,
    summary: Summary,
}

/// Everything measured on one store.
#[derive(Debug, Serialize)]
struct StoreScale {
    store: &'static str,
    generated: Generated,
    generation_seconds: f64,
    database_bytes: u64,
    rebuilds: Vec<Rebuild>,
    rebuild_seconds: f64,
    /// Events over the time to rebuild every projection (one pass over the log for all).
    rebuild_events_per_second: f64,
    audit_chain_catch_up_seconds: f64,
    verify_seconds: f64,
    verify_events_per_second: f64,
    verify_output: String,
    reads: Vec<Read>,
    /// The largest `VmRSS` sampled every 50 ms during the reads.
    server_rss_during_reads_mib: f64,
    /// `VmRSS` after the reads.
    server_rss_after_reads_mib: f64,
    /// `VmHWM` after the reads: the peak over the server's life.
    server_peak_mib: f64,
}

/// Runs the scale mode on the stores `args` selects and writes the results.
pub async fn run(args: &Args, work_dir: &Path) -> Result<()> {
    let started = Instant::now();
    let layout = Layout::new(args.scale_factor);
    eprintln!(
        "caseledger-bench: scale mode, factor {} ({} cases, {} subjects)",
        layout.factor, layout.cases, layout.subjects
    );
    let stores = match args.store {
        Some(store) => vec![store],
        None => vec![Store::Postgres, Store::Sqlite],
    };
    let mut results = Vec::new();
    for store in stores {
        results.push(
            scale_store(args, work_dir, store, &layout)
                .await
                .with_context(|| format!("scale run on {}", store.name()))?,
        );
    }
    let targets = targets(&results);
    print_table(&layout, &results, &targets);
    let machine = crate::machine();
    let document = json!({
        "format": "caseledger-bench-v1",
        "finished_at": Utc::now().to_rfc3339(),
        "seconds": started.elapsed().as_secs(),
        "machine": machine,
        "scale": {
            "layout": layout,
            "stores": results,
            "targets": targets,
        },
    });
    write_results(args, &document, started)
}

async fn scale_store(
    args: &Args,
    work_dir: &Path,
    store: Store,
    layout: &Layout,
) -> Result<StoreScale> {
    let name = store.name();
    let url = crate::fresh_database(args, work_dir, store, "scale").await?;
    let data_dir = work_dir.join(format!("scale-data-{name}"));
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    std::fs::write(
        data_dir.join("departments.toml"),
        scale_seed::departments_toml(),
    )
    .context("writing departments.toml")?;
    // The public lookup and ranking are timed one after another from one address: the public
    // rate limit (30/min by default) would answer most of them 429. It protects the server, it
    // is not a cost of the reads.
    std::fs::write(
        data_dir.join("caseledger.toml"),
        "[http]\nrate_public = \"off\"\n",
    )
    .context("writing caseledger.toml")?;
    let cli = Caseledger {
        binary: args
            .caseledger
            .canonicalize()
            .with_context(|| format!("finding {}", args.caseledger.display()))?,
        data_dir,
        database_url: url.clone(),
    };
    cli.run(&["migrate"])?;

    // 1. Generate and store.
    let generating = Instant::now();
    let generated = store_district(&url, layout).await?;
    let generation_seconds = generating.elapsed().as_secs_f64();
    eprintln!(
        "{name}: stored {} events ({} cases, {} of them open, {} overdue) in {generation_seconds:.1} s",
        generated.events,
        layout.cases,
        generated.open_cases,
        generated.overdue_cases
    );

    // 2. Rebuild every projection but the audit chain, as an operator would: one
    //    `caseledger projections rebuild` without a name, which reads the log once for all of
    //    them and skips the audit chain (never rebuilt: it would seal tampering).
    let status = cli.run(&["projections", "status"])?;
    let projections: Vec<String> = status
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .filter(|projection| *projection != AUDIT_CHAIN)
        .map(str::to_owned)
        .collect();
    if projections.is_empty() {
        bail!("`caseledger projections status` listed no projections: {status}");
    }
    let (printed, seconds, _) = cli.run_measured(&["projections", "rebuild"], COMMAND_LIMIT)?;
    if let Some(printed) = &printed {
        for projection in &projections {
            if !printed.contains(&format!("{projection}: rebuilt in")) {
                bail!("`caseledger projections rebuild` did not rebuild {projection}: {printed}");
            }
        }
    }
    eprintln!(
        "{name}: rebuild of {} projections in one pass: {seconds:.1} s ({:.0} events/s){}",
        projections.len(),
        generated.events as f64 / seconds,
        if printed.is_none() { ", stopped" } else { "" }
    );
    let rebuilds = vec![Rebuild {
        projection: format!("all {} (one pass)", projections.len()),
        seconds,
        finished: printed.is_some(),
    }];
    let rebuild_seconds: f64 = rebuilds.iter().map(|rebuild| rebuild.seconds).sum();
    let rebuild_events_per_second = if rebuilds.iter().all(|rebuild| rebuild.finished) {
        generated.events as f64 / rebuild_seconds
    } else {
        0.0
    };

    // 3. The audit chain catches up (it is append-only), then the full verification.
    let (_, audit_chain_catch_up_seconds, _) =
        cli.run_measured(&["projections", "catch-up"], COMMAND_LIMIT)?;
    eprintln!("{name}: audit chain caught up in {audit_chain_catch_up_seconds:.1} s");
    let (verify_output, verify_seconds, _) =
        cli.run_measured(&["audit", "verify"], COMMAND_LIMIT)?;
    let verify_output = verify_output.unwrap_or_else(|| "stopped at the limit".to_owned());
    let intact = verify_output.contains("audit trail intact");
    let verify_events_per_second = if intact {
        generated.events as f64 / verify_seconds
    } else {
        0.0
    };
    eprintln!("{name}: {verify_output} ({verify_seconds:.1} s)");

    let database_bytes = database_size(&url).await?;
    eprintln!(
        "{name}: database {:.2} GiB",
        database_bytes as f64 / (1u64 << 30) as f64
    );

    // 4. Reads.
    let server = cli.serve(&work_dir.join(format!("scale-server-{name}.log")))?;
    let reads = reads(&cli, &server, &generated).await;
    let rss_after = status_kib(server.pid(), "VmRSS:")?;
    let peak = status_kib(server.pid(), "VmHWM:")?;
    server.stop()?;
    let (reads, rss_during) = reads?;

    Ok(StoreScale {
        store: name,
        generated,
        generation_seconds,
        database_bytes,
        rebuilds,
        rebuild_seconds,
        rebuild_events_per_second,
        audit_chain_catch_up_seconds,
        verify_seconds,
        verify_events_per_second,
        verify_output,
        reads,
        server_rss_during_reads_mib: rss_during as f64 / 1024.0,
        server_rss_after_reads_mib: rss_after as f64 / 1024.0,
        server_peak_mib: peak as f64 / 1024.0,
    })
}

/// Generates the district on a thread of its own and writes each batch in one transaction.
/// On PostgreSQL, ANALYZE afterwards: autovacuum would have done it long before any reader
/// came along in a district that grew over ten years, but not within seconds of a bulk load.
async fn store_district(url: &str, layout: &Layout) -> Result<Generated> {
    let db = Database::connect(url)
        .await
        .context("opening the scale database")?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
    let layout = *layout;
    let now = Utc::now();
    let generator = std::thread::spawn(move || {
        scale_seed::generate(&layout, now, &mut |batch| {
            sender
                .blocking_send(batch)
                .map_err(|_| anyhow!("the writer stopped"))
        })
    });
    while let Some(batch) = receiver.recv().await {
        crate::seed::insert(&db, &batch).await?;
    }
    let generated = generator
        .join()
        .map_err(|_| anyhow!("the generator panicked"))??;
    if let Database::Postgres(PgStore { write: pool, .. }) = &db {
        sqlx::query("ANALYZE")
            .execute(pool)
            .await
            .context("ANALYZE")?;
        pool.close().await;
    }
    Ok(generated)
}

/// The database's size on disk: `pg_database_size`, or the SQLite file with its WAL.
async fn database_size(url: &str) -> Result<u64> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let size = |path: &str| std::fs::metadata(path).map_or(0, |meta| meta.len());
        return Ok(size(path) + size(&format!("{path}-wal")));
    }
    let db = Database::connect(url)
        .await
        .context("opening the database")?;
    let Database::Postgres(PgStore { write: pool, .. }) = &db else {
        bail!("not a PostgreSQL URL: {url}");
    };
    let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(pool)
        .await
        .context("reading the database size")?;
    pool.close().await;
    Ok(bytes as u64)
}

/// A field of `/proc/<pid>/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .with_context(|| format!("no {field} in {path}"))
}

/// One request of a read.
#[derive(Clone)]
struct Request {
    post: Option<Value>,
    path: String,
    token: Option<String>,
}

/// A read: its requests (used in turn), its target.
struct ReadPlan {
    name: &'static str,
    target_p99_ms: f64,
    requests: Vec<Request>,
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(&self, request: &Request) -> Result<Value> {
        let url = format!("{}{}", self.base, request.path);
        let mut builder = match &request.post {
            Some(body) => self.http.post(&url).json(body),
            None => self.http.get(&url),
        };
        if let Some(token) = &request.token {
            builder = builder.bearer_auth(token);
        }
        let response = builder
            .send()
            .await
            .with_context(|| format!("requesting {}", request.path))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("reading {}", request.path))?;
        if !status.is_success() {
            bail!("{}: {status}: {text}", request.path);
        }
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON: {text}", request.path))
    }
}

/// Samples the server's `VmRSS` every 50 ms until dropped; keeps the largest.
struct RssSampler {
    stop: Arc<AtomicBool>,
    largest_kib: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let largest_kib = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, largest_kib) = (stop.clone(), largest_kib.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(kib) = status_kib(pid, "VmRSS:") {
                        largest_kib.fetch_max(kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        RssSampler {
            stop,
            largest_kib,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.largest_kib.load(Ordering::Relaxed)
    }
}

/// Mints the tokens, waits for the server, finds the last page of the filtered list, then times
/// every read. Returns the reads and the largest `VmRSS` seen during them (KiB).
async fn reads(
    cli: &Caseledger,
    server: &Server,
    generated: &Generated,
) -> Result<(Vec<Read>, u64)> {
    let department = scale_seed::department(0);
    let handler = cli.token(
        &scale_seed::handler(0),
        "department_handler",
        Some(&department),
    )?;
    let dispatcher = cli.token("dispatcher-1", "dispatcher", None)?;
    let leader = cli.token("leader-01", "district_leader", None)?;
    let auditor = cli.token("auditor-1", "auditor", None)?;
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .context("building the HTTP client")?,
        base: format!("http://{}", server.address),
    };
    let ready = Instant::now();
    loop {
        let answer = client
            .http
            .get(format!("{}/readyz", client.base))
            .send()
            .await;
        if answer.is_ok_and(|answer| answer.status().is_success()) {
            break;
        }
        if ready.elapsed() > Duration::from_secs(600) {
            bail!("the server was not ready within 600 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let get = |path: String, token: Option<&String>| Request {
        post: None,
        path,
        token: token.cloned(),
    };
    let list = format!("/api/v1/cases?department={department}&status=closed&limit=50");
    let last_page = last_page(&client, &get(list.clone(), Some(&dispatcher))).await?;
    let year = Utc::now().year() - 1;
    let plans = vec![
        ReadPlan {
            name: "department queue, first page",
            target_p99_ms: 50.0,
            requests: vec![get(
                format!("/api/v1/queues/department/{department}?limit=100"),
                Some(&handler),
            )],
        },
        ReadPlan {
            name: "case list (department, closed), first page",
            target_p99_ms: 50.0,
            requests: vec![get(list.clone(), Some(&dispatcher))],
        },
        ReadPlan {
            name: "case list (department, closed), last page",
            target_p99_ms: 50.0,
            requests: vec![get(last_page, Some(&dispatcher))],
        },
        ReadPlan {
            name: "one case",
            target_p99_ms: 50.0,
            requests: generated
                .sample_cases
                .iter()
                .map(|id| get(format!("/api/v1/cases/{id}"), Some(&dispatcher)))
                .collect(),
        },
        ReadPlan {
            name: "public case lookup",
            target_p99_ms: 50.0,
            requests: generated
                .sample_lookups
                .iter()
                .map(|(number, verifier)| Request {
                    post: Some(json!({"case_number": number, "verifier": verifier})),
                    path: "/api/v1/public/case-status".into(),
                    token: None,
                })
                .collect(),
        },
        ReadPlan {
            name: "department KPI, a year",
            target_p99_ms: 200.0,
            requests: vec![get(
                format!("/api/v1/departments/{department}/kpi?period={year}"),
                Some(&handler),
            )],
        },
        ReadPlan {
            name: "all departments' KPI, a year",
            target_p99_ms: 200.0,
            requests: vec![get(format!("/api/v1/kpi?period={year}"), Some(&leader))],
        },
        ReadPlan {
            name: "public ranking, a year",
            target_p99_ms: 200.0,
            requests: vec![get(format!("/api/v1/public/kpi?period={year}"), None)],
        },
        ReadPlan {
            name: "appraisal compute (POST)",
            target_p99_ms: 50.0,
            requests: generated
                .campaigns
                .iter()
                .map(|id| Request {
                    post: Some(json!({})),
                    path: format!("/api/v1/appraisals/{id}/compute"),
                    token: Some(dispatcher.clone()),
                })
                .collect(),
        },
        ReadPlan {
            name: "audit events by actor (a handler)",
            target_p99_ms: 50.0,
            requests: vec![get(
                format!(
                    "/api/v1/audit/events?actor={}&limit=100",
                    scale_seed::handler(0)
                ),
                Some(&auditor),
            )],
        },
        ReadPlan {
            name: "audit events by actor (rare)",
            target_p99_ms: 50.0,
            requests: vec![get(
                format!(
                    "/api/v1/audit/events?actor={}&limit=100",
                    scale_seed::RARE_ACTOR
                ),
                Some(&auditor),
            )],
        },
    ];

    let sampler = RssSampler::start(server.pid());
    let mut reads = Vec::new();
    for plan in plans {
        if plan.requests.is_empty() {
            bail!("no requests for {}", plan.name);
        }
        // Warm-up requests are the last ones of the rotation, so the first timed request of a
        // read over several ids (each appraisal's first compute loads its stream) is one the
        // warm-up did not touch when there are enough ids.
        let n = plan.requests.len();
        for k in 0..WARM_UP {
            client.send(&plan.requests[(n - 1 - k % n) % n]).await?;
        }
        let mut samples = Vec::with_capacity(SAMPLES);
        let timing = Instant::now();
        for k in 0..SAMPLES {
            if samples.len() >= MIN_SAMPLES && timing.elapsed() > READ_BUDGET {
                break;
            }
            let request = &plan.requests[k % n];
            let sent = Instant::now();
            client.send(request).await?;
            samples.push(sent.elapsed());
        }
        let summary = summarize(&samples);
        eprintln!(
            "read {}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            plan.name, summary.p50_ms, summary.p99_ms, summary.max_ms
        );
        reads.push(Read {
            name: plan.name,
            request: format!(
                "{} {}",
                if plan.requests[0].post.is_some() {
                    "POST"
                } else {
                    "GET"
                },
                plan.requests[0].path
            ),
            target_p99_ms: plan.target_p99_ms,
            summary,
        });
    }
    Ok((reads, sampler.finish()))
}

/// Follows `next_cursor` from the first page of `first` to the last; returns the path of the
/// last page.
async fn last_page(client: &Client, first: &Request) -> Result<String> {
    let mut request = first.clone();
    let mut pages = 1;
    loop {
        let page = client.send(&request).await?;
        let Some(cursor) = page["next_cursor"].as_str() else {
            eprintln!("the filtered case list has {pages} pages");
            return Ok(request.path);
        };
        request.path = format!("{}&cursor={cursor}", first.path);
        pages += 1;
    }
}

fn targets(results: &[StoreScale]) -> Vec<Target> {
    let mut targets = Vec::new();
    for result in results {
        let store = result.store;
        for read in &result.reads {
            targets.push(Target::new(
                format!("{store}: {} p99 (ms)", read.name),
                read.summary.p99_ms,
                format!("< {}", read.target_p99_ms),
                read.summary.p99_ms < read.target_p99_ms,
            ));
        }
        targets.push(Target::new(
            format!("{store}: audit verify (events/s)"),
            result.verify_events_per_second,
            ">= 100000",
            result.verify_events_per_second >= 100_000.0,
        ));
        targets.push(Target::new(
            format!("{store}: rebuild of all projections (events/s)"),
            result.rebuild_events_per_second,
            ">= 50000",
            result.rebuild_events_per_second >= 50_000.0,
        ));
        targets.push(Target::new(
            format!("{store}: server peak RSS (MiB)"),
            result.server_peak_mib,
            "< 300",
            result.server_peak_mib < 300.0,
        ));
    }
    targets
}

fn print_table(layout: &Layout, results: &[StoreScale], targets: &[Target]) {
    println!(
        "\ncaseledger benchmark (scale mode, factor {}: {} cases, {} subjects)\n",
        layout.factor, layout.cases, layout.subjects
    );
    println!("| store | events | open cases | overdue | generation s | database GiB | rebuild all s | rebuild events/s | audit chain catch-up s | verify s | verify events/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for result in results {
        println!(
            "| {} | {} | {} | {} | {:.1} | {:.2} | {:.1} | {:.0} | {:.1} | {:.1} | {:.0} |",
            result.store,
            result.generated.events,
            result.generated.open_cases,
            result.generated.overdue_cases,
            result.generation_seconds,
            result.database_bytes as f64 / (1u64 << 30) as f64,
            result.rebuild_seconds,
            result.rebuild_events_per_second,
            result.audit_chain_catch_up_seconds,
            result.verify_seconds,
            result.verify_events_per_second
        );
    }
    println!("\n| store | projection | rebuild s | events/s |");
    println!("|---|---|---:|---:|");
    for result in results {
        for rebuild in &result.rebuilds {
            println!(
                "| {} | {} | {:.1}{} | {:.0} |",
                result.store,
                rebuild.projection,
                rebuild.seconds,
                if rebuild.finished { "" } else { " (stopped)" },
                result.generated.events as f64 / rebuild.seconds
            );
        }
    }
    println!("\n| store | read | n | p50 ms | p99 ms | max ms | target p99 | result |");
    println!("|---|---|---:|---:|---:|---:|---|---|");
    for result in results {
        for read in &result.reads {
            println!(
                "| {} | {} | {} | {:.2} | {:.2} | {:.2} | < {} | {} |",
                result.store,
                read.name,
                read.summary.n,
                read.summary.p50_ms,
                read.summary.p99_ms,
                read.summary.max_ms,
                read.target_p99_ms,
                if read.summary.p99_ms < read.target_p99_ms {
                    "pass"
                } else {
                    "MISS"
                }
            );
        }
    }
    println!("\n| store | server RSS max during reads MiB | RSS after MiB | peak (VmHWM) MiB |");
    println!("|---|---:|---:|---:|");
    for result in results {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} |",
            result.store,
            result.server_rss_during_reads_mib,
            result.server_rss_after_reads_mib,
            result.server_peak_mib
        );
    }
    println!("\n| target | measured | target | result |");
    println!("|---|---:|---|---|");
    for target in targets {
        println!(
            "| {} | {:.2} | {} | {} |",
            target.name,
            target.measured,
            target.target,
            if target.pass { "pass" } else { "MISS" }
        );
    }
}
