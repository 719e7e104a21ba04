//! Hardening under faults (issue 13): text the stores cannot hold, a database that goes away,
//! a full disk, and a shutdown in the middle of work.

use serde_json::json;

use crate::on_both;
use crate::support::{integers, problem, registration, token, TestApp, TestDb};

// A NUL character (U+0000) in any text is refused at the edge with 400 `invalid_text` on both
// stores (PostgreSQL's `jsonb` and `text` cannot hold it), and nothing is written.

async fn nul_character_in_body_query_path_or_public_lookup_is_400(test: TestDb) {
    let db = test.db.clone();
    let app = TestApp::spawn(test.db).await;
    let dispatcher = token("dora", "dispatcher", None);

    let mut body = registration("ent-nul");
    body["title"] = json!("融资\u{0}贴息");
    let refused = problem(
        app.post("/api/v1/cases", &dispatcher, body).await,
        400,
        "invalid_text",
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("title"),
        "the detail names the field: {refused}"
    );

    let mut body = registration("ent-nul");
    body["category"] = json!("financing\u{0}");
    problem(
        app.post("/api/v1/cases", &dispatcher, body).await,
        400,
        "invalid_text",
    )
    .await;

    problem(
        app.get("/api/v1/cases?department=dept%00commerce", &dispatcher)
            .await,
        400,
        "invalid_text",
    )
    .await;
    problem(
        app.get("/api/v1/cases?enterprise_id=ent%00x&limit=5", &dispatcher)
            .await,
        400,
        "invalid_text",
    )
    .await;
    problem(
        app.get(
            "/api/v1/cases/0190a0b0-0000-7000-8000-00000000%0000",
            &dispatcher,
        )
        .await,
        400,
        "invalid_text",
    )
    .await;

    // The anonymous public lookup.
    let lookup = app
        .client
        .post(app.url("/api/v1/public/case-status"))
        .json(&json!({"case_number": "CL-2026-\u{0}1", "verifier": "abc"}))
        .send()
        .await
        .unwrap();
    problem(lookup, 400, "invalid_text").await;
    let lookup = app
        .client
        .post(app.url("/api/v1/public/case-status"))
        .json(&json!({"case_number": "CL-2026-1", "verifier": "a\u{0}"}))
        .send()
        .await
        .unwrap();
    problem(lookup, 400, "invalid_text").await;

    assert_eq!(
        integers(&db, "SELECT count(*) FROM events").await,
        vec![0],
        "nothing is written"
    );

    // A backslash followed by `u0000` is plain text, not a NUL character.
    let mut body = registration("ent-nul");
    body["title"] = json!("path C:\\u0000 literally");
    let accepted = app.post("/api/v1/cases", &dispatcher, body).await;
    assert_eq!(accepted.status().as_u16(), 201);
    app.stop().await;
}

/// A PostgreSQL data error is never read as a SQLite result code: 22021 (a NUL byte in text) has
/// 5, `SQLITE_BUSY`, in its low byte, and used to answer 503. SQLite stores the text.
async fn data_error_is_not_unavailability(test: TestDb) {
    let result = test.db.cases_by_number("CL-\u{0}-1").await;
    match (&test.db, result) {
        (caseledger_store::Database::Postgres(_), Err(error)) => {
            assert!(!error.is_unavailable(), "{error} is a data error");
        }
        (caseledger_store::Database::Sqlite(_), Ok(cases)) => assert!(cases.is_empty()),
        (_, other) => panic!("unexpected: {other:?}"),
    }
}

on_both!(
    nul_character_in_body_query_path_or_public_lookup_is_400,
    data_error_is_not_unavailability
);

// PostgreSQL ending the server's connections (57P01 admin shutdown, then connection loss on the
// pooled connections) answers 503 with `Retry-After`, never 500, and the server recovers by
// itself. PostgreSQL only: SQLite has no server to go away (its faults are the disk's, below).

/// Ends every connection of the test database but the admin's own, as `pg_terminate_backend`
/// does during a shutdown (57P01 to each backend).
async fn terminate_backends(admin: &sqlx::PgPool, database: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
          WHERE datname = $1 AND pid <> pg_backend_pid()) AS ended",
    )
    .bind(database)
    .fetch_one(admin)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ending_connections_mid_request_answers_503_and_recovers() {
    let test = TestDb::postgres().await;
    let caseledger_store::Database::Postgres(caseledger_store::PgStore { write: pool, .. }) =
        &test.db
    else {
        unreachable!()
    };
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let admin_url = std::env::var("CASELEDGER_TEST_POSTGRES_URL").unwrap();
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    let app = TestApp::spawn(test.db.clone()).await;
    let dispatcher = token("dora", "dispatcher", None);
    let registered = app
        .post("/api/v1/cases", &dispatcher, registration("ent-pg"))
        .await;
    assert_eq!(registered.status().as_u16(), 201);

    // Terminate the server's backends again and again while commands and reads run.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let stop = stop.clone();
        let admin = admin.clone();
        let database = database.clone();
        tokio::spawn(async move {
            let mut ended = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                ended += terminate_backends(&admin, &database).await;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            ended
        })
    };
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for round in 0..60 {
        let response = if round % 3 == 2 {
            app.get("/api/v1/cases?limit=5", &dispatcher).await
        } else {
            app.post("/api/v1/cases", &dispatcher, registration("ent-pg"))
                .await
        };
        let status = response.status().as_u16();
        *statuses.entry(status).or_default() += 1;
        if status == 503 {
            assert!(
                response.headers().get("retry-after").is_some(),
                "a 503 says when to retry"
            );
            problem(response, 503, "storage_unavailable").await;
        } else {
            assert!(
                status == 200 || status == 201,
                "while connections end: {status} {}",
                response.text().await.unwrap()
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let ended = killer.await.unwrap();
    eprintln!("answers while connections ended: {statuses:?}; backends ended: {ended}");
    assert!(ended > 0, "connections were ended");
    assert!(
        statuses.get(&503).copied().unwrap_or(0) > 0,
        "ending connections mid-request was noticed: {statuses:?}"
    );

    // Recovered without a restart: a command and a read-your-writes read succeed.
    let mut recovered = None;
    for _ in 0..50 {
        let response = app
            .post("/api/v1/cases", &dispatcher, registration("ent-pg"))
            .await;
        if response.status().as_u16() == 201 {
            recovered = Some(response.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("commands succeed again");
    let mut read = 0;
    for _ in 0..50 {
        let response = app
            .get(
                &format!(
                    "/api/v1/cases/{}?min_position={}",
                    recovered["id"].as_str().unwrap(),
                    recovered["position"]
                ),
                &dispatcher,
            )
            .await;
        read = response.status().as_u16();
        if read == 200 {
            break;
        }
        assert_eq!(read, 503, "a read during recovery is 200 or 503");
    }
    assert_eq!(read, 200, "the projector caught up after the outage");
    app.stop().await;
    admin.close().await;
}

// SQLite on a full disk: writes answer 503 (not 500), liveness says the database cannot be
// written, and once space is back writes succeed again without a restart (the writer connection
// a failed ROLLBACK left "inside a transaction" is replaced instead of refusing every `BEGIN`).

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallFilesystem {
    dir: tempfile::TempDir,
}

impl SmallFilesystem {
    /// Mounts a tmpfs of `size` (e.g. `4m`). Fails loudly with the reason where mounting is not
    /// permitted: this test never skips silently.
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let output = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap_or_else(|error| panic!("cannot run mount (needed to fill a disk): {error}"));
        assert!(
            output.status.success(),
            "this test mounts a small tmpfs to fill it and needs root (or CAP_SYS_ADMIN); \
             mount said: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self { dir }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes a file until the file system is full; returns its path.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5au8; 16 * 1024];
    loop {
        if file.write_all(&chunk).is_err() {
            break;
        }
    }
    // Fill the last partial page too.
    while file.write_all(&[0x5a]).is_ok() && file.flush().is_ok() {}
    let _ = file.sync_all();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_answers_503_tells_liveness_and_recovers_by_itself() {
    let filesystem = SmallFilesystem::mount("8m");
    let url = format!(
        "sqlite://{}",
        filesystem.path().join("caseledger.db").display()
    );
    let db = caseledger_store::Database::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let app = TestApp::spawn(db.clone()).await;
    let dispatcher = token("dora", "dispatcher", None);
    let first = app
        .post("/api/v1/cases", &dispatcher, registration("ent-disk"))
        .await;
    assert_eq!(first.status().as_u16(), 201);
    let healthz = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(healthz.status().as_u16(), 200);

    let filler = fill(filesystem.path());
    for attempt in 0..5 {
        let response = app
            .post("/api/v1/cases", &dispatcher, registration("ent-disk"))
            .await;
        assert!(
            response.headers().get("retry-after").is_some(),
            "attempt {attempt} on a full disk says when to retry"
        );
        problem(response, 503, "storage_unavailable").await;
    }
    let healthz = app.client.get(app.url("/healthz")).send().await.unwrap();
    problem(healthz, 503, "storage_unavailable").await;

    // Space comes back: no restart, the next writes succeed.
    std::fs::remove_file(filler).unwrap();
    let registered = app
        .post("/api/v1/cases", &dispatcher, registration("ent-disk"))
        .await;
    let registered = crate::support::json(registered, 201).await;
    let healthz = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(healthz.status().as_u16(), 200);
    let read = app
        .get(
            &format!(
                "/api/v1/cases/{}?min_position={}",
                registered["id"].as_str().unwrap(),
                registered["position"]
            ),
            &dispatcher,
        )
        .await;
    assert_eq!(read.status().as_u16(), 200, "the projector carries on");
    assert_eq!(
        integers(&db, "SELECT count(*) FROM events").await,
        vec![2],
        "the refused writes left nothing behind"
    );
    app.stop().await;
    db.close().await;
}

/// A throwaway PostgreSQL cluster of this test alone (scripts/lib/postgres.sh), so that it can be
/// stopped and started: the shared test cluster is never stopped. Removed when dropped.
struct OwnCluster {
    admin_url: String,
    tmp: String,
    bin: String,
    port: String,
}

impl OwnCluster {
    fn start() -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/lib/postgres.sh");
        let output = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -e; source '{script}'; start_postgres >&2; echo \"$PG_ADMIN_URL\"; echo \"$PG_TMP\"; echo \"$PG_BIN\""
            ))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "starting a throwaway PostgreSQL cluster failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        let mut lines = stdout.lines();
        let admin_url = lines.next().unwrap().to_owned();
        let tmp = lines.next().unwrap().to_owned();
        let bin = lines.next().unwrap().to_owned();
        let port = admin_url
            .rsplit_once(':')
            .unwrap()
            .1
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        Self {
            admin_url,
            tmp,
            bin,
            port,
        }
    }

    fn pg_ctl(&self, args: &[&str]) {
        let mut command = std::process::Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(format!("{}/pg_ctl", self.bin))
            .args(["-D", &format!("{}/data", self.tmp), "-w", "-t", "60"])
            .args(args);
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A fast shutdown: PostgreSQL ends every backend with 57P01 and stops listening.
    fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "stop"]);
    }

    fn start_again(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port, self.tmp
        );
        let log = format!("{}/server.log", self.tmp);
        self.pg_ctl(&["-l", &log, "-o", &options, "start"]);
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{}/pg_ctl", self.bin))
            .args([
                "-D",
                &format!("{}/data", self.tmp),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_stopped_and_started_answers_503_then_recovers() {
    let cluster = OwnCluster::start();
    let url = format!(
        "{}/caseledger",
        cluster.admin_url.rsplit_once('/').unwrap().0
    );
    let admin = sqlx::PgPool::connect(&cluster.admin_url).await.unwrap();
    sqlx::query("CREATE DATABASE caseledger")
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let db = caseledger_store::Database::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let app = TestApp::spawn(db).await;
    let dispatcher = token("dora", "dispatcher", None);
    let registered = app
        .post("/api/v1/cases", &dispatcher, registration("ent-pg"))
        .await;
    assert_eq!(registered.status().as_u16(), 201);

    cluster.stop();
    for path in ["/api/v1/cases", "/api/v1/public/case-status"] {
        let response = if path.starts_with("/api/v1/public") {
            app.client
                .post(app.url(path))
                .json(&json!({"case_number": "CL-1", "verifier": "abc"}))
                .send()
                .await
                .unwrap()
        } else {
            app.post(path, &dispatcher, registration("ent-pg")).await
        };
        assert!(
            response.headers().get("retry-after").is_some(),
            "{path} while the database is down says when to retry"
        );
        problem(response, 503, "storage_unavailable").await;
    }

    cluster.start_again();
    let mut status = 0;
    for _ in 0..50 {
        status = app
            .post("/api/v1/cases", &dispatcher, registration("ent-pg"))
            .await
            .status()
            .as_u16();
        if status == 201 {
            break;
        }
        assert_eq!(status, 503, "during recovery a command is 201 or 503");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status, 201, "commands succeed again without a restart");
    app.stop().await;
}
