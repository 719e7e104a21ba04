//! The served contract holds for what the server really answers (issue 14 item 5): a bounded
//! schemathesis run against `caseledger serve` on SQLite and on PostgreSQL finds no 5xx, no
//! answer outside its documented schema and no undocumented status code.
//!
//! The server is seeded first (a subject, a case, a portfolio, an expert, a consultation, an
//! appraisal campaign, an approved reward program and a nomination) and schemathesis draws path
//! ids and a few body ids from those, so commands and reads get past 404 to their rules. The
//! staff token carries every role but `enterprise` (tokens minted by `caseledger token`), so role
//! checks pass and the rules behind them are exercised; the seeded subject's own `enterprise`
//! token runs the same operations again (its cases, its rating, and the 403 paths).
//!
//! Bounded: deterministic generation (fixed data, no seed drift), at most `MAX_EXAMPLES` cases
//! per operation and phase, one worker. The report goes to `target/artifacts/schemathesis-*`.
//!
//! schemathesis is the Python package (scripts/test installs it, pinned, with pip when it is
//! missing; see scripts/lib/schemathesis.sh). `SCHEMATHESIS` may name its command; otherwise
//! `schemathesis` on the PATH, then `python3 -m schemathesis.cli`. Like PostgreSQL, it never skips.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Instant;

use serde_json::{json, Value};

mod support;

use support::{listening, run_ok as caseledger, serve_command};

/// Test cases per operation and phase: enough to reach every documented branch the seeded data
/// allows, few enough that both stores together take a few minutes on two cores.
const MAX_EXAMPLES: &str = "12";

/// The checks: no server error, every answer's status documented, its body valid against the
/// documented schema, its content type the documented one.
const CHECKS: &str =
    "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance";

/// Every role of DOMAIN.md but `enterprise` (which narrows what a token may do to its own
/// subject; the enterprise's own token runs separately).
const STAFF_ROLES: [&str; 12] = [
    "district_leader",
    "liaison_officer",
    "dispatcher",
    "department_handler",
    "department_head",
    "expert",
    "panel_secretary",
    "reward_office",
    "committee_member",
    "approving_authority",
    "auditor",
    "admin",
];

const DEPARTMENT: &str = "dept-commerce";
const SUBJECT: &str = "ent-conformance";

/// A token minted by `caseledger token`.
fn token(url: &str, data_dir: &Path, sub: &str, roles: &[&str], org: &str) -> String {
    let mut args = vec!["token", "--sub", sub, "--org", org];
    for role in roles {
        args.extend(["--role", role]);
    }
    caseledger(url, data_dir, &args)
}

/// A running `caseledger serve`, killed when dropped (also when a seeding step panics).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `caseledger serve` on a free port, with the address it printed.
fn serve(url: &str, data_dir: &Path, log: PathBuf) -> (Server, String) {
    let mut command = serve_command(url, data_dir);
    // One client sends every case of every operation: under the rate limits most of them
    // would be answered 429 (documented, and tested in tests/integration/protection.rs) and
    // the rules behind them never reached.
    command
        .env("CASELEDGER_RATE_PUBLIC", "off")
        .env("CASELEDGER_RATE_OBJECTIONS", "off")
        .env("CASELEDGER_RATE_AUTH_FAILURES", "off");
    // The server's request log goes to the artifacts: it shows what each status answered.
    let (child, address) = listening(command, Some(log));
    (Server(child), address)
}

/// The schemathesis command: `SCHEMATHESIS`, the `schemathesis` script, or the Python module.
fn schemathesis() -> Command {
    if let Ok(command) = std::env::var("SCHEMATHESIS") {
        return Command::new(command);
    }
    let runs = |command: &mut Command| {
        command
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if runs(&mut Command::new("schemathesis")) {
        return Command::new("schemathesis");
    }
    if runs(Command::new("python3").args(["-m", "schemathesis.cli"])) {
        let mut command = Command::new("python3");
        command.args(["-m", "schemathesis.cli"]);
        return command;
    }
    panic!(
        "schemathesis is not installed: run `python3 -m pip install schemathesis==4.32.5` \
         (scripts/test does this when it is missing) or set SCHEMATHESIS to its command"
    );
}

/// Seeds one resource of each kind over HTTP; returns the ids by path parameter name.
async fn seed(base: &str, token: &str) -> Vec<(&'static str, String)> {
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let request = client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body);
        let path = path.to_owned();
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let answer: Value = response.json().await.unwrap();
            assert!(status.is_success(), "seeding {path}: {status} {answer}");
            answer
        }
    };
    let id = |answer: Value| answer["id"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();

    post(
        "/api/v1/subjects",
        json!({"id": SUBJECT, "name": "示范企业", "kind": "private_enterprise",
               "contact": {"person": "张三", "phone": "+86 10 1234 5678"}}),
    )
    .await;
    ids.push(("subject_id", SUBJECT.to_owned()));
    let case = post(
        "/api/v1/cases",
        json!({"enterprise_id": SUBJECT, "title": "用地审批", "description": "厂房扩建用地审批进度慢",
               "category": "land", "urgency": "normal", "source": "liaison_visit"}),
    )
    .await;
    ids.push(("case_id", id(case)));
    let portfolio = post(
        "/api/v1/portfolios",
        json!({"owner_kind": "department", "owner_id": DEPARTMENT, "owner_name": "区商务局"}),
    )
    .await;
    ids.push(("portfolio_id", id(portfolio)));
    for (expert, unit) in [
        ("expert-a", "univ-a"),
        ("expert-b", "univ-b"),
        ("expert-c", "univ-c"),
    ] {
        post(
            "/api/v1/experts",
            json!({"expert_id": expert, "name": "专家", "disciplines": ["finance"],
                   "employer_unit": unit}),
        )
        .await;
        ids.push(("expert_id", expert.to_owned()));
    }
    let consultation = post(
        "/api/v1/consultations",
        json!({"topic_type": "investment_project", "title": "投资项目论证",
               "questions": ["回报是否合理？"], "confidentiality": "internal",
               "disciplines": ["finance"], "panel_size": 3, "deadline": "2099-12-31"}),
    )
    .await;
    ids.push(("consultation_id", id(consultation)));
    let appraisal = post(
        "/api/v1/appraisals",
        json!({"title": "公开评议", "title_en": "Appraisal", "period": "2026-Q4",
               "departments": [DEPARTMENT, "dept-market-regulation"],
               "rater_groups": [
                   {"id": "enterprises", "name": "企业", "name_en": "Enterprises", "weight": 60,
                    "roles": ["enterprise"]},
                   {"id": "leaders", "name": "区领导", "name_en": "Leaders", "weight": 40,
                    "roles": ["district_leader"]}],
               "dimensions": [{"id": "lawful", "name": "依法行政", "name_en": "Lawful"}],
               "kpi_weight": 40}),
    )
    .await;
    ids.push(("appraisal_id", id(appraisal)));
    let program = id(post(
        "/api/v1/reward-programs",
        json!({"title": "科技创新重奖", "cycle": "2026", "quota": 3,
               "tiers": [{"code": "first", "name": "一等奖", "min_amount": 100000, "max_amount": 200000}],
               "criteria": [{"code": "contribution", "name": "经济贡献", "weight": 1,
                             "min_score": 0, "max_score": 100}],
               "trim": 0, "notice_working_days": 5, "reviewers": 3, "alternates": 0,
               "disciplines": ["finance"], "committee_size": 3, "committee_quorum": 2,
               "committee": ["member-1", "member-2", "member-3"],
               "reward_office_unit": "district-reward-office"}),
    )
    .await);
    post(
        &format!("/api/v1/reward-programs/{program}/approve"),
        json!({"document_number": "区委〔2026〕8号"}),
    )
    .await;
    let nomination = post(
        "/api/v1/nominations",
        json!({"program_id": program, "nominee": {"kind": "unit", "name": "示范企业", "unit": "示范企业"},
               "summary": "年新增产值1.2亿元。", "reason": "贡献突出"}),
    )
    .await;
    ids.push(("program_id", program));
    ids.push(("nomination_id", id(nomination)));
    ids.push(("department_id", DEPARTMENT.to_owned()));
    ids
}

/// The schemathesis configuration: path ids (and the ids some bodies name) drawn from the
/// seeded ones most of the time, generated ones otherwise.
fn config(ids: &[(&'static str, String)]) -> String {
    let mut dictionaries = String::new();
    let mut parameters = String::from("[parameters]\n");
    let mut names: Vec<&str> = ids.iter().map(|(name, _)| *name).collect();
    names.dedup();
    for name in names {
        let values: Vec<String> = ids
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, value)| format!("{value:?}"))
            .collect();
        dictionaries.push_str(&format!(
            "[dictionaries.{name}]\nvalues = [{}]\n\n",
            values.join(", ")
        ));
        parameters.push_str(&format!(
            "\"path.{name}\" = {{ dictionary = \"{name}\", probability = 0.9 }}\n"
        ));
    }
    for (field, dictionary) in [
        ("enterprise_id", "subject_id"),
        ("subject_id", "subject_id"),
        ("case_id", "case_id"),
        ("program_id", "program_id"),
        ("expert_id", "expert_id"),
        ("lead_department", "department_id"),
        ("department", "department_id"),
    ] {
        parameters.push_str(&format!(
            "\"body.{field}\" = {{ dictionary = \"{dictionary}\", probability = 0.7 }}\n"
        ));
    }
    format!("{dictionaries}{parameters}")
}

/// The line after `heading` in the summary schemathesis prints (`Tested: 127` is on its line,
/// `Test cases:` has its figures on the next).
fn figure(output: &str, heading: &str) -> String {
    let mut lines = output.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix(heading) {
            let rest = rest.trim();
            return if rest.is_empty() {
                lines.next().unwrap_or("?").to_owned()
            } else {
                rest.to_owned()
            };
        }
    }
    "?".to_owned()
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

async fn conformance(url: String, store: &str) {
    let started = Instant::now();
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path();
    caseledger(&url, dir, &["migrate"]);
    let everyone = token(&url, dir, "conformance", &STAFF_ROLES, DEPARTMENT);
    let enterprise = token(&url, dir, "ent-user", &["enterprise"], SUBJECT);
    let (server, address) = serve(&url, dir, artifacts().join(format!("server-{store}.log")));
    let base = format!("http://{address}");
    let ids = seed(&base, &everyone).await;
    let config_file = dir.join("schemathesis.toml");
    std::fs::write(&config_file, config(&ids)).unwrap();

    // Revoking sessions is run last and alone: schemathesis reuses values it saw in answers
    // (`revoked_by: "conformance"`), so in the main runs it revoked the staff token's own `sub`
    // and every later request was answered 401 (91 operations went untested that way).
    let revocations = "/api/v1/admin/revocations";
    let all_but_revocations = ["--exclude-path", revocations];
    let only_revocations = ["--include-path-regex", "^/api/v1/admin/revocations"];
    let mut failures = Vec::new();
    for (who, token, selection) in [
        ("staff", &everyone, all_but_revocations),
        ("enterprise", &enterprise, all_but_revocations),
        ("staff revoking sessions", &everyone, only_revocations),
    ] {
        let report = artifacts().join(format!("schemathesis-{store}-{}", who.replace(' ', "-")));
        let run_started = Instant::now();
        let output = schemathesis()
            .arg("--config-file")
            .arg(&config_file)
            .args(["run", &format!("{base}/openapi.json")])
            .args(["--checks", CHECKS])
            .args(["--max-examples", MAX_EXAMPLES])
            // Deterministic generation keeps no example database: every run starts from the
            // same state. Its cache goes to the temporary directory.
            .args(["--generation-deterministic", "--workers", "1"])
            .current_dir(dir)
            .args(["--suppress-health-check", "all"])
            .args(["--request-timeout", "30"])
            // An event stream stays open until the client leaves, so every example would end in
            // the request timeout; tests/integration/feed_http.rs drives it over real HTTP.
            .args(["--exclude-path", "/api/v1/feed/stream"])
            .args(selection)
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--report", "junit", "--report-dir"])
            .arg(&report)
            .args(["--no-color"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        std::fs::write(report.with_extension("txt"), format!("{stdout}\n{stderr}")).unwrap();
        eprintln!(
            "schemathesis on {store} as {who}: {} operations tested; test cases: {}; {:.0?}",
            figure(&stdout, "Tested:"),
            figure(&stdout, "Test cases:"),
            run_started.elapsed()
        );
        if !output.status.success() {
            failures.push(format!(
                "as {who} ({}):\n{stdout}\n{stderr}",
                report.display()
            ));
        }
        // A token refused outright tests nothing behind it: no operation may answer only 401
        // (but in the last run, which may revoke its own token on purpose).
        if selection == all_but_revocations && stdout.contains("401 Unauthorized (") {
            failures.push(format!(
                "as {who}, operations answered only 401 ({}):\n{stdout}",
                report.display()
            ));
        }
    }
    drop(server);
    eprintln!("conformance on {store}: {:.0?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "schemathesis found answers outside the contract on {store}:\n{}",
        failures.join("\n")
    );
}

/// One store at a time: each run is timed, and two at once would only share the two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
async fn the_contract_holds_for_what_the_server_answers_on_sqlite() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/conformance.db", dir.path().display());
    conformance(url, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_contract_holds_for_what_the_server_answers_on_postgres() {
    let _one = ONE_AT_A_TIME.lock().await;
    let admin = std::env::var("CASELEDGER_TEST_POSTGRES_URL").expect(
        "CASELEDGER_TEST_POSTGRES_URL is not set: run scripts/test, which starts a throwaway PostgreSQL",
    );
    let name = format!("conformance_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').unwrap();
    conformance(format!("{base}/{name}"), "postgres").await;
}
