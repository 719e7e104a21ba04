//! The binary's configuration, in layers (`figment`), each overriding the one before:
//!
//! 1. built-in defaults (`./data`, `127.0.0.1:8080`, text logs);
//! 2. `<data dir>/caseledger.toml`, when it exists (optional; never written by the binary);
//! 3. the `CASELEDGER_*` environment variables;
//! 4. the command-line flags.
//!
//! The data directory itself comes from layers 1, 3 and 4 only: the file lives in it. Secrets (the
//! token secret, and the database URL, which may carry a password) are `secrecy` types: their
//! `Debug` output never shows them, so neither does a log line or an error that prints the
//! configuration.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The optional configuration file, inside the data directory.
pub const CONFIG_FILE: &str = "caseledger.toml";

/// The SQLite file inside the data directory, used when no database URL is given.
pub const DEFAULT_DATABASE_FILE: &str = "caseledger.db";

/// Each configuration key and the environment variable that sets it.
const ENVIRONMENT: [(&str, &str); 12] = [
    ("data_dir", "CASELEDGER_DATA_DIR"),
    ("database_url", "CASELEDGER_DATABASE_URL"),
    ("listen", "CASELEDGER_LISTEN"),
    ("jwt_secret", "CASELEDGER_JWT_SECRET"),
    ("log_format", "CASELEDGER_LOG_FORMAT"),
    // Identity and access (docs/DECISIONS.md, "Identity and access").
    ("token_max_ttl", "CASELEDGER_TOKEN_MAX_TTL"),
    ("local_tokens", "CASELEDGER_LOCAL_TOKENS"),
    ("oidc_issuer", "CASELEDGER_OIDC_ISSUER"),
    ("oidc_audience", "CASELEDGER_OIDC_AUDIENCE"),
    ("oidc_roles_claim", "CASELEDGER_OIDC_ROLES_CLAIM"),
    ("oidc_org_claim", "CASELEDGER_OIDC_ORG_CLAIM"),
    ("admin_listen", "CASELEDGER_ADMIN_LISTEN"),
];

/// The keys of the `[http]` table (the protection of the edge, `caseledger_api::Protection`)
/// and the environment variables that set them.
const HTTP_ENVIRONMENT: [(&str, &str); 8] = [
    ("cors_origins", "CASELEDGER_CORS_ORIGINS"),
    ("trusted_proxies", "CASELEDGER_TRUSTED_PROXIES"),
    ("rate_public", "CASELEDGER_RATE_PUBLIC"),
    ("rate_objections", "CASELEDGER_RATE_OBJECTIONS"),
    ("rate_auth_failures", "CASELEDGER_RATE_AUTH_FAILURES"),
    ("header_timeout", "CASELEDGER_HEADER_TIMEOUT"),
    ("request_timeout", "CASELEDGER_REQUEST_TIMEOUT"),
    ("max_connections", "CASELEDGER_MAX_CONNECTIONS"),
];

/// The table of caseledger.toml that holds [`HTTP_ENVIRONMENT`]'s keys.
const HTTP_TABLE: &str = "http";

/// The log format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The settings one layer gives, each optional: the defaults and the command-line flags. (No
/// `Debug`: it holds the database URL as typed.)
#[derive(Default, Serialize)]
pub struct Given {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

impl Given {
    fn defaults() -> Self {
        Given {
            data_dir: Some(PathBuf::from("./data")),
            database_url: None,
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            log_format: Some(LogFormat::Text),
        }
    }
}

/// The `CASELEDGER_*` variables, taken verbatim. (figment's own `Env` provider parses values:
/// `123` would become a number, `"x"` lose its quotes, `[a]` become an array; a secret or a URL
/// must arrive exactly as typed.) An empty variable counts as given, as it did with clap.
pub struct Environment {
    values: Vec<(&'static str, String)>,
    /// The `[http]` keys given.
    http: Vec<(&'static str, String)>,
}

impl Environment {
    /// The variables of this process.
    pub fn from_process() -> Result<Self> {
        let mut values = Vec::new();
        for (key, variable) in ENVIRONMENT {
            match std::env::var(variable) {
                Ok(value) => values.push((key, value)),
                Err(std::env::VarError::NotPresent) => {}
                Err(std::env::VarError::NotUnicode(_)) => bail!("{variable} is not valid UTF-8"),
            }
        }
        let mut http = Vec::new();
        for (key, variable) in HTTP_ENVIRONMENT {
            match std::env::var(variable) {
                Ok(value) => http.push((key, value)),
                Err(std::env::VarError::NotPresent) => {}
                Err(std::env::VarError::NotUnicode(_)) => bail!("{variable} is not valid UTF-8"),
            }
        }
        Ok(Self { values, http })
    }

    /// The given variables (by name; unknown names are ignored), for tests.
    #[cfg(test)]
    pub fn from_variables(variables: &[(&str, &str)]) -> Self {
        let values = ENVIRONMENT
            .iter()
            .filter_map(|(key, variable)| {
                let (_, value) = variables.iter().find(|(name, _)| name == variable)?;
                Some((*key, (*value).to_owned()))
            })
            .collect();
        let http = HTTP_ENVIRONMENT
            .iter()
            .filter_map(|(key, variable)| {
                let (_, value) = variables.iter().find(|(name, _)| name == variable)?;
                Some((*key, (*value).to_owned()))
            })
            .collect();
        Self { values, http }
    }
}

impl Provider for Environment {
    fn metadata(&self) -> Metadata {
        // Errors name the variable, e.g. "for key `listen` in CASELEDGER_LISTEN".
        Metadata::named("the environment").interpolater(|_, keys| {
            let http = HTTP_ENVIRONMENT
                .iter()
                .find(|(key, _)| keys == [HTTP_TABLE, *key]);
            ENVIRONMENT
                .iter()
                .find(|(key, _)| keys == [*key])
                .or(http)
                .map_or_else(|| keys.join("."), |(_, variable)| (*variable).to_owned())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict: Dict = self
            .values
            .iter()
            .map(|(key, value)| ((*key).to_owned(), Value::from(value.clone())))
            .collect();
        if !self.http.is_empty() {
            let http: Dict = self
                .http
                .iter()
                .map(|(key, value)| ((*key).to_owned(), Value::from(value.clone())))
                .collect();
            dict.insert(HTTP_TABLE.to_owned(), Value::from(http));
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// A database URL. It may carry a password, so it is held as a secret, and `Debug` and
/// `Display` show it with the password masked.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    /// The URL itself, to connect with. Never log it: log `self` (masked).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(self.expose()))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Hides a password in a database URL before it is printed or logged.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The configuration in effect.
#[derive(Debug)]
pub struct Config {
    /// Where the database (unless `database_url` names another), the secrets and the reference
    /// data files live.
    pub data_dir: PathBuf,
    /// The database given, or SQLite in the data directory.
    pub database_url: DatabaseUrl,
    /// Where `serve` listens.
    pub listen: SocketAddr,
    /// The log format.
    pub log_format: LogFormat,
    /// The token secret, when configured; otherwise `<data dir>/jwt-secret` is used.
    pub jwt_secret: Option<SecretString>,
    /// The protection of the edge (`[http]`: CORS, trusted proxies, rate limits, timeouts,
    /// the connection cap).
    pub http: caseledger_api::Protection,
    /// How people sign in, and where the operations endpoints are served.
    pub identity: IdentityConfig,
}

/// The identity and access settings (docs/DECISIONS.md, "Identity and access").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityConfig {
    /// The longest lifetime (`exp − iat`) of a local token, in seconds (default 12 hours).
    pub token_max_ttl: u64,
    /// Whether local tokens are accepted: by default yes without OIDC, no with it.
    pub local_tokens: bool,
    /// The OIDC issuer, when configured.
    pub oidc: Option<OidcConfig>,
    /// Where `/metrics` and the detailed `/readyz` are served without a token, if anywhere.
    pub admin_listen: Option<SocketAddr>,
}

/// The OIDC issuer's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// `CASELEDGER_OIDC_ISSUER`, exactly as tokens carry it in `iss`.
    pub issuer: String,
    /// `CASELEDGER_OIDC_AUDIENCE`, the `aud` tokens must carry.
    pub audience: String,
    /// `CASELEDGER_OIDC_ROLES_CLAIM` (default `roles`).
    pub roles_claim: String,
    /// `CASELEDGER_OIDC_ORG_CLAIM` (default `org`).
    pub org_claim: String,
}

/// A lifetime as configured: seconds (`43200`, also as a TOML integer) or with a unit
/// (`30m`, `12h`, `7d`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Lifetime {
    Seconds(u64),
    Text(String),
}

/// Parses `90`, `90s`, `30m`, `8h` or `7d` into seconds (1 second to 366 days).
pub fn parse_duration(text: &str) -> Result<u64> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let number: u64 = number
        .parse()
        .with_context(|| format!("{text:?}: expected seconds or e.g. 30m, 8h or 7d"))?;
    let seconds = match unit {
        "" | "s" => Some(number),
        "m" => number.checked_mul(60),
        "h" => number.checked_mul(3600),
        "d" => number.checked_mul(86_400),
        _ => bail!("{text:?}: the unit must be s, m, h or d"),
    };
    match seconds {
        Some(seconds) if (1..=366 * 86_400).contains(&seconds) => Ok(seconds),
        _ => bail!("{text:?}: must be between 1 second and 366 days"),
    }
}

/// The default maximum lifetime of a local token: 12 hours.
pub const DEFAULT_TOKEN_MAX_TTL: u64 = 12 * 3600;

impl IdentityConfig {
    fn from_layers(layered: &Layered) -> Result<Self> {
        let token_max_ttl = match &layered.token_max_ttl {
            None => DEFAULT_TOKEN_MAX_TTL,
            Some(Lifetime::Seconds(seconds)) => parse_duration(&seconds.to_string())
                .context("CASELEDGER_TOKEN_MAX_TTL (token_max_ttl)")?,
            Some(Lifetime::Text(text)) => {
                parse_duration(text).context("CASELEDGER_TOKEN_MAX_TTL (token_max_ttl)")?
            }
        };
        let given = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let oidc = match (given(&layered.oidc_issuer), given(&layered.oidc_audience)) {
            (None, None) => None,
            (Some(_), None) => bail!(
                "CASELEDGER_OIDC_ISSUER is set without CASELEDGER_OIDC_AUDIENCE: tokens must name \
                 this server (the client id registered for caseledger) in aud"
            ),
            (None, Some(_)) => {
                bail!("CASELEDGER_OIDC_AUDIENCE is set without CASELEDGER_OIDC_ISSUER")
            }
            (Some(issuer), Some(audience)) => {
                if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                    bail!("CASELEDGER_OIDC_ISSUER must be an http(s) URL, e.g. https://sso.example/realms/district");
                }
                Some(OidcConfig {
                    issuer,
                    audience,
                    roles_claim: given(&layered.oidc_roles_claim).unwrap_or_else(|| "roles".into()),
                    org_claim: given(&layered.oidc_org_claim).unwrap_or_else(|| "org".into()),
                })
            }
        };
        let local_tokens = match given(&layered.local_tokens).as_deref() {
            None => oidc.is_none(),
            Some("allow") => true,
            Some("deny") if oidc.is_none() => bail!(
                "CASELEDGER_LOCAL_TOKENS=deny without CASELEDGER_OIDC_ISSUER leaves no way to \
                 sign in"
            ),
            Some("deny") => false,
            Some(other) => bail!("CASELEDGER_LOCAL_TOKENS must be allow or deny, not {other:?}"),
        };
        Ok(Self {
            token_max_ttl,
            local_tokens,
            oidc,
            admin_listen: layered.admin_listen,
        })
    }
}

/// What the layers merge into, before the database URL is resolved.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Layered {
    data_dir: PathBuf,
    database_url: Option<SecretString>,
    listen: SocketAddr,
    log_format: LogFormat,
    jwt_secret: Option<SecretString>,
    #[serde(default)]
    http: caseledger_api::Protection,
    // Identity and access.
    token_max_ttl: Option<Lifetime>,
    local_tokens: Option<String>,
    oidc_issuer: Option<String>,
    oidc_audience: Option<String>,
    oidc_roles_claim: Option<String>,
    oidc_org_claim: Option<String>,
    admin_listen: Option<SocketAddr>,
}

impl Config {
    /// Merges the layers: defaults < `<data dir>/caseledger.toml` < `environment` < `flags`.
    pub fn load(flags: Given, environment: Environment) -> Result<Self> {
        let defaults = Given::defaults();
        // The data directory first, without the file: the file is found through it.
        let data_dir: PathBuf = Figment::from(Serialized::defaults(&defaults))
            .merge(&environment)
            .merge(Serialized::defaults(&flags))
            .extract_inner("data_dir")
            .context("reading the configuration")?;
        if data_dir.as_os_str().is_empty() {
            bail!("the data directory (--data-dir or CASELEDGER_DATA_DIR) must not be empty");
        }
        // Absolute, so that figment neither searches parent directories for the file (it would
        // for a relative path) nor requires it (`file_exact` would).
        let file = std::path::absolute(data_dir.join(CONFIG_FILE))
            .context("resolving the data directory")?;
        if Figment::from(Toml::file(&file)).contains("data_dir") {
            bail!(
                "{} sets data_dir: the file lives in the data directory, so it cannot move it; \
                 use --data-dir or CASELEDGER_DATA_DIR",
                file.display()
            );
        }
        let layered: Layered = Figment::from(Serialized::defaults(&defaults))
            .merge(Toml::file(&file))
            .merge(&environment)
            .merge(Serialized::defaults(&flags))
            .extract()
            .context("reading the configuration")?;
        let identity = IdentityConfig::from_layers(&layered)?;
        let database_url = match layered.database_url {
            Some(url) if !url.expose_secret().trim().is_empty() => DatabaseUrl(url),
            _ => DatabaseUrl(SecretString::from(format!(
                "sqlite://{}",
                layered.data_dir.join(DEFAULT_DATABASE_FILE).display()
            ))),
        };
        Ok(Config {
            identity,
            data_dir: layered.data_dir,
            database_url,
            listen: layered.listen,
            log_format: layered.log_format,
            jwt_secret: layered.jwt_secret,
            http: layered.http,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn write_config(dir: &Path, text: &str) {
        std::fs::write(dir.join(CONFIG_FILE), text).unwrap();
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("sqlite://./data/x.db"), "sqlite://./data/x.db");
    }

    #[test]
    fn defaults_alone_keep_everything_in_the_data_directory() {
        let config = Config::load(Given::default(), Environment::from_variables(&[])).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(
            config.database_url.expose(),
            "sqlite://./data/caseledger.db"
        );
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(config.jwt_secret.is_none());
    }

    /// Each layer overrides the one before, key by key: defaults < file < environment < flags.
    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap();
        write_config(
            dir.path(),
            "listen = \"127.0.0.1:7001\"\n\
             log_format = \"json\"\n\
             database_url = \"sqlite:///from-file.db\"\n\
             jwt_secret = \"file-secret-0123456789\"\n",
        );

        // The file over the defaults.
        let environment = || Environment::from_variables(&[("CASELEDGER_DATA_DIR", data_dir)]);
        let config = Config::load(Given::default(), environment()).unwrap();
        assert_eq!(config.listen, "127.0.0.1:7001".parse().unwrap());
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.database_url.expose(), "sqlite:///from-file.db");
        assert_eq!(
            config.jwt_secret.as_ref().unwrap().expose_secret(),
            "file-secret-0123456789"
        );

        // The environment over the file, for the keys it sets.
        let environment = || {
            Environment::from_variables(&[
                ("CASELEDGER_DATA_DIR", data_dir),
                ("CASELEDGER_LISTEN", "127.0.0.1:7002"),
                ("CASELEDGER_DATABASE_URL", "sqlite:///from-env.db"),
                ("CASELEDGER_JWT_SECRET", "env-secret-0123456789"),
            ])
        };
        let config = Config::load(Given::default(), environment()).unwrap();
        assert_eq!(config.listen, "127.0.0.1:7002".parse().unwrap());
        assert_eq!(config.database_url.expose(), "sqlite:///from-env.db");
        assert_eq!(
            config.jwt_secret.as_ref().unwrap().expose_secret(),
            "env-secret-0123456789"
        );
        assert_eq!(config.log_format, LogFormat::Json, "still the file's");

        // The flags over the environment.
        let flags = Given {
            database_url: Some("sqlite:///from-flag.db".into()),
            listen: Some("127.0.0.1:7003".parse().unwrap()),
            log_format: Some(LogFormat::Text),
            ..Given::default()
        };
        let config = Config::load(flags, environment()).unwrap();
        assert_eq!(config.listen, "127.0.0.1:7003".parse().unwrap());
        assert_eq!(config.database_url.expose(), "sqlite:///from-flag.db");
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(
            config.jwt_secret.as_ref().unwrap().expose_secret(),
            "env-secret-0123456789",
            "no flag for the secret: it would show in the process list"
        );
    }

    /// The data directory: flag over environment over default; the file in the directory that
    /// wins is the one read, and the database defaults to that directory.
    #[test]
    fn the_data_directory_picks_the_file_and_the_database() {
        let from_env = tempfile::tempdir().unwrap();
        let from_flag = tempfile::tempdir().unwrap();
        write_config(from_env.path(), "listen = \"127.0.0.1:7101\"\n");
        write_config(from_flag.path(), "listen = \"127.0.0.1:7102\"\n");
        let environment = Environment::from_variables(&[(
            "CASELEDGER_DATA_DIR",
            from_env.path().to_str().unwrap(),
        )]);
        let flags = Given {
            data_dir: Some(from_flag.path().to_owned()),
            ..Given::default()
        };
        let config = Config::load(flags, environment).unwrap();
        assert_eq!(config.data_dir, from_flag.path());
        assert_eq!(config.listen, "127.0.0.1:7102".parse().unwrap());
        assert_eq!(
            config.database_url.expose(),
            format!("sqlite://{}/caseledger.db", from_flag.path().display())
        );
        // An empty database URL means the default, as before.
        let config = Config::load(
            Given::default(),
            Environment::from_variables(&[("CASELEDGER_DATABASE_URL", "")]),
        )
        .unwrap();
        assert_eq!(
            config.database_url.expose(),
            "sqlite://./data/caseledger.db"
        );
    }

    /// Values from the environment arrive verbatim: figment's parser would turn these into a
    /// number, a boolean and an unquoted string.
    #[test]
    fn environment_values_are_taken_as_typed() {
        for secret in ["12345678901234567890", "true", "\"quoted-secret-0123\""] {
            let config = Config::load(
                Given::default(),
                Environment::from_variables(&[("CASELEDGER_JWT_SECRET", secret)]),
            )
            .unwrap();
            assert_eq!(config.jwt_secret.unwrap().expose_secret(), secret);
        }
    }

    /// The `[http]` table of the file, under its `CASELEDGER_*` variables.
    #[test]
    fn http_settings_come_from_the_file_and_the_environment() {
        use caseledger_api::protection::{Limit, MaxConnections, Timeout};
        use std::time::Duration;

        let defaults = Config::load(Given::default(), Environment::from_variables(&[])).unwrap();
        assert_eq!(
            defaults.http.header_timeout,
            Timeout(Duration::from_secs(10))
        );
        assert!(defaults.http.cors_origins.is_empty());

        let dir = tempfile::tempdir().unwrap();
        write_config(
            dir.path(),
            "[http]\n\
             cors_origins = [\"https://portal.example.cn\"]\n\
             rate_public = \"30/min\"\n\
             max_connections = 256\n",
        );
        let data_dir = dir.path().to_str().unwrap();
        let config = Config::load(
            Given::default(),
            Environment::from_variables(&[
                ("CASELEDGER_DATA_DIR", data_dir),
                ("CASELEDGER_RATE_PUBLIC", "off"),
                ("CASELEDGER_TRUSTED_PROXIES", "10.0.0.0/8,192.0.2.1"),
                ("CASELEDGER_HEADER_TIMEOUT", "3s"),
            ]),
        )
        .unwrap();
        assert_eq!(config.http.cors_origins.len(), 1, "from the file");
        assert_eq!(config.http.max_connections, MaxConnections(256));
        assert_eq!(config.http.rate_public, Limit(None), "the environment wins");
        assert_eq!(config.http.trusted_proxies.len(), 2);
        assert_eq!(config.http.header_timeout, Timeout(Duration::from_secs(3)));

        let error = Config::load(
            Given::default(),
            Environment::from_variables(&[("CASELEDGER_REQUEST_TIMEOUT", "soon")]),
        )
        .unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("CASELEDGER_REQUEST_TIMEOUT"), "{message}");
        assert!(message.contains("10s"), "{message}");
        write_config(dir.path(), "[http]\nrate_everything = \"1/s\"\n");
        let error = Config::load(
            Given::default(),
            Environment::from_variables(&[("CASELEDGER_DATA_DIR", data_dir)]),
        )
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("rate_everything"),
            "{error:#}"
        );
    }

    #[test]
    fn identity_settings_have_safe_defaults_and_refuse_half_configurations() {
        let load = |variables: &[(&str, &str)]| {
            Config::load(Given::default(), Environment::from_variables(variables))
        };
        let identity = load(&[]).unwrap().identity;
        assert_eq!(identity.token_max_ttl, 12 * 3600);
        assert!(
            identity.local_tokens,
            "no OIDC: local tokens are the way in"
        );
        assert_eq!(identity.oidc, None);
        assert_eq!(identity.admin_listen, None);

        let oidc = [
            (
                "CASELEDGER_OIDC_ISSUER",
                "https://sso.example/realms/district",
            ),
            ("CASELEDGER_OIDC_AUDIENCE", "caseledger"),
        ];
        let identity = load(&oidc).unwrap().identity;
        assert!(
            !identity.local_tokens,
            "OIDC: local tokens refused by default"
        );
        let settings = identity.oidc.unwrap();
        assert_eq!(settings.roles_claim, "roles");
        assert_eq!(settings.org_claim, "org");
        let mut allowed = oidc.to_vec();
        allowed.extend([
            ("CASELEDGER_LOCAL_TOKENS", "allow"),
            ("CASELEDGER_OIDC_ROLES_CLAIM", "realm_access.roles"),
            ("CASELEDGER_TOKEN_MAX_TTL", "30m"),
            ("CASELEDGER_ADMIN_LISTEN", "127.0.0.1:9090"),
        ]);
        let identity = load(&allowed).unwrap().identity;
        assert!(identity.local_tokens);
        assert_eq!(identity.oidc.unwrap().roles_claim, "realm_access.roles");
        assert_eq!(identity.token_max_ttl, 1800);
        assert_eq!(
            identity.admin_listen,
            Some("127.0.0.1:9090".parse().unwrap())
        );
        assert_eq!(
            load(&[("CASELEDGER_TOKEN_MAX_TTL", "3600")])
                .unwrap()
                .identity
                .token_max_ttl,
            3600
        );

        for (variables, expected) in [
            (vec![oidc[0]], "without CASELEDGER_OIDC_AUDIENCE"),
            (vec![oidc[1]], "without CASELEDGER_OIDC_ISSUER"),
            (
                vec![("CASELEDGER_LOCAL_TOKENS", "deny")],
                "no way to sign in",
            ),
            (vec![("CASELEDGER_LOCAL_TOKENS", "maybe")], "allow or deny"),
            (
                vec![("CASELEDGER_TOKEN_MAX_TTL", "12x")],
                "CASELEDGER_TOKEN_MAX_TTL",
            ),
            (
                vec![("CASELEDGER_TOKEN_MAX_TTL", "0")],
                "CASELEDGER_TOKEN_MAX_TTL",
            ),
            (
                vec![("CASELEDGER_ADMIN_LISTEN", "nowhere")],
                "CASELEDGER_ADMIN_LISTEN",
            ),
        ] {
            let error = load(&variables).unwrap_err();
            assert!(
                format!("{error:#}").contains(expected),
                "{expected}: {error:#}"
            );
        }
    }

    #[test]
    fn mistakes_are_refused_with_their_source() {
        let error = Config::load(
            Given::default(),
            Environment::from_variables(&[("CASELEDGER_LISTEN", "not-an-address")]),
        )
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("CASELEDGER_LISTEN"),
            "{error:#}"
        );

        let dir = tempfile::tempdir().unwrap();
        let environment = || {
            Environment::from_variables(&[("CASELEDGER_DATA_DIR", dir.path().to_str().unwrap())])
        };
        write_config(dir.path(), "listen_address = \"127.0.0.1:1\"\n");
        let error = Config::load(Given::default(), environment()).unwrap_err();
        assert!(format!("{error:#}").contains("listen_address"), "{error:#}");
        write_config(dir.path(), "data_dir = \"/elsewhere\"\n");
        let error = Config::load(Given::default(), environment()).unwrap_err();
        assert!(format!("{error:#}").contains("cannot move it"), "{error:#}");

        let error = Config::load(
            Given::default(),
            Environment::from_variables(&[("CASELEDGER_DATA_DIR", "")]),
        )
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("must not be empty"),
            "{error:#}"
        );
    }

    /// `Debug` of the configuration (what a log line or a panic would print) shows neither the
    /// token secret nor the database password.
    #[test]
    fn debug_output_hides_the_secrets() {
        let config = Config::load(
            Given::default(),
            Environment::from_variables(&[
                ("CASELEDGER_JWT_SECRET", "jwt-secret-do-not-print-42"),
                (
                    "CASELEDGER_DATABASE_URL",
                    "postgres://app:db-password-do-not-print@db.internal:5432/caseledger",
                ),
            ]),
        )
        .unwrap();
        for shown in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(!shown.contains("jwt-secret-do-not-print-42"), "{shown}");
            assert!(!shown.contains("db-password-do-not-print"), "{shown}");
            assert!(
                shown.contains("postgres://app:***@db.internal:5432/caseledger"),
                "{shown}"
            );
            assert!(shown.contains("REDACTED"), "{shown}");
        }
        assert_eq!(
            config.database_url.to_string(),
            "postgres://app:***@db.internal:5432/caseledger"
        );
    }
}
