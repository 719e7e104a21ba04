//! `serve` writes its log from a thread of its own (issue 16): a log sink that stops reading
//! (a stuck collector, a disk that throttles writers) neither stalls the requests nor loses a
//! line. The log path touches no store, so this runs on SQLite only.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

mod support;

use support::{run_ok as caseledger, send_sigterm, serve_command};

/// How many requests are sent while nobody reads the log: each logs a line of about 200 bytes,
/// so a few hundred of them fill a 64 KiB pipe, and a server that wrote its log from the request
/// threads would stop answering long before the last.
const REQUESTS: usize = 2_000;

/// `serve` with its standard error a pipe that nobody reads after the serving line answers
/// 2,000 requests, each within 5 s; once the pipe is read again (and the server stopped), the
/// log holds a line for every one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_sink_that_stops_reading_neither_stalls_serving_nor_loses_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("caseledger.db").display());
    caseledger(&url, dir.path(), &["migrate"]);
    let mut child = serve_command(&url, dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut child = KillOnDrop(Some(child));
    let address = loop {
        let mut line = String::new();
        assert!(log.read_line(&mut line).unwrap() > 0, "serve exited early");
        if let Some(rest) = line.split("is serving on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };

    // Nobody reads the pipe from here on.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for n in 0..REQUESTS {
        let answer = client
            .get(format!("http://{address}/healthz"))
            .send()
            .await
            .unwrap_or_else(|error| panic!("request {n} got no answer in 5 s: {error}"));
        assert_eq!(answer.status(), 200, "request {n}");
    }

    let reader = std::thread::spawn(move || {
        log.lines()
            .map_while(Result::ok)
            .filter(|line| line.contains("uri=/healthz") && line.contains("status=200"))
            .count()
    });
    let mut child = child.0.take().unwrap();
    send_sigterm(&child);
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "serve did not stop cleanly: {exit:?}");
    assert_eq!(reader.join().unwrap(), REQUESTS, "a line per request");
}

/// Kills the server when the test fails before stopping it (a server blocked on its log pipe
/// would otherwise outlive the test and hold the test runner's output open).
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
