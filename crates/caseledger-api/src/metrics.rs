//! Prometheus metrics in the text exposition format: requests and latencies by route, commands
//! by type and outcome. Projection lag is read from the store when scraped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use caseledger_store::ProjectionStatus;

/// Latency bucket bounds in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Registry {
    requests: BTreeMap<(String, String, u16), u64>,
    latencies: BTreeMap<(String, String), Histogram>,
    commands: BTreeMap<(String, String), u64>,
    retries: BTreeMap<String, u64>,
}

/// Counters and histograms of this process.
#[derive(Default)]
pub struct Metrics {
    registry: Mutex<Registry>,
}

impl Metrics {
    /// Counts one finished request.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let Ok(mut registry) = self.registry.lock() else {
            return;
        };
        *registry
            .requests
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        let histogram = registry
            .latencies
            .entry((route.to_owned(), method.to_owned()))
            .or_default();
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// Counts one command by its name and outcome (`ok` or an error code).
    pub fn observe_command(&self, command: &str, outcome: &str) {
        let Ok(mut registry) = self.registry.lock() else {
            return;
        };
        *registry
            .commands
            .entry((command.to_owned(), outcome.to_owned()))
            .or_default() += 1;
    }

    /// Counts one retry of a command that lost to a concurrent append on its aggregate.
    pub fn observe_retry(&self, command: &str) {
        let Ok(mut registry) = self.registry.lock() else {
            return;
        };
        *registry.retries.entry(command.to_owned()).or_default() += 1;
    }

    /// Renders every metric, with projection lag from `projections`.
    pub fn render(
        &self,
        projections: &[ProjectionStatus],
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let mut out = String::new();
        let Ok(registry) = self.registry.lock() else {
            return out;
        };
        out.push_str(
            "# HELP caseledger_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE caseledger_http_requests_total counter\n");
        for ((route, method, status), n) in &registry.requests {
            let _ = writeln!(
                out,
                "caseledger_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP caseledger_http_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE caseledger_http_request_duration_seconds histogram\n");
        for ((route, method), histogram) in &registry.latencies {
            let labels = format!("route=\"{route}\",method=\"{method}\"");
            for (bound, n) in BUCKETS.iter().zip(histogram.counts) {
                let _ = writeln!(out, "caseledger_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "caseledger_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "caseledger_http_request_duration_seconds_sum{{{labels}}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "caseledger_http_request_duration_seconds_count{{{labels}}} {}",
                histogram.count
            );
        }
        out.push_str("# HELP caseledger_commands_total Commands by type and outcome (ok or an error code).\n");
        out.push_str("# TYPE caseledger_commands_total counter\n");
        for ((command, outcome), n) in &registry.commands {
            let _ = writeln!(
                out,
                "caseledger_commands_total{{command=\"{command}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP caseledger_command_retries_total Commands without If-Match decided again after losing to a concurrent append, by type.\n");
        out.push_str("# TYPE caseledger_command_retries_total counter\n");
        for (command, n) in &registry.retries {
            let _ = writeln!(
                out,
                "caseledger_command_retries_total{{command=\"{command}\"}} {n}"
            );
        }
        out.push_str("# HELP caseledger_projection_lag_events Events recorded but not yet applied, by projection.\n");
        out.push_str("# TYPE caseledger_projection_lag_events gauge\n");
        for status in projections {
            let _ = writeln!(
                out,
                "caseledger_projection_lag_events{{projection=\"{}\"}} {}",
                status.name, status.backlog
            );
        }
        out.push_str(
            "# HELP caseledger_projection_lag_seconds Age of the oldest event not yet applied (0 when none).\n",
        );
        out.push_str("# TYPE caseledger_projection_lag_seconds gauge\n");
        for status in projections {
            let lag = status
                .oldest_pending_at
                .as_deref()
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                .map_or(0.0, |at| {
                    (now - at.to_utc()).num_milliseconds().max(0) as f64 / 1000.0
                });
            let _ = writeln!(
                out,
                "caseledger_projection_lag_seconds{{projection=\"{}\"}} {lag}",
                status.name
            );
        }
        out.push_str(
            "# HELP caseledger_projection_failing Whether a projection is stopped by an error.\n",
        );
        out.push_str("# TYPE caseledger_projection_failing gauge\n");
        for status in projections {
            let failing = u8::from(status.last_error.is_some());
            let _ = writeln!(
                out,
                "caseledger_projection_failing{{projection=\"{}\"}} {failing}",
                status.name
            );
        }
        out
    }
}
