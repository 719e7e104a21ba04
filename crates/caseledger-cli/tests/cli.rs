//! The binary as a new user drives it: migrate, mint a token, serve on a free port, run commands
//! over HTTP, stop with SIGTERM, restart (tokens survive), and rebuild a projection from the CLI
//! to the same checksum. On SQLite and on PostgreSQL.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

mod support;

use support::{listening, serve_command, terminate, BIN};

fn caseledger(url: &str, data_dir: &Path, args: &[&str]) -> std::process::Output {
    support::command(url, data_dir).args(args).output().unwrap()
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .trim()
        .to_owned()
}

/// Starts `caseledger serve` on port 0 and returns it with the address it printed.
fn serve(url: &str, data_dir: &Path) -> (Child, String) {
    listening(serve_command(url, data_dir), None)
}

async fn new_user_journey(url: String) {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path();
    assert!(stdout(&caseledger(&url, dir, &["migrate"])).contains("schema is up to date"));

    let refused = caseledger(&url, dir, &["token", "--sub", "alice", "--role", "root"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown role"));
    let liaison = stdout(&caseledger(
        &url,
        dir,
        &["token", "--sub", "lo-1", "--role", "liaison_officer"],
    ));
    let dispatcher = stdout(&caseledger(
        &url,
        dir,
        &[
            "token",
            "--sub",
            "d-1",
            "--role",
            "dispatcher",
            "--ttl",
            "1h",
        ],
    ));
    assert!(dir.join("jwt-secret").exists());

    let client = reqwest::Client::new();
    let (server, address) = serve(&url, dir);
    let body = serde_json::json!({
        "enterprise_id": "ent-0001", "title": "用地审批", "description": "厂房扩建用地审批进度慢",
        "category": "land", "urgency": "urgent", "source": "leader_visit"
    });
    let created: serde_json::Value = client
        .post(format!("http://{address}/api/v1/cases"))
        .bearer_auth(&liaison)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let dispatched: serde_json::Value = client
        .post(format!("http://{address}/api/v1/cases/{id}/dispatch"))
        .bearer_auth(&dispatcher)
        .json(&serde_json::json!({"lead_department": "dept-natural-resources"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dispatched["version"], 2, "{dispatched}");
    terminate(server);

    // Restarted, the same token still works and the case is there.
    let (server, address) = serve(&url, dir);
    let position = dispatched["position"].as_i64().unwrap();
    let case: serde_json::Value = client
        .get(format!(
            "http://{address}/api/v1/cases/{id}?min_position={position}"
        ))
        .bearer_auth(&dispatcher)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(case["status"], "dispatched", "{case}");
    assert_eq!(case["urgency"], "urgent");
    terminate(server);

    let live = stdout(&caseledger(
        &url,
        dir,
        &["projections", "checksum", "cases"],
    ));
    let rebuilt = stdout(&caseledger(&url, dir, &["projections", "rebuild", "cases"]));
    let checksum = |text: &str| text.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(
        checksum(&rebuilt),
        checksum(&live),
        "rebuilt: {rebuilt}; live: {live}"
    );
    let status = stdout(&caseledger(&url, dir, &["projections", "status"]));
    assert!(
        status
            .lines()
            .any(|line| line.starts_with("cases") && line.contains(" 2 ")),
        "{status}"
    );
    let unknown = caseledger(&url, dir, &["projections", "rebuild", "nothing"]);
    assert!(!unknown.status.success());
    let evidence = caseledger(&url, dir, &["projections", "rebuild", "audit_chain"]);
    assert!(
        !evidence.status.success(),
        "the audit chain must never be rebuilt"
    );
    // Without a name, every projection but the audit chain is rebuilt, and the command succeeds.
    let all = stdout(&caseledger(&url, dir, &["projections", "rebuild"]));
    assert!(
        all.lines()
            .any(|line| line.starts_with("cases: rebuilt in")),
        "{all}"
    );
    assert!(
        all.lines()
            .any(|line| line.starts_with("audit_chain: append-only evidence, not rebuilt")),
        "{all}"
    );

    audit_trail_checks(&url, dir).await;
}

/// `audit verify` passes on untouched data; an export verifies with the shipped script in both
/// formats and fails once edited; one UPDATE by hand makes `audit verify` fail naming the event.
async fn audit_trail_checks(url: &str, dir: &Path) {
    let intact = stdout(&caseledger(url, dir, &["audit", "verify"]));
    assert!(
        intact.starts_with("audit trail intact: 2 events in 1 streams, 2 in the global chain"),
        "{intact}"
    );

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/verify-audit-export.py"
    );
    for format in ["ndjson", "csv"] {
        let file = dir.join(format!("export.{format}"));
        let file_text = file.to_str().unwrap();
        let exported = caseledger(
            url,
            dir,
            &["audit", "export", "--format", format, "--output", file_text],
        );
        assert!(
            exported.status.success(),
            "{}",
            String::from_utf8_lossy(&exported.stderr)
        );
        let checked = Command::new("python3")
            .args([script, file_text])
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "{}",
            String::from_utf8_lossy(&checked.stdout)
        );
        assert!(String::from_utf8_lossy(&checked.stdout).starts_with("ok: 2 events"));
        // Edit the dispatched event's department in the export: the script names it.
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            text.replace("dept-natural-resources", "dept-taxation"),
        )
        .unwrap();
        let broken = Command::new("python3")
            .args([script, file_text])
            .output()
            .unwrap();
        assert_eq!(
            broken.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&broken.stdout)
        );
        assert!(String::from_utf8_lossy(&broken.stdout).contains("#2) was modified"));
    }
    let partial = dir.join("partial.ndjson");
    let exported = caseledger(
        url,
        dir,
        &[
            "audit",
            "export",
            "--aggregate-type",
            "EnterpriseCase",
            "--since",
            "2000-01-01T00:00:00Z",
            "--output",
            partial.to_str().unwrap(),
        ],
    );
    assert!(exported.status.success());
    let checked = Command::new("python3")
        .args([script, partial.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&checked.stdout).contains("(partial export)"));

    // One UPDATE on the events table by hand.
    tamper(
        url,
        "UPDATE events SET metadata = '{\"actor_sub\":\"someone-else\"}' WHERE sequence = 2",
    )
    .await;
    let failed = caseledger(url, dir, &["audit", "verify"]);
    assert_eq!(failed.status.code(), Some(1));
    let said = String::from_utf8_lossy(&failed.stdout);
    assert!(
        said.contains("AUDIT TRAIL BROKEN: event at position 2")
            && said.contains("#2) was modified"),
        "{said}"
    );
}

async fn tamper(url: &str, statement: &str) {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(statement).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(statement).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_user_journey_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    new_user_journey(format!(
        "sqlite://{}",
        dir.path().join("store/caseledger.db").display()
    ))
    .await;
}

/// A new, empty database on the test cluster; its URL.
async fn fresh_postgres_database() -> String {
    let admin = std::env::var("CASELEDGER_TEST_POSTGRES_URL")
        .expect("CASELEDGER_TEST_POSTGRES_URL is not set: run scripts/test, which starts a throwaway PostgreSQL");
    let name = format!("cli_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_user_journey_on_postgres() {
    new_user_journey(fresh_postgres_database().await).await;
}

async fn post(
    client: &reqwest::Client,
    url: String,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Two `serve` processes on one PostgreSQL: commands from both on one case serialise (each
/// applied or 409, no gap); when one process is killed, the other keeps projecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_postgres_and_survive_a_kill() {
    let url = fresh_postgres_database().await;
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path();
    stdout(&caseledger(&url, dir, &["migrate"]));
    let dispatcher = stdout(&caseledger(
        &url,
        dir,
        &["token", "--sub", "d-1", "--role", "dispatcher"],
    ));
    let (mut first, first_address) = serve(&url, dir);
    let (second, second_address) = serve(&url, dir);
    let client = reqwest::Client::new();
    let registration = serde_json::json!({
        "enterprise_id": "ent-0001", "title": "人才公寓", "description": "引进人才住房保障",
        "category": "talent", "urgency": "normal", "source": "hotline"
    });
    let (status, created) = post(
        &client,
        format!("http://{first_address}/api/v1/cases"),
        &dispatcher,
        registration.clone(),
    )
    .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap().to_owned();

    let mut tasks = Vec::new();
    for n in 0..20 {
        let address = if n % 2 == 0 {
            first_address.clone()
        } else {
            second_address.clone()
        };
        let client = client.clone();
        let url = format!("http://{address}/api/v1/cases/{id}/add-note");
        let dispatcher = dispatcher.clone();
        tasks.push(tokio::spawn(async move {
            post(
                &client,
                url,
                &dispatcher,
                serde_json::json!({"text": format!("note {n}")}),
            )
            .await
            .0
        }));
    }
    let mut applied = 0;
    for task in tasks {
        match task.await.unwrap() {
            200 => applied += 1,
            409 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(applied > 0);

    // Kill the first process outright; the second goes on projecting new writes.
    first.kill().unwrap();
    first.wait().unwrap();
    let (status, later) = post(
        &client,
        format!("http://{second_address}/api/v1/cases"),
        &dispatcher,
        registration,
    )
    .await;
    assert_eq!(status, 201);
    let position = later["position"].as_i64().unwrap();
    let later_id = later["id"].as_str().unwrap();
    let read = client
        .get(format!(
            "http://{second_address}/api/v1/cases/{later_id}?min_position={position}"
        ))
        .bearer_auth(&dispatcher)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let history: serde_json::Value = client
        .get(format!("http://{second_address}/api/v1/cases/{id}/history"))
        .bearer_auth(&dispatcher)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sequences: Vec<i64> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=1 + applied).collect::<Vec<i64>>());
    terminate(second);
    let intact = stdout(&caseledger(&url, dir, &["audit", "verify"]));
    assert!(intact.starts_with("audit trail intact"), "{intact}");
    let cleared = stdout(&caseledger(&url, dir, &["snapshots", "clear"]));
    assert!(cleared.starts_with("deleted 0 snapshots"), "{cleared}");
}

/// A drill policy in seconds, so deadlines pass while the test watches.
const DRILL_POLICY: &str = r#"
version = "drill.1"

[[rule]]
urgency = "normal"
accept = "3 seconds"
first_contact = "4 seconds"
respond = "5 seconds"
resolve = "6 seconds"
extension_cap = "0 seconds"

[[rule]]
urgency = "urgent"
accept = "3 seconds"
first_contact = "4 seconds"
respond = "5 seconds"
resolve = "6 seconds"
extension_cap = "0 seconds"
"#;

/// Counts of the timer events in a case's history, by type.
async fn timer_events(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    id: &str,
) -> (Vec<String>, usize, usize, usize) {
    let history: serde_json::Value = client
        .get(format!("http://{address}/api/v1/cases/{id}/history"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = history["events"].as_array().unwrap();
    let count = |kind: &str| events.iter().filter(|e| e["event_type"] == kind).count();
    let warnings: Vec<String> = events
        .iter()
        .filter(|e| e["event_type"] == "DeadlineWarning")
        .map(|e| e["payload"]["DeadlineWarning"].to_string())
        .collect();
    (
        warnings,
        count("DeadlineWarning"),
        count("DeadlineBreached"),
        count("CaseEscalated"),
    )
}

/// Two real servers fire the timers of the same cases while one is killed and another started:
/// every warning, breach and escalation is recorded exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_fire_once_across_two_servers_and_a_restart_on_postgres() {
    let data_dir = tempfile::tempdir().unwrap();
    timers_fire_once_across_two_servers_and_a_restart(
        fresh_postgres_database().await,
        data_dir.path(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_fire_once_across_two_servers_and_a_restart_on_sqlite() {
    let data_dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        data_dir.path().join("caseledger.db").display()
    );
    timers_fire_once_across_two_servers_and_a_restart(url, data_dir.path()).await;
}

async fn timers_fire_once_across_two_servers_and_a_restart(url: String, dir: &Path) {
    let url = url.as_str();
    stdout(&caseledger(url, dir, &["migrate"]));
    std::fs::write(dir.join("sla-policy.toml"), DRILL_POLICY).unwrap();
    let dispatcher = stdout(&caseledger(
        url,
        dir,
        &["token", "--sub", "d-1", "--role", "dispatcher"],
    ));
    let (mut first, first_address) = serve(url, dir);
    let (second, second_address) = serve(url, dir);
    let client = reqwest::Client::new();
    let mut cases = Vec::new();
    for n in 0..2 {
        let (status, created) = post(
            &client,
            format!("http://{first_address}/api/v1/cases"),
            &dispatcher,
            serde_json::json!({
                "enterprise_id": "ent-0001", "title": format!("演练 {n}"), "description": "限时演练",
                "category": "drill", "urgency": "normal", "source": "hotline"
            }),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let (status, dispatched) = post(
            &client,
            format!("http://{second_address}/api/v1/cases/{id}/dispatch"),
            &dispatcher,
            serde_json::json!({ "lead_department": "dept-commerce" }),
        )
        .await;
        assert_eq!(status, 200, "{dispatched}");
        cases.push(id);
    }

    // Kill the first server while timers fall due, then start a fresh one.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let (third, third_address) = serve(url, dir);

    // Every deadline passes; wait until all timers have fired (both servers race for them).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut done = true;
        for id in &cases {
            let (_, warnings, breaches, escalations) =
                timer_events(&client, &third_address, &dispatcher, id).await;
            done &= warnings >= 8 && breaches >= 4 && escalations >= 2;
        }
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timers did not all fire within a minute"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // Give the runners more passes to double-fire, if they could.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    for id in &cases {
        let (mut warnings, warning_count, breaches, escalations) =
            timer_events(&client, &second_address, &dispatcher, id).await;
        assert_eq!(
            (warning_count, breaches, escalations),
            (8, 4, 2),
            "case {id}"
        );
        warnings.sort();
        warnings.dedup_by(|a, b| {
            // Same deadline and threshold fired twice would differ only in `fired_at`.
            let key = |text: &str| {
                let value: serde_json::Value = serde_json::from_str(text).unwrap();
                (value["deadline"].clone(), value["threshold"].clone())
            };
            key(a) == key(b)
        });
        assert_eq!(warnings.len(), 8, "one warning per deadline and threshold");
    }
    terminate(second);
    terminate(third);
}

/// A new user's consultation: a pool of six, a panel of three drawn over HTTP; then, offline,
/// `caseledger consultations verify-draw` confirms the draw (and the independent Python
/// re-implementation agrees), and after one pool entry of the recorded snapshot is changed by
/// hand it exits 1 and names the mismatch.
async fn consultation_draw_verifies_from_the_cli(url: String) {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path();
    stdout(&caseledger(&url, dir, &["migrate"]));
    let secretary = stdout(&caseledger(
        &url,
        dir,
        &["token", "--sub", "sec-wu", "--role", "panel_secretary"],
    ));
    let head = stdout(&caseledger(
        &url,
        dir,
        &[
            "token",
            "--sub",
            "head-liu",
            "--role",
            "department_head",
            "--org",
            "dept-development-reform",
        ],
    ));
    let client = reqwest::Client::new();
    let (server, address) = serve(&url, dir);
    let api = |path: &str| format!("http://{address}/api/v1{path}");
    for i in 1..=6 {
        let (status, body) = post(
            &client,
            api("/experts"),
            &secretary,
            serde_json::json!({
                "expert_id": format!("expert-{i}"), "name": format!("专家{i}"),
                "disciplines": ["finance"], "employer_unit": format!("univ-{i}")
            }),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, submitted) = post(
        &client,
        api("/consultations"),
        &head,
        serde_json::json!({
            "topic_type": "investment_project", "title": "产业园投资论证",
            "questions": ["是否可行？"], "confidentiality": "internal",
            "disciplines": ["finance"], "panel_size": 3, "deadline": "2099-01-01"
        }),
    )
    .await;
    assert_eq!(status, 201, "{submitted}");
    let id = submitted["id"].as_str().unwrap().to_owned();
    let (status, _) = post(
        &client,
        api(&format!("/consultations/{id}/accept")),
        &secretary,
        serde_json::json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, drawn) = post(
        &client,
        api(&format!("/consultations/{id}/draw")),
        &secretary,
        serde_json::json!({"alternates": 2}),
    )
    .await;
    assert_eq!(status, 200, "{drawn}");
    terminate(server);

    let verified = stdout(&caseledger(
        &url,
        dir,
        &["consultations", "verify-draw", &id],
    ));
    assert!(verified.contains("draw verified: pool hash"), "{verified}");

    // The independent re-implementation agrees with the recorded draw.
    let payload = event_payload(&url, "PanelDrawn").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/verify-draw.py");
    let mut python = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut python.stdin.take().unwrap(), payload.as_bytes()).unwrap();
    let checked = python.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );

    // One pool entry of the recorded snapshot changed by hand.
    let statement = if url.starts_with("postgres") {
        "UPDATE events SET payload = jsonb_set(payload, '{PanelDrawn,pool,2,employer_unit}', '\"univ-forged\"') \
          WHERE event_type = 'PanelDrawn'"
    } else {
        "UPDATE events SET payload = json_set(payload, '$.PanelDrawn.pool[2].employer_unit', 'univ-forged') \
          WHERE event_type = 'PanelDrawn'"
    };
    tamper(&url, statement).await;
    let failed = caseledger(&url, dir, &["consultations", "verify-draw", &id]);
    assert_eq!(failed.status.code(), Some(1));
    let said = String::from_utf8_lossy(&failed.stdout);
    assert!(said.contains("DRAW NOT VERIFIED: pool_hash:"), "{said}");
    assert!(
        said.contains("FAIL pool_at_draw: expert-3 differs"),
        "{said}"
    );

    let unknown = caseledger(
        &url,
        dir,
        &[
            "consultations",
            "verify-draw",
            "0190c0de-0000-7000-8000-000000000000",
        ],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no consultation request"));
}

/// The payload (JSON text) of the one event of type `event_type`.
async fn event_payload(url: &str, event_type: &str) -> String {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let payload: String =
            sqlx::query_scalar("SELECT payload::text FROM events WHERE event_type = $1")
                .bind(event_type)
                .fetch_one(&pool)
                .await
                .unwrap();
        pool.close().await;
        payload
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let payload: String =
            sqlx::query_scalar("SELECT payload FROM events WHERE event_type = $1")
                .bind(event_type)
                .fetch_one(&pool)
                .await
                .unwrap();
        pool.close().await;
        payload
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consultation_draw_verifies_from_the_cli_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    consultation_draw_verifies_from_the_cli(format!(
        "sqlite://{}",
        dir.path().join("caseledger.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consultation_draw_verifies_from_the_cli_on_postgres() {
    consultation_draw_verifies_from_the_cli(fresh_postgres_database().await).await;
}

/// `caseledger rewards audit` against a program driven over HTTP: a program approved, a
/// nomination submitted and found ineligible; the audit in JSON and CSV flags nothing and exits
/// 0; after the eligibility reason is blanked by hand in the events table it names
/// `missing_reason` and exits 1; an unknown program is an error.
async fn reward_audit_from_the_cli(url: String) {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path();
    stdout(&caseledger(&url, dir, &["migrate"]));
    let office = stdout(&caseledger(
        &url,
        dir,
        &["token", "--sub", "ro-chen", "--role", "reward_office"],
    ));
    let authority = stdout(&caseledger(
        &url,
        dir,
        &[
            "token",
            "--sub",
            "mayor-li",
            "--role",
            "approving_authority",
        ],
    ));
    let client = reqwest::Client::new();
    let (server, address) = serve(&url, dir);
    let api = |path: &str| format!("http://{address}/api/v1{path}");
    let (status, created) = post(
        &client,
        api("/reward-programs"),
        &office,
        serde_json::json!({
            "title": "2026年度科技创新重奖", "cycle": "2026", "quota": 2,
            "tiers": [{"code": "first", "name": "一等奖", "min_amount": 100000, "max_amount": 200000}],
            "criteria": [{"code": "contribution", "name": "经济贡献", "weight": 1, "min_score": 0, "max_score": 100}],
            "trim": 1, "notice_working_days": 5, "reviewers": 3, "disciplines": ["economics"],
            "committee_size": 5, "committee_quorum": 3,
            "committee": ["member-1", "member-2", "member-3", "member-4", "member-5"],
            "reward_office_unit": "district-reward-office", "reward_office_staff": ["ro-chen"]
        }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let program = created["id"].as_str().unwrap().to_owned();
    let (status, _) = post(
        &client,
        api(&format!("/reward-programs/{program}/approve")),
        &authority,
        serde_json::json!({"document_number": "区委〔2026〕8号"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, nominated) = post(
        &client,
        api("/nominations"),
        &office,
        serde_json::json!({"program_id": program,
            "nominee": {"kind": "unit", "name": "区机械厂", "unit": "区机械厂"},
            "summary": "技术改造成效显著", "reason": "贡献突出"}),
    )
    .await;
    assert_eq!(status, 201, "{nominated}");
    let nomination = nominated["id"].as_str().unwrap().to_owned();
    let (status, _) = post(
        &client,
        api(&format!("/nominations/{nomination}/decide-eligibility")),
        &office,
        serde_json::json!({"eligible": false,
            "checklist": [{"item": "在本区注册满两年", "passed": false}],
            "reason": "注册不满两年"}),
    )
    .await;
    assert_eq!(status, 200);
    terminate(server);

    let json = stdout(&caseledger(&url, dir, &["rewards", "audit", &program]));
    let audit: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(audit["flag_count"], 0, "{audit:#}");
    assert_eq!(audit["nominations"][0]["status"], "ineligible");
    let csv = stdout(&caseledger(
        &url,
        dir,
        &["rewards", "audit", &program, "--format", "csv"],
    ));
    assert!(csv.starts_with("section,nomination_id,nominee,sequence,at,actor,event,detail"));
    assert!(csv.contains("EligibilityDecided"));

    let statement = if url.starts_with("postgres") {
        "UPDATE events SET payload = jsonb_set(payload, '{EligibilityDecided,reason}', '\"\"') \
          WHERE event_type = 'EligibilityDecided'"
    } else {
        "UPDATE events SET payload = json_set(payload, '$.EligibilityDecided.reason', '') \
          WHERE event_type = 'EligibilityDecided'"
    };
    tamper(&url, statement).await;
    let flagged = caseledger(
        &url,
        dir,
        &["rewards", "audit", &program, "--format", "csv"],
    );
    assert_eq!(flagged.status.code(), Some(1));
    let said = String::from_utf8_lossy(&flagged.stdout);
    assert!(
        said.contains("flag,") && said.contains("missing_reason"),
        "{said}"
    );

    let unknown = caseledger(
        &url,
        dir,
        &["rewards", "audit", "0190c0de-0000-7000-8000-000000000000"],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no reward program"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reward_audit_from_the_cli_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    reward_audit_from_the_cli(format!(
        "sqlite://{}",
        dir.path().join("caseledger.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reward_audit_from_the_cli_on_postgres() {
    reward_audit_from_the_cli(fresh_postgres_database().await).await;
}

/// `caseledger` run from `cwd` with no database URL, data directory or secret in its
/// environment: only the flags given say where things are.
fn bare_command(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("CASELEDGER_DATABASE_URL")
        .env_remove("CASELEDGER_DATA_DIR")
        .env_remove("CASELEDGER_JWT_SECRET")
        .env_remove("CASELEDGER_LISTEN")
        .env_remove("CASELEDGER_LOG_FORMAT");
    command
}

/// The optional `<data dir>/caseledger.toml` is read, the environment overrides it and a flag
/// overrides both; a token secret configured there is the one `token` signs with (no
/// `jwt-secret` file is made, and `token` does not refuse).
#[test]
fn the_config_file_is_a_layer_under_the_environment_and_the_flags() {
    let data_dir = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();
    let database = |name: &str| format!("sqlite://{}", data_dir.path().join(name).display());
    std::fs::write(
        data_dir.path().join("caseledger.toml"),
        format!(
            "database_url = \"{}\"\njwt_secret = \"a-secret-from-the-file-0123456789abcdef\"\n",
            database("from-file.db")
        ),
    )
    .unwrap();

    let migrate = |env: Option<&str>, flag: Option<&str>| {
        let mut args = vec!["migrate", "--data-dir", dir];
        if let Some(flag) = flag {
            args.extend(["--database-url", flag]);
        }
        let mut command = bare_command(cwd.path(), &args);
        if let Some(env) = env {
            command.env("CASELEDGER_DATABASE_URL", env);
        }
        stdout(&command.output().unwrap())
    };
    assert_eq!(
        migrate(None, None),
        format!("schema is up to date ({})", database("from-file.db"))
    );
    assert_eq!(
        migrate(Some(&database("from-env.db")), None),
        format!("schema is up to date ({})", database("from-env.db"))
    );
    assert_eq!(
        migrate(
            Some(&database("from-env.db")),
            Some(&database("from-flag.db"))
        ),
        format!("schema is up to date ({})", database("from-flag.db"))
    );
    for name in ["from-file.db", "from-env.db", "from-flag.db"] {
        assert!(data_dir.path().join(name).exists(), "{name}");
    }
    assert!(!data_dir.path().join("caseledger.db").exists());
    assert!(
        !data_dir.path().join("jwt-secret").exists(),
        "the file's secret is used, none is generated"
    );
    let token = bare_command(
        cwd.path(),
        &[
            "token",
            "--data-dir",
            dir,
            "--sub",
            "d-1",
            "--role",
            "dispatcher",
        ],
    )
    .output()
    .unwrap();
    assert!(stdout(&token).starts_with("ey"));
}

/// The quick-start trap (issue 14 item 8): `--data-dir X` alone keeps the database in X (not in
/// `./data/` of wherever `serve` was started), and a token minted from another directory with
/// the same `--data-dir` is signed with the secret `serve` uses, so the server accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dir_alone_holds_the_database_and_the_secret_tokens_are_signed_with() {
    let data_dir = tempfile::tempdir().unwrap();
    let serve_cwd = tempfile::tempdir().unwrap();
    let token_cwd = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();

    let (server, address) = listening(
        bare_command(
            serve_cwd.path(),
            &["serve", "--listen", "127.0.0.1:0", "--data-dir", dir],
        ),
        None,
    );
    assert!(
        data_dir.path().join("caseledger.db").exists(),
        "the database belongs in the data directory"
    );
    assert!(
        !serve_cwd.path().join("data").exists(),
        "serve --data-dir must not create ./data in its working directory"
    );
    assert!(data_dir.path().join("jwt-secret").exists());

    let token = bare_command(
        token_cwd.path(),
        &[
            "token",
            "--data-dir",
            dir,
            "--sub",
            "d-1",
            "--role",
            "dispatcher",
        ],
    )
    .output()
    .unwrap();
    let token = stdout(&token);
    assert!(!token_cwd.path().join("data").exists());
    let response = reqwest::Client::new()
        .get(format!("http://{address}/api/v1/cases"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    terminate(server);
    assert_eq!(status, 200, "{body}");
}

/// `token` never makes up a secret: in a data directory without one (and without
/// CASELEDGER_JWT_SECRET) it fails, says what to do, and writes nothing.
#[test]
fn token_refuses_to_invent_a_secret_serve_does_not_use() {
    let data_dir = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();
    for args in [
        vec![
            "token",
            "--data-dir",
            dir,
            "--sub",
            "d-1",
            "--role",
            "dispatcher",
        ],
        vec!["token", "--sub", "d-1", "--role", "dispatcher"],
    ] {
        let output = bare_command(cwd.path(), &args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} minted a token");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(stderr.contains("no token secret at"), "{stderr}");
        assert!(stderr.contains("--data-dir"), "{stderr}");
        assert!(stderr.contains("CASELEDGER_JWT_SECRET"), "{stderr}");
    }
    assert!(!data_dir.path().join("jwt-secret").exists());
    assert!(!cwd.path().join("data").exists());

    // With an explicit secret no data directory is needed.
    let output = bare_command(
        cwd.path(),
        &[
            "token",
            "--data-dir",
            dir,
            "--sub",
            "d-1",
            "--role",
            "dispatcher",
        ],
    )
    .env(
        "CASELEDGER_JWT_SECRET",
        "a-secret-of-thirty-two-bytes-or-more",
    )
    .output()
    .unwrap();
    assert!(!stdout(&output).is_empty());
    assert!(!data_dir.path().join("jwt-secret").exists());
}

/// `caseledger` with the token secret `secret` in the environment (a rotated secret).
fn with_secret(url: &str, data_dir: &Path, secret: &str, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("CASELEDGER_DATABASE_URL", url)
        .env("CASELEDGER_DATA_DIR", data_dir)
        .env("CASELEDGER_JWT_SECRET", secret);
    command
}

fn token_with_secret(url: &str, data_dir: &Path, secret: &str, args: &[&str]) -> String {
    let mut all = vec!["token"];
    all.extend_from_slice(args);
    stdout(&with_secret(url, data_dir, secret, &all).output().unwrap())
}

/// Rotating the token secret (after a leak, say) leaves the rater keys of an open appraisal
/// campaign unchanged: they are keyed with `<data_dir>/rater-key-secret`, a secret of their own,
/// so a rater who comes back with a token signed by the new secret cannot cast a second ballot.
async fn rotating_the_token_secret_keeps_rater_keys(url: String) {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path();
    let old_secret = "old-token-secret-0123456789abcdef";
    let new_secret = "new-token-secret-fedcba9876543210";
    let client = reqwest::Client::new();

    let (server, address) = listening(
        with_secret(&url, dir, old_secret, &["serve", "--listen", "127.0.0.1:0"]),
        None,
    );
    let rater_secret = dir.join("rater-key-secret");
    assert!(rater_secret.exists(), "serve creates the rater-key secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&rater_secret)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the rater-key secret is private");
    }
    let dispatcher = token_with_secret(
        &url,
        dir,
        old_secret,
        &[
            "--sub",
            "d-1",
            "--role",
            "dispatcher",
            "--org",
            "dept-business-environment",
        ],
    );
    let (status, created) = post(
        &client,
        format!("http://{address}/api/v1/appraisals"),
        &dispatcher,
        serde_json::json!({
            "title": "2026年第四季度公开评议", "title_en": "Appraisal 2026 Q4", "period": "2026-Q4",
            "departments": ["dept-commerce"],
            "rater_groups": [{ "id": "enterprises", "name": "企业代表", "name_en": "Enterprises",
                               "weight": 100, "roles": ["enterprise"] }],
            "dimensions": [{ "id": "lawful", "name": "依法行政", "name_en": "Lawful administration" }],
            "kpi_weight": 0
        }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let campaign = created["id"].as_str().unwrap().to_owned();
    let (status, opened) = post(
        &client,
        format!("http://{address}/api/v1/appraisals/{campaign}/open"),
        &dispatcher,
        serde_json::json!({}),
    )
    .await;
    assert_eq!(status, 200, "{opened}");
    let ballot = serde_json::json!({
        "department": "dept-commerce", "rater_group": "enterprises", "scores": { "lawful": 80 }
    });
    let rater_args = [
        "--sub",
        "ent-user-1",
        "--role",
        "enterprise",
        "--org",
        "ent-0001",
    ];
    let rater = token_with_secret(&url, dir, old_secret, &rater_args);
    let ballots = format!("http://{address}/api/v1/appraisals/{campaign}/ballots");
    let (status, first) = post(&client, ballots.clone(), &rater, ballot.clone()).await;
    assert_eq!(status, 200, "{first}");
    terminate(server);

    let (server, address) = listening(
        with_secret(&url, dir, new_secret, &["serve", "--listen", "127.0.0.1:0"]),
        None,
    );
    let rotated_rater = token_with_secret(&url, dir, new_secret, &rater_args);
    let ballots = format!("http://{address}/api/v1/appraisals/{campaign}/ballots");
    let (status, second) = post(&client, ballots, &rotated_rater, ballot).await;
    assert_eq!(status, 409, "a second ballot after the rotation: {second}");
    assert_eq!(second["code"], "ballot_already_cast", "{second}");
    terminate(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_token_secret_keeps_rater_keys_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    rotating_the_token_secret_keeps_rater_keys(format!(
        "sqlite://{}",
        dir.path().join("caseledger.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_token_secret_keeps_rater_keys_on_postgres() {
    rotating_the_token_secret_keeps_rater_keys(fresh_postgres_database().await).await;
}

/// A secret of 32 bytes and more, for the identity tests.
const IDENTITY_SECRET: &str = "identity-test-secret-0123456789abcdef";

/// The maximum token lifetime caps `token --ttl` (with a clear error), and a secret shorter than
/// 32 bytes is refused, from the environment and from the data directory's file.
#[test]
fn token_lifetime_is_capped_and_short_secrets_are_refused() {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();
    let args = [
        "token",
        "--data-dir",
        dir,
        "--sub",
        "d-1",
        "--role",
        "dispatcher",
        "--ttl",
        "13h",
    ];
    let refused = bare_command(data_dir.path(), &args)
        .env("CASELEDGER_JWT_SECRET", IDENTITY_SECRET)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(refused.stdout.is_empty());
    assert!(
        stderr.contains("exceeds the maximum token lifetime")
            && stderr.contains("CASELEDGER_TOKEN_MAX_TTL"),
        "{stderr}"
    );
    let allowed = bare_command(data_dir.path(), &args)
        .env("CASELEDGER_JWT_SECRET", IDENTITY_SECRET)
        .env("CASELEDGER_TOKEN_MAX_TTL", "1d")
        .output()
        .unwrap();
    assert!(!stdout(&allowed).is_empty());

    let short = bare_command(data_dir.path(), &args[..7])
        .env("CASELEDGER_JWT_SECRET", "only-twenty-bytes-xx")
        .output()
        .unwrap();
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("at least 32 bytes"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    std::fs::write(data_dir.path().join("jwt-secret"), "only-twenty-bytes-xx").unwrap();
    let short = bare_command(data_dir.path(), &args[..7]).output().unwrap();
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("shorter than 32 bytes"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
}

/// Starts a prepared `serve` command and returns it with its public address and, when it
/// printed one, its admin listener's address.
fn listening_with_admin(mut command: Command) -> (Child, String, Option<String>) {
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut admin = None;
    let address = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(rest) = line.split("detailed /readyz on http://").nth(1) {
            admin = Some(rest.split_whitespace().next().unwrap().to_owned());
        }
        if let Some(rest) = line.split("is serving on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, address, admin)
}

fn identity_serve(url: &str, data_dir: &Path, variables: &[(&str, &str)]) -> Command {
    let mut command = with_secret(
        url,
        data_dir,
        IDENTITY_SECRET,
        &["serve", "--listen", "127.0.0.1:0"],
    );
    for (name, value) in variables {
        command.env(name, value);
    }
    command
}

/// Two real `serve` processes over one database: an admin revokes alice on the first, and the
/// second refuses her token at once (the check reads the log); the first serves its operations
/// endpoints on CASELEDGER_ADMIN_LISTEN only, the second to admins; a third, configured for an
/// OIDC issuer, refuses local tokens.
async fn identity_across_server_processes(url: String) {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path();
    let token = |sub: &str, role: &str| {
        token_with_secret(&url, dir, IDENTITY_SECRET, &["--sub", sub, "--role", role])
    };
    let (admin_token, alice) = (token("root-admin", "admin"), token("alice", "dispatcher"));
    let (first, first_address, first_admin) = listening_with_admin(identity_serve(
        &url,
        dir,
        &[("CASELEDGER_ADMIN_LISTEN", "127.0.0.1:0")],
    ));
    let first_admin = first_admin.expect("the admin listener's address");
    let (second, second_address, none) = listening_with_admin(identity_serve(&url, dir, &[]));
    assert!(none.is_none());
    let client = reqwest::Client::new();
    let get = |address: &str, path: &str, token: Option<&str>| {
        let mut request = client.get(format!("http://{address}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    for address in [&first_address, &second_address] {
        assert_eq!(
            get(address, "/api/v1/departments", Some(&alice)).await.0,
            200
        );
    }

    let revoked = client
        .post(format!("http://{first_address}/api/v1/admin/revocations"))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({"sub": "alice", "reason": "account closed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 201, "{}", revoked.text().await.unwrap());
    for address in [&first_address, &second_address] {
        let (status, body) = get(address, "/api/v1/departments", Some(&alice)).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("token_revoked"), "{body}");
    }

    // Operations: the first process on its admin listener only, the second to admins.
    assert_eq!(
        get(&first_address, "/metrics", Some(&admin_token)).await.0,
        404
    );
    let (status, metrics) = get(&first_admin, "/metrics", None).await;
    assert_eq!(status, 200);
    assert!(metrics.contains("caseledger_projection_lag_events"));
    assert_eq!(get(&second_address, "/metrics", None).await.0, 401);
    assert_eq!(
        get(&second_address, "/metrics", Some(&admin_token)).await.0,
        200
    );
    let (status, bare) = get(&second_address, "/readyz", None).await;
    assert_eq!((status, bare.as_str()), (200, r#"{"status":"ready"}"#));

    // A server configured for OIDC (its issuer down: it starts all the same) refuses local
    // tokens unless CASELEDGER_LOCAL_TOKENS=allow.
    let (third, third_address, _) = listening_with_admin(identity_serve(
        &url,
        dir,
        &[
            ("CASELEDGER_OIDC_ISSUER", "http://127.0.0.1:9/realms/down"),
            ("CASELEDGER_OIDC_AUDIENCE", "caseledger"),
        ],
    ));
    let (status, body) = get(&third_address, "/api/v1/departments", Some(&admin_token)).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("local_tokens_refused"), "{body}");
    terminate(third);
    terminate(second);
    terminate(first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_across_server_processes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    identity_across_server_processes(format!(
        "sqlite://{}",
        dir.path().join("caseledger.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_across_server_processes_on_postgres() {
    identity_across_server_processes(fresh_postgres_database().await).await;
}
