//! The public appraisal page `/public/appraisals/{id}`: server-rendered HTML that a citizen
//! reads on a phone or a desktop, without JavaScript. Chinese by default, English with
//! `?lang=en`, and a link to switch on every page. The ranking, the grades, inline SVG bar
//! charts of the per-dimension and per-group breakdown, the KPI key figures, the desensitised
//! comments and the rectification status come from the same report as the public JSON
//! ([`crate::appraisals::PublicAppraisalBody`]), so the page can never show more than it.
//!
//! The markup is a `maud` template: checked at compile time, and every value put into it is
//! escaped by construction (there is no hand-written escaper to forget). The page loads nothing
//! from elsewhere (styles inline, no scripts, no fonts, no event handlers), so it renders behind
//! a strict content security policy.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::appraisals::{published_report, DepartmentResultBody, PublicAppraisalBody};
use crate::codes::ErrorCode;
use crate::error::ApiError;
use crate::json::ApiQuery;
use crate::state::AppState;

/// The page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese (default).
    Zh,
    /// English.
    En,
}

impl Lang {
    fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// `?lang=zh|en`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `zh` (default) or `en`.
    #[param(value_type = Option<crate::schema::PageLanguage>)]
    pub lang: Option<String>,
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |value| format!("{value:.2}"))
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_owned(), |rate| format!("{:.1}%", rate * 100.0))
}

fn grade_label(lang: Lang, grade: &str) -> &'static str {
    match (grade, lang) {
        ("advanced", Lang::Zh) => "先进",
        ("advanced", Lang::En) => "Advanced",
        ("pass", Lang::Zh) => "合格",
        ("pass", Lang::En) => "Pass",
        ("fail", Lang::Zh) => "不合格",
        ("fail", Lang::En) => "Fail",
        (_, Lang::Zh) => "未评定",
        (_, Lang::En) => "Not rated",
    }
}

fn rectification_label(lang: Lang, status: &str) -> &'static str {
    match (status, lang) {
        ("verified", Lang::Zh) => "已复查通过",
        ("verified", Lang::En) => "Verified",
        ("reported", Lang::Zh) => "已报整改完成，待复查",
        ("reported", Lang::En) => "Reported done, awaiting re-check",
        (_, Lang::Zh) => "整改中",
        (_, Lang::En) => "In progress",
    }
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.6 system-ui,-apple-system,'PingFang SC','Noto Sans CJK SC','Microsoft YaHei',sans-serif;color:#1f2328;background:#f6f7f9}\
main{max-width:56rem;margin:0 auto;padding:1rem}\
header{background:#9b1c1c;color:#fff;padding:1rem}\
header h1{margin:0 auto;max-width:56rem;font-size:1.35rem;line-height:1.35}\
header p{margin:.3rem auto 0;max-width:56rem;font-size:.9rem;opacity:.9}\
header a{color:#fff}\
section{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:1rem;margin:1rem 0}\
h2{font-size:1.15rem;margin:0 0 .6rem}\
h3{font-size:1rem;margin:1rem 0 .3rem}\
.table-wrap{overflow-x:auto}\
table{border-collapse:collapse;width:100%;font-size:.95rem}\
th,td{padding:.45rem .3rem;border-bottom:1px solid #e1e4e8;text-align:left;white-space:nowrap}\
td.name{white-space:normal;min-width:6rem}\
@media (max-width:30rem){.wide{display:none}}\
td.num,th.num{text-align:right}\
.grade{display:inline-block;padding:0 .45rem;border-radius:4px;font-size:.85rem;font-weight:600}\
.grade-advanced{background:#dafbe1;color:#116329}\
.grade-pass{background:#ddf4ff;color:#0550ae}\
.grade-fail{background:#ffebe9;color:#a40e26}\
.grade-not_rated{background:#eaeef2;color:#57606a}\
svg{width:100%;height:auto;display:block;max-width:40rem}\
.charts{display:grid;grid-template-columns:1fr;gap:.5rem}\
@media (min-width:48rem){.charts{grid-template-columns:1fr 1fr}}\
dl.kpi{display:grid;grid-template-columns:1fr auto;gap:.1rem .8rem;margin:.3rem 0}\
dl.kpi dt{color:#57606a}dl.kpi dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}\
ul{padding-left:1.2rem}\
.overdue{color:#a40e26;font-weight:600}\
.muted{color:#57606a;font-size:.9rem}\
footer{max-width:56rem;margin:0 auto;padding:0 1rem 2rem;color:#57606a;font-size:.85rem}\
";

/// A horizontal bar chart (0–100) as inline SVG: per row a label line, then the bar and its
/// value, so long department names never overlap the bars on a narrow phone. SVG elements are
/// closed explicitly (`<rect …></rect>`): inside HTML an unclosed `<rect>` would swallow what
/// follows.
fn bar_chart(title: &str, rows: &[(String, Option<f64>, String)]) -> Markup {
    const ROW: usize = 38;
    const BAR: f64 = 240.0;
    let height = 24 + rows.len() * ROW;
    html! {
        svg viewBox=(format_args!("0 0 340 {height}")) role="img" aria-label=(title) xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            text x="0" y="14" font-size="13" font-weight="600" fill="#1f2328" { (title) }
            @for (i, (label, value, note)) in rows.iter().enumerate() {
                @let y = 24 + i * ROW;
                @let width = value.map_or(0.0, |value| (value.clamp(0.0, 100.0) / 100.0) * BAR);
                text x="0" y=(y + 11) font-size="12" fill="#1f2328" { (label) (note) }
                rect x="0" y=(y + 16) width=(BAR) height="14" fill="#eaeef2" {}
                rect x="0" y=(y + 16) width=(format_args!("{width:.1}")) height="14" fill="#9b1c1c" {}
                text x=(BAR + 6.0) y=(y + 27) font-size="12" fill="#1f2328" { (number(*value)) }
            }
        }
    }
}

fn department_name(lang: Lang, department: &DepartmentResultBody) -> String {
    match lang {
        Lang::Zh => department.name.clone(),
        Lang::En => department
            .name_en
            .clone()
            .unwrap_or_else(|| department.name.clone()),
    }
}

/// The page's frame: language, viewport, title and the one inline style sheet.
fn page(lang: Lang, title: &str, style: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.pick("zh-CN", "en")) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                @if !style.is_empty() {
                    style { (PreEscaped(style)) }
                }
            }
            body { (body) }
        }
    }
}

/// How the score is made: the weights of the KPI and the ballots, and the grade rule.
fn method_section(report: &PublicAppraisalBody, lang: Lang) -> Markup {
    let ballots_weight = 100 - report.kpi_weight.min(100);
    let groups: Vec<String> = report
        .rater_groups
        .iter()
        .map(|g| format!("{} {}%", lang.pick(&g.name, &g.name_en), g.weight))
        .collect();
    let formula = match lang {
        Lang::Zh => format!(
            "总分 = 案件办理指标得分 × {}% + 群众测评得分 × {}%。测评得分按评议群体加权：{}。",
            report.kpi_weight,
            ballots_weight,
            groups.join("，")
        ),
        Lang::En => format!(
            "Total = case-handling KPI score × {}% + ballot score × {}%. Ballots are weighted by rater group: {}.",
            report.kpi_weight,
            ballots_weight,
            groups.join(", ")
        ),
    };
    let grades = &report.grades;
    let grade_rule = match lang {
        Lang::Zh => format!(
            "等级：总分不低于{}分且名列前{}%为先进，不低于{}分为合格，低于{}分为不合格。",
            grades.advanced_min, grades.advanced_top_percent, grades.pass_min, grades.pass_min
        ),
        Lang::En => format!(
            "Grades: advanced at {} or more and within the top {}%; pass at {} or more; fail below {}.",
            grades.advanced_min, grades.advanced_top_percent, grades.pass_min, grades.pass_min
        ),
    };
    html! {
        section id="method" {
            h2 { (lang.pick("评分方法", "How the scores are made")) }
            p { (formula) }
            p.muted { (grade_rule) }
        }
    }
}

fn grade_badge(lang: Lang, grade: &str) -> Markup {
    html! {
        span class={ "grade grade-" (grade) } { (grade_label(lang, grade)) }
    }
}

/// The ranking table and the chart of the totals.
fn ranking_section(report: &PublicAppraisalBody, lang: Lang) -> Markup {
    let t = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let totals: Vec<(String, Option<f64>, String)> = report
        .departments
        .iter()
        .map(|d| (department_name(lang, d), d.total, String::new()))
        .collect();
    html! {
        section id="ranking" {
            h2 { (t("排名", "Ranking")) }
            div.table-wrap {
                table {
                    thead {
                        tr {
                            th { (t("名次", "Rank")) }
                            th { (t("部门", "Department")) }
                            th.num { (t("总分", "Total")) }
                            th.num.wide { (t("办件指标", "KPI")) }
                            th.num.wide { (t("测评", "Ballots")) }
                            th { (t("等级", "Grade")) }
                        }
                    }
                    tbody {
                        @for department in &report.departments {
                            tr data-department=(department.department) {
                                td {
                                    @match department.rank {
                                        Some(rank) => (rank),
                                        None => "—",
                                    }
                                }
                                td.name {
                                    a href={ "#dept-" (department.department) } { (department_name(lang, department)) }
                                }
                                td.num { (number(department.total)) }
                                td.num.wide { (number(department.kpi_score)) }
                                td.num.wide { (number(department.ballot_score)) }
                                td { (grade_badge(lang, &department.grade)) }
                            }
                        }
                    }
                }
            }
            (bar_chart(t("总分", "Total score"), &totals))
        }
    }
}

/// One department: its charts, KPI figures, comments and rectification items.
fn department_section(
    report: &PublicAppraisalBody,
    department: &DepartmentResultBody,
    lang: Lang,
) -> Markup {
    let t = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let dimension_rows: Vec<(String, Option<f64>, String)> = department
        .dimensions
        .iter()
        .map(|score| {
            let label = report
                .dimensions
                .iter()
                .find(|d| d.id == score.dimension)
                .map_or_else(
                    || score.dimension.clone(),
                    |d| lang.pick(&d.name, &d.name_en).to_owned(),
                );
            let note = if score.dont_know > 0 {
                match lang {
                    Lang::Zh => format!(" (不了解 {})", score.dont_know),
                    Lang::En => format!(" ({} don't know)", score.dont_know),
                }
            } else {
                String::new()
            };
            (label, score.score, note)
        })
        .collect();
    let group_rows: Vec<(String, Option<f64>, String)> = department
        .groups
        .iter()
        .map(|score| {
            let label = report
                .rater_groups
                .iter()
                .find(|g| g.id == score.group)
                .map_or_else(
                    || score.group.clone(),
                    |g| lang.pick(&g.name, &g.name_en).to_owned(),
                );
            let note = match lang {
                Lang::Zh => format!(" ({}票)", score.ballots),
                Lang::En => format!(" ({} ballots)", score.ballots),
            };
            (label, score.score, note)
        })
        .collect();
    html! {
        section id={ "dept-" (department.department) } {
            h2 {
                @if let Some(rank) = department.rank { (rank) ". " }
                (department_name(lang, department)) " "
                (grade_badge(lang, &department.grade))
            }
            p {
                (t("总分", "Total")) " " strong { (number(department.total)) }
                " · " (t("有效测评票", "Ballots")) " " (department.ballots)
            }
            div.charts {
                (bar_chart(t("分项得分", "By dimension"), &dimension_rows))
                (bar_chart(t("各评议群体", "By rater group"), &group_rows))
            }
            @if let Some(kpi) = &department.kpi {
                h3 { (t("办件指标", "Case-handling KPIs")) }
                dl.kpi {
                    dt { (t("办件量", "Cases")) } dd { (kpi.volume) }
                    dt { (t("按时签收率", "Accepted on time")) } dd { (percent(kpi.timely_acceptance.rate)) }
                    dt { (t("答复率", "Response rate")) } dd { (percent(kpi.response.rate)) }
                    dt { (t("按时办结率", "Completed on time")) } dd { (percent(kpi.on_time_completion.rate)) }
                    dt { (t("解决率", "Resolution rate")) } dd { (percent(kpi.resolution.rate)) }
                    dt { (t("满意率", "Satisfaction rate")) } dd { (percent(kpi.satisfaction.rate)) }
                    dt { (t("超期件数", "Overdue cases")) } dd { (kpi.overdue) }
                    dt { (t("指标得分", "KPI score")) } dd { (number(kpi.score)) }
                }
            }
            @if !department.comments.is_empty() {
                h3 { (t("意见建议", "Comments")) }
                ul {
                    @for comment in &department.comments { li { (comment) } }
                }
            }
            h3 { (t("整改情况", "Rectification")) }
            @if department.rectifications.is_empty() {
                p.muted { (t("暂无整改事项", "No rectification items")) }
            } @else {
                ul {
                    @for item in &department.rectifications {
                        li data-rectification=(item.status) {
                            (item.title) " — " (t("期限", "due")) " " (item.due_on) " · "
                            (rectification_label(lang, &item.status))
                            @if item.overdue {
                                " " span.overdue { (t("逾期", "overdue")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Renders the report as one HTML page in `lang`.
pub fn render(report: &PublicAppraisalBody, lang: Lang) -> String {
    let t = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let title = lang.pick(&report.title, &report.title_en);
    let published = report
        .published_at
        .as_deref()
        .map_or("—", |at| at.get(..10).unwrap_or(at));
    let body = html! {
        header {
            h1 { (title) }
            p {
                (t("评议期间", "Period")) " " (report.period) " · "
                (t("发布于", "Published")) " " (published) " · "
                @match lang {
                    Lang::Zh => a href="?lang=en" hreflang="en" lang="en" { "English" },
                    Lang::En => a href="?lang=zh" hreflang="zh-CN" lang="zh-CN" { "中文" },
                }
            }
        }
        main {
            (method_section(report, lang))
            (ranking_section(report, lang))
            @for department in &report.departments {
                (department_section(report, department, lang))
            }
        }
        footer {
            p {
                (t("计算方法版本", "Method versions")) ": " (report.method_version) ", "
                (report.kpi_formula_version) ", " (report.desensitise_version) ". "
                a href={ "/api/v1/public/appraisals/" (report.id) "/export.csv" } { "CSV" }
                " · "
                a href={ "/api/v1/public/appraisals/" (report.id) } { "JSON" }
            }
            p {
                (t(
                    "意见已去除个人信息（电话、证件号、邮箱、姓名）。评议人身份不公开。",
                    "Comments are stripped of personal data (phone and ID numbers, e-mail addresses, names). Raters are never named."
                ))
            }
        }
    };
    page(lang, title, STYLE, body).into_string()
}

/// The page for an id with no published report.
fn not_found_page(lang: Lang) -> String {
    let body = html! {
        p { (lang.pick("未找到已发布的评议结果。", "No published appraisal with this id.")) }
    };
    page(lang, "404", "", body).into_string()
}

fn html_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:",
            ),
        ],
        body,
    )
        .into_response()
}

/// The public appraisal page (HTML, no login, no JavaScript). Chinese by default; `?lang=en`.
#[utoipa::path(
    get, path = "/public/appraisals/{appraisal_id}", tag = "public",
    params(("appraisal_id" = String, Path, description = "The campaign id"), PageQuery),
    responses(
        (status = 200, description = "The report as a page with inline SVG charts", body = String, content_type = "text/html"),
        (status = 400, description = "`invalid_query` (lang other than zh or en)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not published (an HTML page)", body = String, content_type = "text/html"),
    )
)]
pub async fn public_appraisal_page(
    State(state): State<AppState>,
    Path(campaign_id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Response, ApiError> {
    let lang = match query.lang.as_deref() {
        None | Some("zh") | Some("zh-CN") => Lang::Zh,
        Some("en") => Lang::En,
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!("lang must be zh or en, not {other:?}"),
            ))
        }
    };
    match published_report(&state, &campaign_id).await {
        Ok(report) => Ok(html_response(StatusCode::OK, render(&report, lang))),
        Err(error) if error.status() == StatusCode::NOT_FOUND => {
            Ok(html_response(StatusCode::NOT_FOUND, not_found_page(lang)))
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(rate: Option<f64>) -> crate::kpi::RatioBody {
        crate::kpi::RatioBody {
            numerator: 3,
            denominator: 4,
            rate,
        }
    }

    /// A report with every part the page shows, and markup in every text a person typed.
    fn sample_report() -> PublicAppraisalBody {
        use crate::appraisals::{
            DimensionBody, DimensionScoreBody, GradesBody, GroupScoreBody, RaterGroupBody,
            RectificationBody,
        };
        let kpi = crate::kpi::KpiBody {
            department: "dept-a".into(),
            department_name: "区商务局".into(),
            department_name_en: Some("Commerce".into()),
            period: "2026-Q4".into(),
            formula_version: "kpi.v1".into(),
            volume: 12,
            exempted: 1,
            scored: 11,
            timely_acceptance: ratio(Some(0.75)),
            response: ratio(Some(1.0)),
            on_time_completion: ratio(None),
            resolution: ratio(Some(0.5)),
            satisfaction: ratio(Some(0.9167)),
            overdue: 2,
            returns: ratio(None),
            redo: ratio(None),
            extensions: 0,
            appeals: 0,
            appeals_upheld: 0,
            withdrawals_after_dispatch: 0,
            score: Some(88.5),
        };
        let department =
            |id: &str, name: &str, rank: Option<u32>, grade: &str| DepartmentResultBody {
                rank,
                department: id.into(),
                name: name.into(),
                name_en: None,
                grade: grade.into(),
                total: rank.map(|rank| 100.0 - f64::from(rank) * 7.5),
                kpi_score: Some(88.5),
                ballot_score: None,
                ballots: 7,
                dimensions: vec![
                    DimensionScoreBody {
                        dimension: "lawful".into(),
                        score: Some(150.0),
                        scored: 6,
                        dont_know: 1,
                    },
                    DimensionScoreBody {
                        dimension: "unknown-dimension".into(),
                        score: None,
                        scored: 0,
                        dont_know: 0,
                    },
                ],
                groups: vec![GroupScoreBody {
                    group: "enterprises".into(),
                    ballots: 7,
                    score: Some(82.0),
                }],
                comments: vec![],
                kpi: None,
                rectifications: vec![],
            };
        let mut first = department("dept-a", "区商务局 <b>\"A\"</b>", Some(1), "advanced");
        first.name_en = Some("Commerce & <Trade>".into());
        first.kpi = Some(kpi);
        first.comments = vec![
            "<script>alert('x')</script> & \"q\"".into(),
            "***办事快".into(),
        ];
        first.rectifications = vec![
            RectificationBody {
                id: "r1".into(),
                department: "dept-a".into(),
                title: "窗口 <i>排队</i>".into(),
                due_on: "2026-12-31".into(),
                status: "open".into(),
                overdue: true,
                rechecks: 0,
            },
            RectificationBody {
                id: "r2".into(),
                department: "dept-a".into(),
                title: "回访".into(),
                due_on: "2026-12-01".into(),
                status: "verified".into(),
                overdue: false,
                rechecks: 1,
            },
        ];
        PublicAppraisalBody {
            id: "ap-1\"><x>".into(),
            title: "2026年第四季度 <公开评议>".into(),
            title_en: "Q4 2026 & public appraisal".into(),
            period: "2026-Q4".into(),
            published_at: Some("2026-12-20T08:00:00.000Z".into()),
            method_version: "appraisal.v1".into(),
            desensitise_version: "desensitise.v2".into(),
            kpi_formula_version: "kpi.v1".into(),
            kpi_weight: 40,
            grades: GradesBody {
                advanced_min: 90,
                advanced_top_percent: 30,
                pass_min: 60,
            },
            dimensions: vec![DimensionBody {
                id: "lawful".into(),
                name: "依法行政".into(),
                name_en: "Lawful <administration>".into(),
            }],
            rater_groups: vec![RaterGroupBody {
                id: "enterprises".into(),
                name: "企业代表".into(),
                name_en: "Enterprises".into(),
                weight: 100,
            }],
            departments: vec![
                first,
                department("dept-b", "区市场监督管理局", Some(2), "pass"),
                department("dept-c", "区规划局", None, "not_rated"),
            ],
        }
    }

    /// Every text a person typed is escaped wherever it lands: element content (title, names,
    /// comments, rectification items) and attribute values (the campaign id in the links, the
    /// department id in `data-department` and the anchors). A single quote needs no escaping:
    /// every attribute is double-quoted.
    #[test]
    fn escape_covers_markup_and_quotes() {
        for lang in [Lang::Zh, Lang::En] {
            let html = render(&sample_report(), lang);
            assert!(
                html.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; &quot;q&quot;"),
                "{html}"
            );
            for raw in [
                "<script",
                "<b>",
                "<i>",
                "<x>",
                "<Trade>",
                "<公开评议>",
                "<administration>",
            ] {
                assert!(!html.contains(raw), "{raw} unescaped in {html}");
            }
            assert!(html.contains("href=\"/api/v1/public/appraisals/ap-1&quot;&gt;&lt;x&gt;\""));
        }
        let zh = render(&sample_report(), Lang::Zh);
        assert!(zh.contains("区商务局 &lt;b&gt;&quot;A&quot;&lt;/b&gt;"));
        assert!(zh.contains("窗口 &lt;i&gt;排队&lt;/i&gt;"));
        let en = render(&sample_report(), Lang::En);
        assert!(en.contains("Commerce &amp; &lt;Trade&gt;"));
        assert!(en.contains("Q4 2026 &amp; public appraisal"));
    }

    #[test]
    fn a_bar_chart_escapes_labels_and_clamps_values() {
        let svg = bar_chart(
            "<t>",
            &[
                ("<b>".into(), Some(150.0), String::new()),
                ("x".into(), None, String::new()),
            ],
        )
        .into_string();
        assert!(svg.contains("&lt;b&gt;"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("width=\"240.0\""), "{svg}");
    }
}
