//! The HTTP load generator: case lifecycles (register → dispatch → accept → add-note → respond →
//! rate → close, seven commands per case, each client on its own cases), closed-loop at a fixed
//! number of clients for throughput and saturation latency (every command timed), open-loop at a fixed rate for latency (measured from the
//! time a request was *due*, so a stalled server cannot hide its queueing delay), projection lag
//! through `?min_position`, and sequential add-note on short and long streams.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::stats::{summarize, Summary};

/// Bearer tokens for the roles of the lifecycle.
pub struct Tokens {
    /// Registers cases.
    pub liaison: String,
    /// Dispatches, notes, closes, and reads.
    pub dispatcher: String,
    /// Accepts and responds for dept-commerce.
    pub handler: String,
    /// Rates, as ent-0001.
    pub enterprise: String,
}

/// The API of one running server.
pub struct Api {
    client: reqwest::Client,
    base: String,
    tokens: Tokens,
}

/// Where one case is in its lifecycle.
#[derive(Default)]
pub struct Lifecycle {
    case_id: Option<String>,
    next_step: usize,
}

const STEPS: usize = 7;

impl Api {
    /// A client for the server at `address`.
    pub fn new(address: &str, tokens: Tokens) -> Result<Self> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            client,
            base: format!("http://{address}/api/v1"),
            tokens,
        })
    }

    async fn command(&self, token: &str, path: &str, body: Option<Value>) -> Result<(String, i64)> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("POST {path}"))?;
        if !status.is_success() {
            bail!("POST {path}: {status}: {text}");
        }
        let answer: Value =
            serde_json::from_str(&text).with_context(|| format!("POST {path}: {text}"))?;
        let id = answer["id"].as_str().unwrap_or_default().to_owned();
        let position = answer["position"]
            .as_i64()
            .with_context(|| format!("POST {path}: no position in {text}"))?;
        Ok((id, position))
    }

    /// Runs the next command of `lifecycle`; returns the case id and the command's position.
    /// After the last step the lifecycle starts over with a new case.
    pub async fn step(&self, lifecycle: &mut Lifecycle) -> Result<(String, i64)> {
        let tokens = &self.tokens;
        let step = lifecycle.next_step;
        let Some(case_id) = lifecycle.case_id.clone().filter(|_| step > 0) else {
            let (id, position) = self
                .command(
                    &tokens.liaison,
                    "/cases",
                    Some(json!({
                        "enterprise_id": "ent-0001", "title": "贷款贴息兑现慢",
                        "description": "企业反映贴息资金迟迟未到账，影响下一季度的设备采购计划。",
                        "category": "financing", "urgency": "normal", "source": "liaison_visit"
                    })),
                )
                .await?;
            lifecycle.case_id = Some(id.clone());
            lifecycle.next_step = 1;
            return Ok((id, position));
        };
        let path = |action: &str| format!("/cases/{case_id}/{action}");
        let (_, position) = match step {
            1 => {
                let body =
                    json!({"lead_department": "dept-commerce", "co_departments": ["dept-finance"]});
                self.command(&tokens.dispatcher, &path("dispatch"), Some(body))
                    .await?
            }
            2 => self.command(&tokens.handler, &path("accept"), None).await?,
            3 => {
                let body = json!({"text": "已电话联系企业，财政局正在走拨付流程。"});
                self.command(&tokens.dispatcher, &path("add-note"), Some(body))
                    .await?
            }
            4 => {
                let body = json!({"resolution": "resolved", "text": "已协调财政局完成拨付。"});
                self.command(&tokens.handler, &path("respond"), Some(body))
                    .await?
            }
            5 => {
                let body = json!({"satisfaction": 5, "resolved": true});
                self.command(&tokens.enterprise, &path("rate"), Some(body))
                    .await?
            }
            _ => {
                self.command(&tokens.dispatcher, &path("close"), None)
                    .await?
            }
        };
        lifecycle.next_step = (step + 1) % STEPS;
        Ok((case_id, position))
    }

    /// Adds a note to a case; returns the position.
    pub async fn add_note(&self, case_id: &str) -> Result<i64> {
        let body = json!({"text": "跟进记录：企业确认已收到答复。"});
        let path = format!("/cases/{case_id}/add-note");
        Ok(self
            .command(&self.tokens.dispatcher, &path, Some(body))
            .await?
            .1)
    }

    /// Reads a case (`GET /cases/{id}`), waiting for `min_position` when given.
    pub async fn read_case(&self, case_id: &str, min_position: Option<i64>) -> Result<()> {
        let mut url = format!("{}/cases/{case_id}", self.base);
        if let Some(position) = min_position {
            url.push_str(&format!("?min_position={position}"));
        }
        let response = self
            .client
            .get(&url)
            .bearer_auth(&self.tokens.dispatcher)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("GET {url}"))?;
        if !status.is_success() {
            bail!("GET {url}: {status}: {text}");
        }
        Ok(())
    }
}

impl Api {
    /// Waits until the `cases` view includes `position` (a read with `min_position`, repeated
    /// while the server answers 503 `projection_behind`, for `limit` at most); returns how long.
    pub async fn wait_visible(
        &self,
        case_id: &str,
        position: i64,
        limit: Duration,
    ) -> Result<Duration> {
        let started = Instant::now();
        loop {
            match self.read_case(case_id, Some(position)).await {
                Ok(()) => return Ok(started.elapsed()),
                Err(error) if started.elapsed() < limit => {
                    if !format!("{error:#}").contains("projection_behind") {
                        return Err(error);
                    }
                }
                Err(error) => {
                    return Err(error.context(format!(
                        "the cases view did not reach position {position} within {limit:?}"
                    )))
                }
            }
        }
    }

    /// Registers a case and waits until the view includes it; returns how long that took.
    pub async fn drain_projector(&self, limit: Duration) -> Result<Duration> {
        let mut lifecycle = Lifecycle::default();
        let (case_id, position) = self.step(&mut lifecycle).await?;
        self.wait_visible(&case_id, position, limit).await
    }
}

/// What a closed-loop run achieved.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClosedLoop {
    /// Concurrent clients.
    pub clients: usize,
    /// Successful commands.
    pub commands: u64,
    /// Failed commands (any non-2xx answer or transport error).
    pub errors: u64,
    /// Successful commands per second.
    pub per_second: f64,
    /// The first error, if any.
    pub first_error: Option<String>,
    /// The latency of every successful command, from sending it to its answer (each client
    /// sends its next command as soon as it has the answer, so this is latency at saturation).
    pub latency: Summary,
    /// `latency` p99 / p50: how far the tail stands from the median under full load.
    pub p99_over_p50: f64,
}

/// `clients` clients, each running lifecycles back to back for `duration`.
pub async fn closed_loop(api: Arc<Api>, clients: usize, duration: Duration) -> Result<ClosedLoop> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None);
            let mut latencies = Vec::new();
            let mut lifecycle = Lifecycle::default();
            while Instant::now() < deadline {
                let sent = Instant::now();
                match api.step(&mut lifecycle).await {
                    Ok(_) => {
                        latencies.push(sent.elapsed());
                        ok += 1;
                    }
                    Err(error) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{error:#}"));
                        lifecycle = Lifecycle::default();
                    }
                }
            }
            (ok, errors, first_error, latencies)
        }));
    }
    let mut result = ClosedLoop {
        clients,
        commands: 0,
        errors: 0,
        per_second: 0.0,
        first_error: None,
        latency: Summary::default(),
        p99_over_p50: 0.0,
    };
    let mut latencies = Vec::new();
    for task in tasks {
        let (ok, errors, first_error, client_latencies) =
            task.await.context("a load client panicked")?;
        latencies.extend(client_latencies);
        result.commands += ok;
        result.errors += errors;
        if result.first_error.is_none() {
            result.first_error = first_error;
        }
    }
    result.per_second = result.commands as f64 / started.elapsed().as_secs_f64();
    result.latency = summarize(&latencies);
    result.p99_over_p50 = result.latency.p99_over_p50();
    Ok(result)
}

/// The samples of an open-loop run.
#[derive(Default)]
pub struct OpenLoop {
    /// Command latencies, from when each command was due.
    pub commands: Vec<Duration>,
    /// Read latencies, from when each read was due.
    pub reads: Vec<Duration>,
    /// Projection lag: from a command's answer to the answer of a read with its `min_position`.
    pub lag: Vec<Duration>,
    /// Failed requests.
    pub errors: u64,
    /// Requests not sent because `MAX_IN_FLIGHT` were already outstanding.
    pub skipped: u64,
    /// The first error, if any.
    pub first_error: Option<String>,
}

/// Outstanding requests at most; beyond that a due request is counted as skipped.
const MAX_IN_FLIGHT: usize = 1024;
/// One command in this many is followed by a lag measurement.
const LAG_EVERY: u64 = 4;

struct Shared {
    idle: VecDeque<Lifecycle>,
    known_cases: Vec<String>,
    samples: OpenLoop,
}

/// Cases registered before the open-loop run, which its reads pick from.
const READ_SET: usize = 100;

/// Requests at `rate` per second for `duration`, alternating a command (the next step of some
/// idle lifecycle, or a new case) and a read of one of `READ_SET` cases registered (and visible)
/// before the run; one command in `LAG_EVERY` is followed by a lag measurement.
pub async fn open_loop(api: Arc<Api>, rate: f64, duration: Duration) -> Result<OpenLoop> {
    let mut known_cases = Vec::new();
    let mut last_position = 0;
    for _ in 0..READ_SET {
        let mut lifecycle = Lifecycle::default();
        let (case_id, position) = api.step(&mut lifecycle).await?;
        known_cases.push(case_id);
        last_position = position;
    }
    if let Some(case_id) = known_cases.last() {
        api.wait_visible(case_id, last_position, Duration::from_secs(600))
            .await?;
    }
    let shared = Arc::new(Mutex::new(Shared {
        idle: VecDeque::new(),
        known_cases,
        samples: OpenLoop::default(),
    }));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let period = Duration::from_secs_f64(1.0 / rate);
    let started = tokio::time::Instant::now();
    let n_ticks = (duration.as_secs_f64() * rate) as u64;
    let mut tasks = Vec::new();
    for tick in 0..n_ticks {
        let due = started + period.mul_f64(tick as f64);
        tokio::time::sleep_until(due).await;
        let is_read = tick % 2 == 1;
        {
            let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                lock(&shared).samples.skipped += 1;
                continue;
            };
            let api = api.clone();
            let shared = shared.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = permit;
                if is_read {
                    let case_id = {
                        let shared = lock(&shared);
                        let known = &shared.known_cases;
                        known[(tick.wrapping_mul(2_654_435_761) % known.len() as u64) as usize]
                            .clone()
                    };
                    let outcome = api.read_case(&case_id, None).await;
                    let latency = due.elapsed();
                    let mut shared = lock(&shared);
                    match outcome {
                        Ok(()) => shared.samples.reads.push(latency),
                        Err(error) => record_error(&mut shared.samples, error),
                    }
                    return;
                }
                let mut lifecycle = lock(&shared).idle.pop_front().unwrap_or_default();
                let outcome = api.step(&mut lifecycle).await;
                let latency = due.elapsed();
                let (case_id, position) = match outcome {
                    Ok(done) => done,
                    Err(error) => {
                        record_error(&mut lock(&shared).samples, error);
                        return;
                    }
                };
                {
                    let mut shared = lock(&shared);
                    shared.samples.commands.push(latency);
                    if lifecycle.next_step != 0 {
                        shared.idle.push_back(lifecycle);
                    }
                }
                if tick % (2 * LAG_EVERY) == 0 {
                    let answered = Instant::now();
                    let outcome = api.read_case(&case_id, Some(position)).await;
                    let lag = answered.elapsed();
                    let mut shared = lock(&shared);
                    match outcome {
                        Ok(()) => shared.samples.lag.push(lag),
                        Err(error) => {
                            // Timed out waiting (503 projection_behind): the lag is at least
                            // that long, so it counts as a sample, and as an error.
                            if format!("{error:#}").contains("projection_behind") {
                                shared.samples.lag.push(lag);
                            }
                            record_error(&mut shared.samples, error);
                        }
                    }
                }
            }));
        }
    }
    for task in tasks {
        task.await.context("a load task panicked")?;
    }
    let samples = std::mem::take(&mut lock(&shared).samples);
    Ok(samples)
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // A panicking task cannot leave the samples inconsistent (each update is one push).
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn record_error(samples: &mut OpenLoop, error: anyhow::Error) {
    samples.errors += 1;
    samples
        .first_error
        .get_or_insert_with(|| format!("{error:#}"));
}

/// Sequential add-note commands, alternating between a different short stream each time and the
/// one long stream; returns the latencies on each.
pub async fn stream_length(
    api: &Api,
    short_streams: &[String],
    long_stream: &str,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let mut short = Vec::new();
    let mut long = Vec::new();
    for case_id in short_streams {
        let started = Instant::now();
        api.add_note(case_id).await?;
        short.push(started.elapsed());
        let started = Instant::now();
        api.add_note(long_stream).await?;
        long.push(started.elapsed());
    }
    Ok((short, long))
}
