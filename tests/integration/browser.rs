//! Pages in a real headless Chromium, offline: the public appraisal page (in `appraisal.rs`) and
//! the API reference at `/docs` (here).
//!
//! Nothing leaves the machine: every Chromium run sends whatever is not loopback to a trap, a
//! proxy on 127.0.0.1 that records the request and refuses it (Chromium never proxies loopback,
//! so the server under test is reached directly), and no host name resolves. That alone cannot
//! tell a page's requests from the browser's own (update checks, network time, account list),
//! which a headless Chromium sends whatever its flags. So each run also writes Chromium's NetLog,
//! and the test reads the requests made for the page (those whose top-level site is the loopback
//! server): every one must go to loopback. A page that loads anything from a CDN, a font service
//! or any other host fails the test. Screenshots are kept under `target/artifacts/`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::{TestApp, TestDb};

/// Where CI keeps artifacts: `$CASELEDGER_ARTIFACTS_DIR`, else `<workspace>/target/artifacts`.
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("CASELEDGER_ARTIFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("artifacts")
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Debian's `chromium` (or `$CHROMIUM`). Missing is a failure with instructions, never a skip.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if std::path::Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "headless Chromium is required for the page tests. Install it \
         (Debian/Ubuntu as root: apt-get install -y chromium; scripts/test does this) or set \
         CHROMIUM=/path/to/chromium."
    )
}

/// A page that loads an image from elsewhere: the trap serves it at `/offline-check` to prove
/// the check sees such a request.
const LEAKING_PAGE: &str =
    "<!doctype html><title>leak</title><img src=\"http://cdn.example.invalid/x.png\">";

/// The proxy every non-loopback request of the browser goes to: it records the request line
/// (or the `CONNECT host:port` of an HTTPS request) and answers 502. Asked directly (not as a
/// proxy) for `/offline-check`, it serves [`LEAKING_PAGE`].
struct Trap {
    address: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Trap {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_nonblocking(false).unwrap();
                            stream
                                .set_read_timeout(Some(Duration::from_secs(2)))
                                .unwrap();
                            let mut line = String::new();
                            let _ = BufReader::new(&stream).read_line(&mut line);
                            let answer = if line.starts_with("GET /offline-check ") {
                                format!(
                                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{LEAKING_PAGE}",
                                    LEAKING_PAGE.len()
                                )
                            } else {
                                requests.lock().unwrap().push(line.trim().to_owned());
                                "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
                            };
                            let _ = stream.write_all(answer.as_bytes());
                        }
                        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(error) => panic!("trap: {error}"),
                    }
                }
            })
        };
        Self {
            address,
            requests,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether a URL or a site (`scheme://host[:port][/…]`) is on loopback.
fn is_loopback(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The URLs a page on loopback asked for that are not on loopback, from a Chromium NetLog: the
/// requests whose top-level site (the first half of the network isolation key) or initiator is
/// on loopback. The browser's own requests have neither.
fn page_requests_leaving_loopback(net_log: &Path) -> Vec<String> {
    let text = std::fs::read(net_log).expect("chromium wrote its NetLog");
    let log: Value = serde_json::from_slice(&text).expect("the NetLog is JSON");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_i64()
        .expect("the NetLog names URL_REQUEST_START_JOB");
    log["events"]
        .as_array()
        .expect("NetLog events")
        .iter()
        .filter(|event| event["type"].as_i64() == Some(start_job))
        .filter_map(|event| {
            let params = &event["params"];
            let url = params["url"].as_str()?;
            let top_site = params["network_isolation_key"]
                .as_str()
                .and_then(|key| key.split(' ').next())
                .unwrap_or_default();
            let initiator = params["initiator"].as_str().unwrap_or_default();
            let for_the_page = is_loopback(top_site) || is_loopback(initiator);
            (for_the_page && !is_loopback(url)).then(|| url.to_owned())
        })
        .collect()
}

/// Headless Chromium whose non-loopback traffic goes to a [`Trap`], and which keeps the requests
/// its pages made that left loopback. Cheap to clone (the runs happen on blocking threads).
#[derive(Clone)]
pub struct Browser {
    trap: Arc<Trap>,
    leaks: Arc<Mutex<Vec<String>>>,
}

impl Browser {
    pub fn offline() -> Self {
        Self {
            trap: Arc::new(Trap::start()),
            leaks: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Runs Chromium with `arguments` (e.g. `--dump-dom URL`) and returns its standard output.
    pub fn run(&self, arguments: &[String]) -> String {
        let profile = tempfile::tempdir().unwrap();
        let net_log = profile.path().join("net-log.json");
        let output = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                // The browser's own traffic (updates, safe browsing, metrics) is not the page's:
                // keep it off so that what reaches the trap is what the page asked for.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-domain-reliability",
                "--no-pings",
                // No name resolves: nothing is looked up outside either.
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            ])
            .arg(format!("--proxy-server=http://{}", self.trap.address))
            .arg(format!("--log-net-log={}", net_log.display()))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(arguments)
            .output()
            .expect("running chromium");
        assert!(
            output.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.leaks
            .lock()
            .unwrap()
            .extend(page_requests_leaving_loopback(&net_log));
        String::from_utf8(output.stdout).unwrap()
    }

    /// `run` on a blocking thread, for async tests.
    pub async fn run_async(&self, arguments: Vec<String>) -> String {
        let browser = self.clone();
        tokio::task::spawn_blocking(move || browser.run(&arguments))
            .await
            .unwrap()
    }

    /// The URLs outside loopback that the pages loaded so far asked for.
    pub fn page_requests_leaving_loopback(&self) -> Vec<String> {
        self.leaks.lock().unwrap().clone()
    }

    /// A phone- or desktop-sized screenshot of `url` kept as `<artifacts>/<name>.png`; checks it
    /// is a PNG of a page, not a blank.
    pub async fn screenshot(&self, url: &str, name: &str, window: (u32, u32)) {
        let screenshot = artifacts_dir().join(format!("{name}.png"));
        let _ = std::fs::remove_file(&screenshot);
        self.run_async(vec![
            format!("--screenshot={}", screenshot.display()),
            format!("--window-size={},{}", window.0, window.1),
            url.to_owned(),
        ])
        .await;
        let png = std::fs::read(&screenshot).expect("the screenshot was written");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        assert!(
            png.len() > 10_000,
            "a page, not a blank: {} bytes",
            png.len()
        );
    }
}

#[test]
fn loopback_is_told_apart() {
    for url in [
        "http://127.0.0.1:8080/docs",
        "http://127.0.0.1",
        "http://localhost:3000/x",
        "http://[::1]:80/",
        "http://127.1.2.3/",
    ] {
        assert!(is_loopback(url), "{url}");
    }
    for url in [
        "https://cdn.example/x.js",
        "http://127.0.0.1.example.com/",
        "http://10.0.0.1/",
        "not an origin",
        "null",
    ] {
        assert!(!is_loopback(url), "{url}");
    }
}

/// The check sees what a page loads from elsewhere, and the trap stops it: without this, "no
/// request left loopback" could mean the check was blind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_loading_from_elsewhere_is_caught() {
    let browser = Browser::offline();
    let url = format!("http://{}/offline-check", browser.trap.address);
    let dom = browser.run_async(vec!["--dump-dom".into(), url]).await;
    assert!(
        dom.contains("cdn.example.invalid"),
        "the page loaded: {dom}"
    );
    assert_eq!(
        browser.page_requests_leaving_loopback(),
        vec!["http://cdn.example.invalid/x.png".to_owned()]
    );
    let trapped = browser.trap.requests.lock().unwrap().clone();
    assert!(
        trapped
            .iter()
            .any(|line| line == "GET http://cdn.example.invalid/x.png HTTP/1.1"),
        "{trapped:?}"
    );
}

/// `/docs` in a real browser with no network: the page is complete (every tag in the navigation
/// linked to its section, the operations under them, the schemas), and nothing it needs comes
/// from anywhere but the server. The page does not touch storage, so one backend is enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_works_offline_with_navigation_by_tag() {
    let db = TestDb::sqlite().await;
    let app = TestApp::spawn(db.db.clone()).await;
    let browser = Browser::offline();
    let url = app.url("/docs");
    let dom = browser
        .run_async(vec!["--dump-dom".into(), url.clone()])
        .await;

    let openapi: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let nav = &dom[dom.find("<nav").expect("a navigation")..dom.find("</nav>").unwrap()];
    let tags = openapi["tags"].as_array().unwrap();
    assert!(tags.len() >= 10, "{} tags", tags.len());
    for tag in tags {
        let name = tag["name"].as_str().unwrap();
        assert!(
            nav.contains(&format!("href=\"#tag-{name}\"")),
            "{name} not in the navigation"
        );
        assert!(
            dom.contains(&format!("id=\"tag-{name}\"")),
            "no section for {name}"
        );
    }
    // The operations sit under their tag: respond under cases, the ballot under appraisals.
    let section = |name: &str| {
        let start = dom.find(&format!("id=\"tag-{name}\"")).unwrap();
        let end = dom[start + 1..]
            .find("<section")
            .map_or(dom.len(), |end| start + 1 + end);
        &dom[start..end]
    };
    assert!(section("cases").contains("/api/v1/cases/{case_id}/respond"));
    assert!(section("appraisals").contains("/api/v1/appraisals/{appraisal_id}/ballots"));
    assert!(!section("cases").contains("/api/v1/appraisals/{appraisal_id}/ballots"));
    assert!(dom.contains("id=\"schema-Problem\""));
    assert!(!dom.contains("<script"));

    browser
        .screenshot(&url, "api-reference-docs", (1280, 900))
        .await;
    assert_eq!(
        browser.page_requests_leaving_loopback(),
        Vec::<String>::new(),
        "requests that left loopback"
    );
    app.stop().await;
}
