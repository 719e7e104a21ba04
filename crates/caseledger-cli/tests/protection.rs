//! Protection of the real binary (issue 15 items 5 and 8): a slowloris of 300 half-sent requests
//! neither holds the server nor starves real requests, and is closed after the header timeout;
//! the connection cap holds and frees; a request that takes too long is answered 503
//! `request_timeout`; the data directory and the SQLite files are the owner's only.
//!
//! These run on SQLite: nothing here depends on the store (the slowloris never reaches a
//! handler), and the file modes are SQLite's files.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod support;

use support::{listening, terminate, BIN};

/// Starts `caseledger serve` on port 0 in `data_dir` (its SQLite database) with `settings` as
/// environment variables; returns it with the address it printed.
fn serve(data_dir: &Path, settings: &[(&str, &str)]) -> (Child, String) {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CASELEDGER_DATA_DIR", data_dir)
        .env_remove("CASELEDGER_DATABASE_URL")
        .env_remove("CASELEDGER_JWT_SECRET")
        .envs(settings.iter().copied());
    listening(command, None)
}

/// Sends `request` on a new connection and reads the answer to its end (the request asks the
/// server to close); fails after `limit`.
fn exchange(address: &str, request: &str, limit: Duration) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(limit)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .unwrap_or_else(|error| panic!("no complete answer within {limit:?}: {error}"));
    String::from_utf8_lossy(&answer).into_owned()
}

fn healthz(address: &str, limit: Duration) -> String {
    exchange(
        address,
        "GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
        limit,
    )
}

/// Opens `n` connections that each send half a request line and stall.
fn stalled_connections(address: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut stream = TcpStream::connect(address).unwrap();
            stream.write_all(b"GET /api/v1/public/k").unwrap();
            stream
        })
        .collect()
}

/// Waits until the server closes `stream` (EOF or reset), at most until `deadline`; whatever
/// it sends first (an error answer) is read and dropped. Returns when it was closed.
fn closed_by_server(stream: &mut TcpStream, deadline: Instant) -> Option<Instant> {
    let mut buffer = [0u8; 1024];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match stream.read(&mut buffer) {
            Ok(0) => return Some(Instant::now()),
            Ok(_) => continue,
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                return Some(Instant::now())
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None
            }
            Err(error) => panic!("reading a stalled connection: {error}"),
        }
    }
}

#[test]
fn a_slowloris_neither_holds_the_server_nor_starves_real_requests() {
    // Long enough that 300 connections and 20 requests fit in it on a busy two-core machine.
    const HEADER_TIMEOUT: Duration = Duration::from_secs(4);
    let dir = tempfile::tempdir().unwrap();
    let (server, address) = serve(
        dir.path(),
        &[
            ("CASELEDGER_HEADER_TIMEOUT", "4s"),
            ("CASELEDGER_REQUEST_TIMEOUT", "1s"),
        ],
    );

    let started = Instant::now();
    let mut stalled = stalled_connections(&address, 300);

    // Real requests are answered at once while the 300 stall.
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let sent = Instant::now();
        let answer = healthz(&address, Duration::from_secs(5));
        slowest = slowest.max(sent.elapsed());
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    assert!(
        slowest < Duration::from_millis(1500),
        "a real request took {slowest:?} during the slowloris"
    );
    assert!(
        started.elapsed() < HEADER_TIMEOUT,
        "the real requests must have run while the slowloris held its connections"
    );

    // After the header timeout the server closes every half-sent connection.
    let deadline = started + HEADER_TIMEOUT + Duration::from_secs(4);
    for (n, stream) in stalled.iter_mut().enumerate() {
        let closed_at = closed_by_server(stream, deadline)
            .unwrap_or_else(|| panic!("connection {n} is still open after the header timeout"));
        assert!(
            closed_at.duration_since(started) >= HEADER_TIMEOUT - Duration::from_millis(500),
            "connection {n} was closed before the header timeout"
        );
    }
    drop(stalled);

    // A request whose body never arrives in full is answered when the request timeout ends.
    let sent = Instant::now();
    let answer = exchange(
        &address,
        "POST /api/v1/public/case-status HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"case_number\":",
        Duration::from_secs(5),
    );
    let waited = sent.elapsed();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(lower.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "answered after {waited:?}"
    );

    // And the server is still serving.
    assert!(healthz(&address, Duration::from_secs(5)).starts_with("HTTP/1.1 200"));
    terminate(server);
}

#[test]
fn the_connection_cap_holds_and_the_header_timeout_frees_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, address) = serve(
        dir.path(),
        &[
            ("CASELEDGER_HEADER_TIMEOUT", "2s"),
            ("CASELEDGER_MAX_CONNECTIONS", "8"),
        ],
    );
    let stalled = stalled_connections(&address, 8);
    // Let the server accept all eight.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let answer = healthz(&address, Duration::from_secs(8));
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        waited >= Duration::from_millis(1200),
        "the ninth connection was served after {waited:?}, before a slot was free"
    );
    assert!(
        waited < Duration::from_secs(5),
        "the ninth connection waited {waited:?}"
    );
    drop(stalled);
    terminate(server);
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The data directory is 0700 and the database with its WAL and shared-memory files 0600, when
/// `migrate` creates them and again when `serve` starts on files someone widened.
#[cfg(unix)]
#[test]
fn the_data_directory_and_the_database_are_the_owners_only() {
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("data");
    let database = data_dir.join("caseledger.db");
    let output = Command::new(BIN)
        .arg("migrate")
        .env("CASELEDGER_DATA_DIR", &data_dir)
        .env_remove("CASELEDGER_DATABASE_URL")
        .env_remove("CASELEDGER_JWT_SECRET")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(mode(&data_dir), 0o700);
    assert_eq!(mode(&database), 0o600);

    // Someone widens them (a copy, an archive); the next start narrows them again.
    set_mode(&data_dir, 0o755);
    set_mode(&database, 0o644);
    let (server, address) = serve(&data_dir, &[]);
    // Served: the start is complete (and the signal handler in place for the stop).
    assert!(healthz(&address, Duration::from_secs(5)).starts_with("HTTP/1.1 200"));
    assert_eq!(mode(&data_dir), 0o700);
    for suffix in ["", "-wal", "-shm"] {
        let path = data_dir.join(format!("caseledger.db{suffix}"));
        assert!(path.exists(), "{} exists while serving", path.display());
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    terminate(server);
}
