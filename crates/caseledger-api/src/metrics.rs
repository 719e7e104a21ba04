//! Prometheus metrics in the text exposition format (`text/plain; version=0.0.4`): requests and
//! latencies by route, commands by type and outcome, retries, the aggregate cache; projection lag
//! read from the store when scraped; process metrics (CPU, memory, file descriptors, start time)
//! read from `/proc/self` on Linux.
//!
//! Counters and histograms are `prometheus-client` families: a request updates its own series
//! (an atomic counter, a per-series histogram) under a shared read lock, never a global mutex.
//! Counters are written the classic Prometheus way (`# TYPE caseledger_commands_total counter`
//! followed by `caseledger_commands_total{…}`), which keeps every metric name and label set and
//! the dashboards that read them; see [`Total`].

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use caseledger_app::revocations::RevocationStats;
use caseledger_store::{CacheStats, ProjectionStatus};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode_registry;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

/// Latency bucket bounds in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    command: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RetryLabels {
    command: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProjectionLabels {
    projection: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// A counter whose name already ends in `_total`, written as the classic text format does
/// (the OpenMetrics encoder would name the family without `_total` and add it to the sample).
#[derive(Debug, Default, Clone)]
struct Total(Counter);

impl Total {
    /// A counter read at scrape time from a count kept elsewhere.
    fn of(count: u64) -> Self {
        let total = Self::default();
        total.0.inc_by(count);
        total
    }
}

impl TypedMetric for Total {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for Total {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        encoder.encode_gauge(&self.0.get())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// One metric family with its HELP and TYPE lines, registered as a collector: its
/// declaration is written even before its first sample (the registry skips empty families, and
/// dashboards and tests look for the declaration), and a counter keeps its `_total` name (the
/// registry's `register` refuses that name: it writes OpenMetrics, where `_total` is added to
/// the sample only).
#[derive(Debug)]
struct Declared<M> {
    name: &'static str,
    help: &'static str,
    metric: M,
}

impl<M: EncodeMetric + fmt::Debug + Send + Sync + 'static> Declared<M> {
    fn register(registry: &mut Registry, name: &'static str, help: &'static str, metric: M) {
        registry.register_collector(Box::new(Self { name, help, metric }));
    }
}

impl<M: EncodeMetric + fmt::Debug + Send + Sync + 'static> Collector for Declared<M> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let metric =
            encoder.encode_descriptor(self.name, self.help, None, self.metric.metric_type())?;
        self.metric.encode(metric)
    }
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Counters and histograms of this process.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Total>,
    latencies: Latencies,
    commands: Family<CommandLabels, Total>,
    retries: Family<RetryLabels, Total>,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Total>::default();
        let latencies: Latencies = Family::new_with_constructor(latency_histogram);
        let commands = Family::<CommandLabels, Total>::default();
        let retries = Family::<RetryLabels, Total>::default();
        let mut registry = Registry::default();
        Declared::register(
            &mut registry,
            "caseledger_http_requests_total",
            "HTTP requests by route, method and status.",
            requests.clone(),
        );
        Declared::register(
            &mut registry,
            "caseledger_http_request_duration_seconds",
            "HTTP request latency by route.",
            latencies.clone(),
        );
        Declared::register(
            &mut registry,
            "caseledger_commands_total",
            "Commands by type and outcome (ok or an error code).",
            commands.clone(),
        );
        Declared::register(
            &mut registry,
            "caseledger_command_retries_total",
            "Commands without If-Match decided again after losing to a concurrent append, by type.",
            retries.clone(),
        );
        registry.register_collector(Box::new(ProcessCollector));
        Self {
            registry,
            requests,
            latencies,
            commands,
            retries,
        }
    }
}

impl Metrics {
    /// Counts one finished request.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .0
            .inc();
        self.latencies
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
                method: method.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one command by its name and outcome (`ok` or an error code).
    pub fn observe_command(&self, command: &str, outcome: &str) {
        self.commands
            .get_or_create(&CommandLabels {
                command: command.to_owned(),
                outcome: outcome.to_owned(),
            })
            .0
            .inc();
    }

    /// Counts one retry of a command that lost to a concurrent append on its aggregate.
    pub fn observe_retry(&self, command: &str) {
        self.retries
            .get_or_create(&RetryLabels {
                command: command.to_owned(),
            })
            .0
            .inc();
    }

    /// Renders every metric, with projection lag from `projections`, the aggregate cache's
    /// counts from `cache` and the revocation checks' from `revocations`.
    pub fn render(
        &self,
        projections: &[ProjectionStatus],
        cache: CacheStats,
        revocations: RevocationStats,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let scraped = scraped_registry(projections, cache, revocations, now);
        let mut out = String::new();
        // Writing into a String has no failure path.
        let encoded = encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, &scraped));
        debug_assert!(encoded.is_ok());
        out
    }
}

/// The metrics read at scrape time: projection lag, the aggregate cache and the revocation
/// checks.
fn scraped_registry(
    projections: &[ProjectionStatus],
    cache: CacheStats,
    revocations: RevocationStats,
    now: chrono::DateTime<chrono::Utc>,
) -> Registry {
    let lag_events = Family::<ProjectionLabels, Gauge>::default();
    let lag_seconds = Family::<ProjectionLabels, Gauge<f64, AtomicU64>>::default();
    let failing = Family::<ProjectionLabels, Gauge>::default();
    for status in projections {
        let labels = ProjectionLabels {
            projection: status.name.clone(),
        };
        lag_events.get_or_create(&labels).set(status.backlog);
        let lag = status
            .oldest_pending_at
            .as_deref()
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .map_or(0.0, |at| {
                (now - at.to_utc()).num_milliseconds().max(0) as f64 / 1000.0
            });
        lag_seconds.get_or_create(&labels).set(lag);
        failing
            .get_or_create(&labels)
            .set(i64::from(status.last_error.is_some()));
    }
    let cache_uses = Family::<OutcomeLabels, Total>::default();
    for (outcome, n) in [
        ("hit", cache.hits),
        ("miss", cache.misses),
        ("stale", cache.stale),
    ] {
        cache_uses
            .get_or_create(&OutcomeLabels { outcome })
            .0
            .inc_by(n);
    }
    let mut registry = Registry::default();
    Declared::register(
        &mut registry,
        "caseledger_projection_lag_events",
        "Events recorded but not yet applied, by projection.",
        lag_events,
    );
    Declared::register(
        &mut registry,
        "caseledger_projection_lag_seconds",
        "Age of the oldest event not yet applied (0 when none).",
        lag_seconds,
    );
    Declared::register(
        &mut registry,
        "caseledger_projection_failing",
        "Whether a projection is stopped by an error.",
        failing,
    );
    Declared::register(
            &mut registry,
            "caseledger_aggregate_cache_total",
            "Commands by how they used the in-memory aggregate cache (hit, miss, stale: decided again from the log).",
            cache_uses,
        );
    Declared::register(
        &mut registry,
        "caseledger_revocation_checks_total",
        "Authenticated requests checked against the session revocations in the log.",
        Total::of(revocations.checks),
    );
    Declared::register(
        &mut registry,
        "caseledger_revocation_reads_total",
        "Reads of the log that answered the revocation checks (concurrent checks share one).",
        Total::of(revocations.reads),
    );
    registry
}

/// The standard process metrics of Prometheus client libraries (`process_cpu_seconds_total`,
/// `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`,
/// `process_max_fds`, `process_start_time_seconds`, `process_threads`), read from `/proc` at
/// each scrape. `prometheus-client` has no process collector; elsewhere than Linux, none are
/// written.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let Some(process) = process::read() else {
            return Ok(());
        };
        encoder
            .encode_descriptor(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                None,
                MetricType::Counter,
            )?
            .encode_gauge(&process.cpu_seconds)?;
        let gauges: [(&str, &str, Option<u64>); 5] = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                Some(process.resident_bytes),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                Some(process.virtual_bytes),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                process.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                process.max_fds,
            ),
            (
                "process_threads",
                "Number of OS threads in the process.",
                Some(process.threads),
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                encoder
                    .encode_descriptor(name, help, None, MetricType::Gauge)?
                    .encode_gauge(&value)?;
            }
        }
        if let Some(started) = process.start_time_seconds {
            encoder
                .encode_descriptor(
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    None,
                    MetricType::Gauge,
                )?
                .encode_gauge(&started)?;
        }
        Ok(())
    }
}

mod process {
    /// What `/proc` says about this process.
    pub struct Process {
        pub cpu_seconds: f64,
        pub resident_bytes: u64,
        pub virtual_bytes: u64,
        pub threads: u64,
        pub open_fds: Option<u64>,
        pub max_fds: Option<u64>,
        pub start_time_seconds: Option<f64>,
    }

    /// `USER_HZ`, the unit of the times in `/proc/self/stat`: 100 on every Linux ABI (the Go
    /// client's procfs assumes the same).
    #[cfg(target_os = "linux")]
    const TICKS_PER_SECOND: f64 = 100.0;

    #[cfg(target_os = "linux")]
    pub fn read() -> Option<Process> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name is in parentheses and may hold spaces: fields follow the last `)`.
        let fields: Vec<&str> = stat
            .get(stat.rfind(')')? + 1..)?
            .split_whitespace()
            .collect();
        // Field n of proc(5) is fields[n - 3].
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        let ticks = field(14)? + field(15)?;
        // Resident memory from `/proc/self/status` (in kB there), so the page size is not needed.
        let resident_kb = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|line| line.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })?;
        let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|line| line.strip_prefix("btime "))
                .and_then(|t| t.trim().parse::<u64>().ok())
        });
        let max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|line| line.starts_with("Max open files"))
                    .and_then(|line| line.split_whitespace().nth(3))
                    .and_then(|soft| soft.parse::<u64>().ok())
            });
        Some(Process {
            cpu_seconds: ticks as f64 / TICKS_PER_SECOND,
            resident_bytes: resident_kb * 1024,
            virtual_bytes: field(23)?,
            threads: field(20)?,
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|entries| entries.count() as u64),
            max_fds,
            start_time_seconds: boot_time
                .zip(field(22))
                .map(|(boot, start)| boot as f64 + start as f64 / TICKS_PER_SECOND),
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn read() -> Option<Process> {
        None
    }
}
