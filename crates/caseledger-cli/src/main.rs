//! The `caseledger` binary: `serve`, `migrate`, `token`, the `projections` and `audit`
//! maintenance commands and `consultations verify-draw`. Configuration is layered (`config.rs`):
//! defaults < `<data dir>/caseledger.toml` < `CASELEDGER_*` < flags.
//!
//! The only place that installs a tracing subscriber, reads the clock for tokens, and touches the
//! data directory (the generated JWT secret and the editable reference data files).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use caseledger_api::auth::MIN_SECRET_BYTES;
use caseledger_api::{AppState, JwtKeys};
use caseledger_app::ReferenceData;
use caseledger_store::{Database, Projector};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use secrecy::{ExposeSecret, SecretString};
use tracing::info;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

mod config;
mod files;

use config::{Config, DatabaseUrl, Environment, Given, LogFormat};

#[derive(Parser)]
#[command(
    name = "caseledger",
    version,
    about = "Event-sourced case management for enterprise service and talent work"
)]
struct Cli {
    /// Database: sqlite://path or postgres://user:pass@host/db [env: CASELEDGER_DATABASE_URL]
    /// [default: sqlite in the data directory, <data-dir>/caseledger.db].
    #[arg(long = "database-url", global = true, value_name = "DATABASE_URL")]
    database_url: Option<String>,
    /// Where the database (unless --database-url says otherwise), the generated secrets, the
    /// editable reference data files and the optional caseledger.toml live
    /// [env: CASELEDGER_DATA_DIR] [default: ./data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Log format [env: CASELEDGER_LOG_FORMAT] [default: text].
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// The settings the flags give (the top layer of the configuration).
    fn flags(&self) -> Given {
        Given {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            listen: match &self.command {
                Command::Serve { listen } => *listen,
                _ => None,
            },
            log_format: self.log_format,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and run the projector.
    Serve {
        /// Address to listen on [env: CASELEDGER_LISTEN] [default: 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Apply the database schema and exit.
    Migrate,
    /// Print a signed token for a user.
    Token {
        /// The user id.
        #[arg(long)]
        sub: String,
        /// A role (repeat for several): district_leader, liaison_officer, dispatcher,
        /// department_handler, department_head, enterprise, expert, panel_secretary,
        /// reward_office, committee_member, approving_authority, auditor, admin.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The department or enterprise id the user acts for.
        #[arg(long)]
        org: Option<String>,
        /// Lifetime, e.g. 30m, 8h, or seconds; at most the maximum token lifetime
        /// (CASELEDGER_TOKEN_MAX_TTL, default 12h).
        #[arg(long, default_value = "8h")]
        ttl: String,
    },
    /// Inspect and rebuild projections.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Verify or export the tamper-evident audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage the aggregate snapshot cache (a cache of the log: always safe to clear).
    Snapshots {
        #[command(subcommand)]
        command: SnapshotsCommand,
    },
    /// Expert consultation requests.
    Consultations {
        #[command(subcommand)]
        command: ConsultationsCommand,
    },
    /// Reward programs and nominations.
    Rewards {
        #[command(subcommand)]
        command: RewardsCommand,
    },
}

#[derive(Subcommand)]
enum RewardsCommand {
    /// The reward decision audit of a program, computed from the events table: every event in
    /// order, reviewer draws re-run, aggregations recomputed and compared, anomaly flags.
    /// Exit 0 when nothing is flagged, 1 when something is (the report is printed either way).
    Audit {
        /// The reward program id.
        program: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = AuditFormat::Json)]
        format: AuditFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum AuditFormat {
    /// One JSON document.
    Json,
    /// One row per event and per flag.
    Csv,
}

#[derive(Subcommand)]
enum SnapshotsCommand {
    /// Delete every snapshot; the next commands replay their streams and write new ones. Use it
    /// after changing how an aggregate evolves without a new release version.
    Clear,
}

#[derive(Subcommand)]
enum ConsultationsCommand {
    /// Re-run a request's recorded panel draw from the log and compare: exit 0 when the
    /// snapshot, its hash, the pool at the draw, the panel and the proof all match; exit 1 with
    /// the mismatch named (a manual selection never matches: it was not drawn).
    VerifyDraw {
        /// The consultation request id.
        id: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every stream chain, the global chain and every digest; exit 1 and name the first
    /// broken event or digest if anything was changed, deleted, inserted or reordered.
    Verify {
        /// A digest you pinned earlier, as SEQ:HASH (repeatable); it must still be in the store.
        #[arg(long = "pin")]
        pins: Vec<String>,
    },
    /// Write the events with their hashes, and the digests, for independent verification
    /// (scripts/verify-audit-export.py).
    Export {
        /// Only events recorded at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only events recorded before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Only this aggregate type, e.g. EnterpriseCase.
        #[arg(long)]
        aggregate_type: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "ndjson")]
        format: ExportFormatArg,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormatArg {
    Ndjson,
    Csv,
}

#[derive(Subcommand)]
enum ProjectionsCommand {
    /// Show each projection's checkpoint, backlog and error.
    Status,
    /// Rebuild one projection (or all, in one pass over the log) from the event log and print
    /// each view's checksum.
    Rebuild {
        /// The projection's name; all when omitted.
        name: Option<String>,
    },
    /// Apply every pending event to every projection now, then exit (what `serve` does
    /// continuously).
    CatchUp,
    /// Print each projection's checksum without changing anything.
    Checksum {
        /// The projection's name; all when omitted.
        name: Option<String>,
    },
}

/// mimalloc instead of glibc malloc: under load, allocation and free were 18% of the server's
/// CPU with glibc (many threads, short-lived buffers); see docs/PERFORMANCE.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.flags(), Environment::from_process()?)?;
    // Dropped last, after the runtime: the log lines of the stop are written.
    let _log = install_tracing(
        config.log_format,
        matches!(cli.command, Command::Serve { .. }),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(cli.command, config))
}

/// How many log lines may wait for the log thread before a request that logs waits for it.
const LOG_BUFFER_LINES: usize = 65_536;

/// Logs to stderr. `serve` writes from a thread of its own through a buffer of
/// [`LOG_BUFFER_LINES`] lines, so a slow log sink (a full pipe, a disk whose writeback throttles
/// writers for up to 200 ms) does not stall the runtime's worker threads and every request on
/// them; no line is dropped (a request waits only when the buffer is full). The returned guard
/// writes what is buffered when dropped, at the end of `main`. The other commands write
/// directly (a few lines each, and some end with `process::exit`).
fn install_tracing(format: LogFormat, serving: bool) -> Option<WorkerGuard> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let (writer, guard) = if serving {
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .buffered_lines_limit(LOG_BUFFER_LINES)
            .thread_name("caseledger-log")
            .finish(std::io::stderr());
        (BoxMakeWriter::new(writer), Some(guard))
    } else {
        (BoxMakeWriter::new(std::io::stderr), None)
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    guard
}

async fn run(command: Command, config: Config) -> Result<()> {
    let database_url = &config.database_url;
    match command {
        Command::Serve { .. } => serve(&config).await,
        Command::Migrate => {
            files::prepare_data_dir(&config.data_dir)?;
            let db = open(database_url).await?;
            files::protect_database(database_url)?;
            db.migrate().await.context("applying migrations")?;
            // Set-up prepares the data directory like a first `serve`, so tokens can be minted
            // before the server starts.
            load_keys(&config)?;
            println!("schema is up to date ({database_url})");
            Ok(())
        }
        Command::Token {
            sub,
            roles,
            org,
            ttl,
        } => {
            let keys = existing_keys(&config)?;
            let ttl = parse_ttl(&ttl)?;
            let max = config.identity.token_max_ttl;
            if ttl > max {
                bail!(
                    "--ttl {ttl}s exceeds the maximum token lifetime of {max}s \
                     (CASELEDGER_TOKEN_MAX_TTL, default 12h): the server would refuse the token"
                );
            }
            if !config.identity.local_tokens {
                eprintln!(
                    "warning: CASELEDGER_OIDC_ISSUER is set and CASELEDGER_LOCAL_TOKENS is not \
                     allow: the server refuses tokens minted here"
                );
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .context("reading the clock")?
                .as_secs();
            let token = keys
                .mint(&sub, &roles, org.as_deref(), now, ttl)
                .context("minting the token")?;
            println!("{token}");
            Ok(())
        }
        Command::Projections { command } => projections(database_url, command).await,
        Command::Audit { command } => audit(database_url, command).await,
        Command::Snapshots {
            command: SnapshotsCommand::Clear,
        } => {
            let db = open(database_url).await?;
            let deleted = db.clear_snapshots().await.context("clearing snapshots")?;
            println!("deleted {deleted} snapshots; the next commands replay their streams");
            Ok(())
        }
        Command::Consultations { command } => consultations(database_url, command).await,
        Command::Rewards {
            command: RewardsCommand::Audit { program, format },
        } => rewards_audit(database_url, &program, format).await,
    }
}

async fn open(url: &DatabaseUrl) -> Result<Database> {
    Database::connect(url.expose())
        .await
        .with_context(|| format!("opening the event store at {url}"))
}

async fn serve(config: &Config) -> Result<()> {
    files::prepare_data_dir(&config.data_dir)?;
    let db = open(&config.database_url).await?;
    files::protect_database(&config.database_url)?;
    db.migrate().await.context("applying migrations")?;
    let keys = serving_keys(config)?;
    let reference = load_reference(&config.data_dir)?;
    let identity = identity(&config.identity).await?;
    let state = AppState::new(db, keys, reference).with_identity(identity);
    let listen = config.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let admin = match config.identity.admin_listen {
        Some(admin_listen) => {
            let admin = tokio::net::TcpListener::bind(admin_listen)
                .await
                .with_context(|| {
                    format!("listening on {admin_listen} (CASELEDGER_ADMIN_LISTEN)")
                })?;
            let admin_address = admin.local_addr().context("reading the bound address")?;
            info!(%admin_address, "operations endpoints (/metrics, /readyz) on the admin listener");
            eprintln!(
                "caseledger serves /metrics and the detailed /readyz on http://{admin_address}"
            );
            Some(admin)
        }
        None => None,
    };
    let shutdown = shutdown_signal()?;
    info!(%address, database = %config.database_url, "caseledger serving");
    eprintln!(
        "caseledger is serving on http://{address} (API reference: http://{address}/docs)\n\
         Mint a token with, for example:\n  caseledger token --sub alice --role dispatcher\n\
         and send it as: Authorization: Bearer <token>"
    );
    caseledger_api::serve_with(listener, admin, state, config.http.clone(), shutdown)
        .await
        .context("serving HTTP")?;
    info!("caseledger stopped");
    Ok(())
}

/// How the server signs people in: local tokens (unless refused), and the OIDC issuer when
/// configured, whose keys are fetched once now (a failure is logged, and fetched again on the
/// first token).
async fn identity(config: &config::IdentityConfig) -> Result<caseledger_api::auth::Identity> {
    use caseledger_api::auth::{Identity, LocalTokens};
    let oidc = match &config.oidc {
        None => None,
        Some(oidc) => {
            let mut settings =
                caseledger_api::oidc::OidcSettings::new(oidc.issuer.clone(), oidc.audience.clone());
            settings.roles_claim = oidc.roles_claim.clone();
            settings.org_claim = oidc.org_claim.clone();
            let verifier = caseledger_api::oidc::OidcVerifier::new(settings)
                .map_err(anyhow::Error::msg)
                .context("configuring OIDC")?;
            verifier.refresh().await;
            info!(issuer = %oidc.issuer, audience = %oidc.audience, local_tokens = config.local_tokens, "signing in through OIDC");
            Some(std::sync::Arc::new(verifier))
        }
    };
    Ok(Identity {
        local: if config.local_tokens {
            LocalTokens::Allow
        } else {
            LocalTokens::Refuse
        },
        oidc,
    })
}

/// A future that completes on SIGINT or SIGTERM. The handlers are installed here, before the
/// server says it is serving: a signal sent right after that line then starts the graceful
/// stop instead of killing the process with the default action.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        info!("shutting down");
    })
}

/// The JWT keys: from the configured secret (`CASELEDGER_JWT_SECRET` or `jwt_secret` in
/// caseledger.toml), or from `<data_dir>/jwt-secret`, generated once (32 random bytes, hex, mode
/// 0600) so tokens survive a restart.
fn load_keys(config: &Config) -> Result<JwtKeys> {
    let max_ttl = config.identity.token_max_ttl;
    if let Some(secret) = &config.jwt_secret {
        if secret.expose_secret().len() < MIN_SECRET_BYTES {
            bail!(
                "CASELEDGER_JWT_SECRET (or jwt_secret in {}) must be at least {MIN_SECRET_BYTES} \
                 bytes; generate one with: openssl rand -hex 32",
                config.data_dir.join(config::CONFIG_FILE).display()
            );
        }
        return Ok(JwtKeys::from_secret(secret.expose_secret().as_bytes()).with_max_ttl(max_ttl));
    }
    let secret = load_or_create_secret(&config.data_dir.join("jwt-secret"), "token secret")?;
    Ok(JwtKeys::from_secret(secret.expose_secret().as_bytes()).with_max_ttl(max_ttl))
}

/// The keys `serve` uses: the token keys, and the appraisal rater-key secret from
/// `<data_dir>/rater-key-secret` (generated once like the token secret). The rater keys of an
/// open campaign must not change when the token secret is rotated (after a leak, say): a
/// rater would get a new key and could cast a second ballot. So they have a secret of their own.
fn serving_keys(config: &Config) -> Result<JwtKeys> {
    let rater_secret = load_or_create_secret(
        &config.data_dir.join("rater-key-secret"),
        "rater-key secret",
    )?;
    Ok(load_keys(config)?.with_rater_key_secret(rater_secret.expose_secret().as_bytes()))
}

/// The secret in `path`, created first when missing (32 random bytes, hex, mode 0600; when
/// another process creates it at the same moment, theirs is used).
fn load_or_create_secret(path: &Path, what: &str) -> Result<SecretString> {
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut bytes = [0u8; 32];
        getrandom(&mut bytes)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(hex_encode(&bytes).as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("generated a new {what} in {}", path.display());
            }
            // Another process created it first; use theirs.
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(error).with_context(|| format!("creating {}", path.display()))
            }
        }
    }
    let secret = SecretString::from(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let trimmed = secret.expose_secret().trim();
    if trimmed.len() < MIN_SECRET_BYTES {
        bail!(
            "{} holds a secret shorter than {MIN_SECRET_BYTES} bytes; replace it with a longer \
             one (e.g. openssl rand -hex 32) or delete it to have a new one generated",
            path.display()
        );
    }
    Ok(SecretString::from(trimmed))
}

/// The JWT keys `serve` uses, for `token`: never generates a secret, since one that `serve` does
/// not read (another data directory) would only mint tokens that get 401.
fn existing_keys(config: &Config) -> Result<JwtKeys> {
    let path = config.data_dir.join("jwt-secret");
    if config.jwt_secret.is_none() && !path.exists() {
        bail!(
            "no token secret at {}: `caseledger token` signs with the secret of the data \
             directory `serve` uses and never makes one up. Pass the same --data-dir (or \
             CASELEDGER_DATA_DIR) as `serve`, run `caseledger serve` or `caseledger migrate` \
             once with this data directory to create it, or set CASELEDGER_JWT_SECRET",
            path.display()
        );
    }
    load_keys(config)
}

fn getrandom(bytes: &mut [u8]) -> Result<()> {
    let mut file = std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?;
    std::io::Read::read_exact(&mut file, bytes).context("reading /dev/urandom")
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The departments, SLA policy and working-day calendar: `<data_dir>/departments.toml`,
/// `<data_dir>/sla-policy.toml` and `<data_dir>/calendar/<year>.toml`, written from the shipped
/// defaults on first start so an operator can edit them. The calendar directory is filled only
/// when it does not exist, so an operator may delete a year or add the next one.
fn load_reference(data_dir: &Path) -> Result<ReferenceData> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let read = |name: &str, default: &str| -> Result<String> {
        let path = data_dir.join(name);
        if !path.exists() {
            std::fs::write(&path, default)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "wrote the default {} (edit it and restart to change it)",
                path.display()
            );
        }
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    };
    let departments = read(
        "departments.toml",
        caseledger_app::reference::DEFAULT_DEPARTMENTS,
    )?;
    let sla_policy = read(
        "sla-policy.toml",
        caseledger_app::reference::DEFAULT_SLA_POLICY,
    )?;
    let calendar_files = read_calendar_dir(&data_dir.join("calendar"))?;
    let calendar_files: Vec<(&str, &str)> = calendar_files
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    let reference = ReferenceData::parse(&departments, &sla_policy, &calendar_files)
        .context("loading reference data")?;
    // The calendar falls back to Monday to Friday for years without a file: say so.
    let this_year = chrono::Datelike::year(&chrono::Utc::now());
    for year in [this_year, this_year + 1] {
        if !reference.calendar().covers(year) {
            eprintln!("warning: no calendar file for {year}: working days count Monday to Friday without holidays");
        } else if reference.calendar().is_provisional(year) {
            eprintln!("warning: the calendar file for {year} is provisional: replace it once the official holiday notice is out");
        }
    }
    Ok(reference)
}

/// Every `*.toml` file of the calendar directory as (file name, contents), sorted by name; the
/// shipped years are written first when the directory does not exist.
fn read_calendar_dir(dir: &Path) -> Result<Vec<(String, String)>> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, text) in caseledger_app::reference::DEFAULT_CALENDAR_YEARS {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        eprintln!(
            "wrote the default calendar years to {} (add a <year>.toml per year)",
            dir.display()
        );
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path.extension().and_then(|ext| ext.to_str()) != Some("toml") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .with_context(|| format!("{} has a name that is not UTF-8", path.display()))?
            .to_owned();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        files.push((name, text));
    }
    files.sort();
    Ok(files)
}

/// Parses `30m`, `8h`, `7d` or plain seconds.
fn parse_ttl(text: &str) -> Result<u64> {
    config::parse_duration(text).context("--ttl")
}

async fn projections(database_url: &DatabaseUrl, command: ProjectionsCommand) -> Result<()> {
    let db = open(database_url).await?;
    db.migrate().await.context("applying migrations")?;
    let projector = Projector::new(db, caseledger_app::projections());
    projector
        .ensure_checkpoints()
        .await
        .context("preparing checkpoints")?;
    let select = |name: Option<String>| -> Result<Vec<String>> {
        let names: Vec<String> = projector.names().into_iter().map(str::to_owned).collect();
        match name {
            None => Ok(names),
            Some(name) if names.contains(&name) => Ok(vec![name]),
            Some(name) => bail!("unknown projection {name:?}; known: {}", names.join(", ")),
        }
    };
    match command {
        ProjectionsCommand::Status => {
            println!(
                "{:<16} {:>12} {:>10} {:>10}  error",
                "projection", "position", "applied", "backlog"
            );
            for status in projector
                .status()
                .await
                .context("reading projection status")?
            {
                println!(
                    "{:<16} {:>12} {:>10} {:>10}  {}",
                    status.name,
                    status.checkpoint.position,
                    status.events_applied,
                    status.backlog,
                    status.last_error.unwrap_or_else(|| "-".into())
                );
            }
        }
        ProjectionsCommand::Rebuild { name } => {
            // Without a name, every projection but the append-only evidence (the audit chain,
            // which `audit verify` checks instead), in one pass over the log; named, the
            // projector says why it refuses.
            let names = match name {
                None => {
                    let rebuildable = projector.rebuildable_names();
                    for name in projector.names() {
                        if !rebuildable.contains(&name) {
                            println!("{name}: append-only evidence, not rebuilt (check it with `caseledger audit verify`)");
                        }
                    }
                    rebuildable.into_iter().map(str::to_owned).collect()
                }
                Some(name) => select(Some(name))?,
            };
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:12} [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})",
                )
                .context("progress bar template")?
                .progress_chars("=> "),
            );
            bar.set_message(if names.len() == 1 {
                names[0].clone()
            } else {
                format!("{} views", names.len())
            });
            bar.enable_steady_tick(Duration::from_millis(200));
            let started = std::time::Instant::now();
            let borrowed: Vec<&str> = names.iter().map(String::as_str).collect();
            let checksums = projector
                .rebuild_many(&borrowed, &mut |applied, total| {
                    bar.set_length(total);
                    bar.set_position(applied);
                })
                .await
                .with_context(|| format!("rebuilding {}", names.join(", ")))?;
            bar.finish_and_clear();
            let elapsed = started.elapsed();
            for (name, checksum) in checksums {
                println!("{name}: rebuilt in {elapsed:.1?}, checksum {checksum}");
            }
            if names.len() > 1 {
                println!(
                    "{} projections rebuilt in one pass over the log in {elapsed:.1?}",
                    names.len()
                );
            }
        }
        ProjectionsCommand::CatchUp => {
            let started = std::time::Instant::now();
            let applied = projector.catch_up().await.context("catching up")?;
            println!("applied {applied} events in {:.1?}", started.elapsed());
        }
        ProjectionsCommand::Checksum { name } => {
            for name in select(name)? {
                let checksum = projector
                    .checksum(&name)
                    .await
                    .with_context(|| format!("checksum of {name}"))?;
                println!("{name}: {checksum}");
            }
        }
    }
    Ok(())
}

/// Normalises an RFC 3339 time to the stored form (UTC, milliseconds).
fn stored_time(text: &str) -> Result<String> {
    let at = chrono::DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("{text:?} is not an RFC 3339 time"))?;
    Ok(at.to_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

async fn audit(database_url: &DatabaseUrl, command: AuditCommand) -> Result<()> {
    let db = open(database_url).await?;
    db.migrate().await.context("applying migrations")?;
    match command {
        AuditCommand::Verify { pins } => {
            let pins = pins
                .iter()
                .map(|pin| {
                    let (seq, hash) = pin
                        .split_once(':')
                        .with_context(|| format!("--pin {pin:?}: expected SEQ:HASH"))?;
                    let seq: i64 = seq
                        .parse()
                        .with_context(|| format!("--pin {pin:?}: SEQ is not a number"))?;
                    Ok((seq, hash.to_owned()))
                })
                .collect::<Result<Vec<_>>>()?;
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("verifying [{bar:40}] {pos}/{len} events ({per_sec})")
                    .context("progress bar template")?
                    .progress_chars("=> "),
            );
            let started = std::time::Instant::now();
            let report = db
                .verify_audit_trail(&pins, &mut |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .await
                .context("verifying the audit trail")?;
            bar.finish_and_clear();
            match report.finding {
                None => {
                    println!(
                        "audit trail intact: {} events in {} streams, {} in the global chain, {} digests ({:.1?})",
                        report.events,
                        report.streams,
                        report.chained_events,
                        report.digests,
                        started.elapsed()
                    );
                    Ok(())
                }
                Some(finding) => {
                    println!("AUDIT TRAIL BROKEN: {finding}");
                    std::process::exit(1);
                }
            }
        }
        AuditCommand::Export {
            since,
            until,
            aggregate_type,
            format,
            output,
        } => {
            let filter = caseledger_store::audit::export::ExportFilter {
                since: since.as_deref().map(stored_time).transpose()?,
                until: until.as_deref().map(stored_time).transpose()?,
                aggregate_type,
            };
            let format = match format {
                ExportFormatArg::Ndjson => caseledger_store::audit::export::ExportFormat::Ndjson,
                ExportFormatArg::Csv => caseledger_store::audit::export::ExportFormat::Csv,
            };
            let exported_at =
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let mut out: Box<dyn Write + Send> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            let written = db
                .export_audit_trail(&filter, format, &exported_at, out.as_mut())
                .await
                .context("exporting the audit trail")?;
            if let Some(path) = output {
                eprintln!("exported {written} events to {}", path.display());
            }
            Ok(())
        }
    }
}

async fn consultations(database_url: &DatabaseUrl, command: ConsultationsCommand) -> Result<()> {
    let db = open(database_url).await?;
    db.migrate().await.context("applying migrations")?;
    match command {
        ConsultationsCommand::VerifyDraw { id } => {
            let Some(verification) = db
                .verify_draw(&id)
                .await
                .with_context(|| format!("verifying the draw of {id}"))?
            else {
                bail!("no consultation request {id}");
            };
            for check in &verification.checks {
                println!(
                    "{} {}: {}",
                    if check.ok { "ok  " } else { "FAIL" },
                    check.name,
                    check.detail
                );
            }
            match &verification.finding {
                None => {
                    println!(
                        "draw verified: pool hash {}, proof {}",
                        verification.pool_hash.as_deref().unwrap_or_default(),
                        verification.proof.as_deref().unwrap_or_default()
                    );
                    Ok(())
                }
                Some(finding) => {
                    println!("DRAW NOT VERIFIED: {finding}");
                    std::process::exit(1);
                }
            }
        }
    }
}

async fn rewards_audit(
    database_url: &DatabaseUrl,
    program: &str,
    format: AuditFormat,
) -> Result<()> {
    let db = open(database_url).await?;
    db.migrate().await.context("applying migrations")?;
    let Some(audit) = db
        .reward_audit(program)
        .await
        .with_context(|| format!("auditing reward program {program}"))?
    else {
        bail!("no reward program {program}");
    };
    match format {
        AuditFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&audit).context("writing the audit")?
        ),
        AuditFormat::Csv => print!("{}", caseledger_domain::reward::audit::to_csv(&audit)),
    }
    if audit.flag_count > 0 {
        eprintln!("{} anomalies flagged", audit.flag_count);
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_accepts_units_and_refuses_nonsense() {
        assert_eq!(parse_ttl("30m").unwrap(), 1800);
        assert_eq!(parse_ttl("8h").unwrap(), 28_800);
        assert_eq!(parse_ttl("90").unwrap(), 90);
        assert!(parse_ttl("8x").is_err());
        assert!(parse_ttl("0").is_err());
    }
}
