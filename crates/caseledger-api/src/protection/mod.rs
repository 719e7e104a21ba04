//! Protection at the edge (issue 15 items 4, 5, 6 and 9): what every request passes before a
//! handler sees it, and the settings that tune it.
//!
//! - [`headers`]: `nosniff` on every answer, `Cache-Control: no-store` on private ones, a strict
//!   CSP with `frame-ancestors 'none'` and `Referrer-Policy` on HTML pages; CORS closed unless
//!   origins are listed.
//! - [`request_id`]: a client's `X-Request-Id` is kept only when short and printable.
//! - [`client_address`]: who the client is (the TCP peer, or `X-Forwarded-For` behind a
//!   trusted proxy).
//! - [`rate_limit`]: per-address limits on public endpoints and on failed authentications,
//!   per-nomination limits on public objections; a limited request reaches no handler.
//! - [`server`]: the accept loop: a header-read timeout, a cap on open connections, and a
//!   whole-request timeout answered as a problem.
//!
//! Invariants: nothing here reads or writes the store; a refusal here happens before any handler
//! runs, so it writes nothing; limits and counters live in this process only.

pub mod client_address;
pub mod headers;
pub mod rate_limit;
pub mod request_id;
pub mod server;

use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// The edge's settings: `[http]` in caseledger.toml, or the `CASELEDGER_*` variables named on
/// each field. [`Protection::default`] holds the documented defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Protection {
    /// Origins a browser may call the API from (`CASELEDGER_CORS_ORIGINS`); none: CORS stays
    /// closed.
    #[serde(deserialize_with = "list")]
    pub cors_origins: Vec<Origin>,
    /// Proxies whose `X-Forwarded-For` is believed (`CASELEDGER_TRUSTED_PROXIES`): addresses or
    /// CIDR blocks.
    #[serde(deserialize_with = "list")]
    pub trusted_proxies: Vec<TrustedProxy>,
    /// Requests to public endpoints per client address (`CASELEDGER_RATE_PUBLIC`).
    #[serde(deserialize_with = "parsed")]
    pub rate_public: Limit,
    /// Public objections per nomination (`CASELEDGER_RATE_OBJECTIONS`).
    #[serde(deserialize_with = "parsed")]
    pub rate_objections: Limit,
    /// Failed authentications (401 answers) per client address (`CASELEDGER_RATE_AUTH_FAILURES`).
    #[serde(deserialize_with = "parsed")]
    pub rate_auth_failures: Limit,
    /// How long a connection may take to send a request's headers, and how long it may stay
    /// idle between requests (`CASELEDGER_HEADER_TIMEOUT`).
    #[serde(deserialize_with = "parsed")]
    pub header_timeout: Timeout,
    /// How long a request may take from its headers to its answer (`CASELEDGER_REQUEST_TIMEOUT`).
    #[serde(deserialize_with = "parsed")]
    pub request_timeout: Timeout,
    /// Open connections at most; more wait in the listen backlog (`CASELEDGER_MAX_CONNECTIONS`).
    #[serde(deserialize_with = "parsed")]
    pub max_connections: MaxConnections,
}

impl Default for Protection {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            rate_public: Limit(Some(Rate::per(60, Duration::from_secs(60)))),
            rate_objections: Limit(Some(Rate::per(20, Duration::from_secs(3600)))),
            rate_auth_failures: Limit(Some(Rate::per(10, Duration::from_secs(60)))),
            header_timeout: Timeout(Duration::from_secs(10)),
            request_timeout: Timeout(Duration::from_secs(30)),
            max_connections: MaxConnections(1024),
        }
    }
}

impl Protection {
    /// No rate limits (every other setting as given): for tests that are not about limits and
    /// send more public requests than a person would.
    pub fn without_rate_limits(self) -> Self {
        Self {
            rate_public: Limit(None),
            rate_objections: Limit(None),
            rate_auth_failures: Limit(None),
            ..self
        }
    }
}

/// An origin a browser sends in `Origin`: `scheme://host[:port]`, nothing after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// The origin as the browser writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Origin {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("the origin {text:?} has no scheme (https://host[:port])"))?;
        let fine = matches!(scheme, "http" | "https")
            && !rest.is_empty()
            && !rest.contains(['/', '?', '#', '@', ' '])
            && rest.chars().all(|c| c.is_ascii_graphic());
        if !fine {
            return Err(format!(
                "the origin {text:?} is not http(s)://host[:port] without a path"
            ));
        }
        Ok(Self(text.to_ascii_lowercase()))
    }
}

/// A trusted proxy: one address or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(IpNet);

impl TrustedProxy {
    /// Whether `address` is this proxy (or in its block).
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.contains(&client_address::canonical(address))
    }
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(Self(net.trunc()));
        }
        text.parse::<IpAddr>()
            .map(|address| Self(IpNet::from(client_address::canonical(address))))
            .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR block"))
    }
}

/// A rate: `count` requests per `period`, with bursts of `burst` at once (a GCRA: one request's
/// room comes back every `period / count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub period: Duration,
    pub burst: NonZeroU32,
}

impl Rate {
    /// `count` per `period`, bursts of `count`. Panics on a zero count (constants only).
    pub fn per(count: u32, period: Duration) -> Self {
        let count = NonZeroU32::new(count).expect("a rate of at least one");
        Self {
            count,
            period,
            burst: count,
        }
    }

    /// The governor quota of this rate.
    pub fn quota(&self) -> governor::Quota {
        let every = self.period / self.count.get();
        governor::Quota::with_period(every.max(Duration::from_nanos(1)))
            .expect("a positive period")
            .allow_burst(self.burst)
    }
}

/// A limit that may be switched off: `off`, or a [`Rate`] written `60/min` or
/// `60/min,burst=10` (units `s`, `min`, `h`; `sec`, `second`, `m`, `minute`, `hour` too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<Rate>);

impl FromStr for Limit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(Self(None));
        }
        let wrong =
            || format!("{text:?} is not a rate such as 60/min, 5/s,burst=20 or 100/h, nor off");
        let (rate, burst) = match text.split_once(',') {
            Some((rate, burst)) => {
                let burst = burst
                    .trim()
                    .strip_prefix("burst=")
                    .and_then(|n| n.trim().parse::<NonZeroU32>().ok())
                    .ok_or_else(wrong)?;
                (rate, Some(burst))
            }
            None => (text, None),
        };
        let (count, unit) = rate.split_once('/').ok_or_else(wrong)?;
        let count = count.trim().parse::<NonZeroU32>().map_err(|_| wrong())?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(wrong()),
        };
        Ok(Self(Some(Rate {
            count,
            period,
            burst: burst.unwrap_or(count),
        })))
    }
}

/// A timeout: `500ms`, `10s`, `2m`, or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl FromStr for Timeout {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let wrong = || format!("{text:?} is not a timeout such as 500ms, 10s or 2m");
        let number: u64 = number.parse().map_err(|_| wrong())?;
        let duration = match unit.trim() {
            "ms" => Duration::from_millis(number),
            "" | "s" => Duration::from_secs(number),
            "m" | "min" => Duration::from_secs(number.saturating_mul(60)),
            _ => return Err(wrong()),
        };
        if duration.is_zero() {
            return Err(format!("{text:?}: a timeout must be longer than zero"));
        }
        Ok(Self(duration))
    }
}

/// The cap on open connections: at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxConnections(pub usize);

impl FromStr for MaxConnections {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().parse::<usize>() {
            Ok(count) if count > 0 => Ok(Self(count)),
            _ => Err(format!(
                "{text:?} is not a number of connections of 1 or more"
            )),
        }
    }
}

/// A value written as text (`"10s"`) or, in caseledger.toml, as a number (`10`).
fn parsed<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    struct Text<T>(PhantomData<T>);

    impl<T: FromStr<Err = String>> Visitor<'_> for Text<T> {
        type Value = T;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a string or a number")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
            text.parse().map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, number: u64) -> Result<T, E> {
            self.visit_str(&number.to_string())
        }

        fn visit_i64<E: de::Error>(self, number: i64) -> Result<T, E> {
            self.visit_str(&number.to_string())
        }
    }

    deserializer.deserialize_any(Text(PhantomData))
}

/// A list written as one text, separated by commas (`"a, b"`: what an environment variable
/// holds), or as a TOML array of texts.
fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    struct Items<T>(PhantomData<T>);

    impl<'de, T: FromStr<Err = String>> Visitor<'de> for Items<T> {
        type Value = Vec<T>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a comma-separated string or an array of strings")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<T>, E> {
            text.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| item.parse().map_err(E::custom))
                .collect()
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Vec<T>, A::Error> {
            let mut parsed = Vec::new();
            while let Some(item) = items.next_element::<String>()? {
                parsed.push(item.trim().parse().map_err(de::Error::custom)?);
            }
            Ok(parsed)
        }
    }

    deserializer.deserialize_any(Items(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_units_and_bursts() {
        let Limit(Some(rate)) = "60/min".parse().unwrap() else {
            panic!("a rate")
        };
        assert_eq!(rate, Rate::per(60, Duration::from_secs(60)));
        assert_eq!(rate.quota().replenish_interval(), Duration::from_secs(1));
        let Limit(Some(rate)) = "5/s,burst=20".parse().unwrap() else {
            panic!("a rate")
        };
        assert_eq!(rate.burst.get(), 20);
        assert_eq!(rate.quota().burst_size().get(), 20);
        assert_eq!("off".parse::<Limit>().unwrap(), Limit(None));
        for wrong in ["60", "0/min", "60/day", "60/min,burst=0", "60/min,b=3", ""] {
            assert!(wrong.parse::<Limit>().is_err(), "{wrong}");
        }
    }

    #[test]
    fn timeouts_and_counts_parse_and_refuse_zero() {
        assert_eq!(
            "500ms".parse::<Timeout>().unwrap(),
            Timeout(Duration::from_millis(500))
        );
        assert_eq!(
            "10".parse::<Timeout>().unwrap(),
            Timeout(Duration::from_secs(10))
        );
        assert_eq!(
            "2m".parse::<Timeout>().unwrap(),
            Timeout(Duration::from_secs(120))
        );
        for wrong in ["0s", "ten", "5d", "-1s"] {
            assert!(wrong.parse::<Timeout>().is_err(), "{wrong}");
        }
        assert_eq!(
            "1024".parse::<MaxConnections>().unwrap(),
            MaxConnections(1024)
        );
        assert!("0".parse::<MaxConnections>().is_err());
    }

    #[test]
    fn origins_and_proxies_are_checked() {
        assert_eq!(
            "https://Portal.example.cn:8443"
                .parse::<Origin>()
                .unwrap()
                .as_str(),
            "https://portal.example.cn:8443"
        );
        for wrong in ["portal.example.cn", "https://a.cn/path", "ftp://a.cn", "*"] {
            assert!(wrong.parse::<Origin>().is_err(), "{wrong}");
        }
        let block: TrustedProxy = "10.0.0.0/8".parse().unwrap();
        assert!(block.contains("10.1.2.3".parse().unwrap()));
        assert!(block.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!block.contains("11.0.0.1".parse().unwrap()));
        let one: TrustedProxy = "192.0.2.7".parse().unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        assert!("proxy.local".parse::<TrustedProxy>().is_err());
    }

    #[test]
    fn settings_read_text_numbers_and_lists() {
        let settings: Protection = toml::from_str(
            "cors_origins = [\"https://a.example\"]\n\
             trusted_proxies = \"10.0.0.0/8, 192.0.2.1\"\n\
             rate_public = \"off\"\n\
             header_timeout = 3\n\
             max_connections = 64\n",
        )
        .unwrap();
        assert_eq!(settings.cors_origins.len(), 1);
        assert_eq!(settings.trusted_proxies.len(), 2);
        assert_eq!(settings.rate_public, Limit(None));
        assert_eq!(settings.header_timeout, Timeout(Duration::from_secs(3)));
        assert_eq!(settings.max_connections, MaxConnections(64));
        assert_eq!(
            settings.request_timeout,
            Protection::default().request_timeout,
            "unset keys keep their defaults"
        );
        let error = toml::from_str::<Protection>("rate_public = \"lots\"\n").unwrap_err();
        assert!(error.to_string().contains("60/min"), "{error}");
        assert!(toml::from_str::<Protection>("rate_everything = \"1/s\"\n").is_err());
    }
}
