//! The public appraisal page `/public/appraisals/{id}`: server-rendered HTML that a citizen
//! reads on a phone or a desktop, without JavaScript. Chinese by default, English with
//! `?lang=en`, and a link to switch on every page. The ranking, the grades, inline SVG bar
//! charts of the per-dimension and per-group breakdown, the KPI key figures, the desensitised
//! comments and the rectification status come from the same report as the public JSON
//! ([`crate::appraisals::PublicAppraisalBody`]), so the page can never show more than it.
//!
//! Every text is escaped; the page loads nothing from elsewhere (styles inline, no scripts, no
//! fonts), so it renders behind a strict content security policy.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
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

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
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
/// value, so long department names never overlap the bars on a narrow phone.
fn bar_chart(title: &str, rows: &[(String, Option<f64>, String)]) -> String {
    const ROW: usize = 38;
    const BAR: f64 = 240.0;
    let height = 24 + rows.len() * ROW;
    let mut svg = format!(
        "<svg viewBox=\"0 0 340 {height}\" role=\"img\" aria-label=\"{title}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title>{title}</title>\
         <text x=\"0\" y=\"14\" font-size=\"13\" font-weight=\"600\" fill=\"#1f2328\">{title}</text>",
        title = escape(title)
    );
    for (i, (label, value, note)) in rows.iter().enumerate() {
        let y = 24 + i * ROW;
        let width = value.map_or(0.0, |value| (value.clamp(0.0, 100.0) / 100.0) * BAR);
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{ly}\" font-size=\"12\" fill=\"#1f2328\">{label}{note}</text>\
             <rect x=\"0\" y=\"{by}\" width=\"{BAR}\" height=\"14\" fill=\"#eaeef2\"/>\
             <rect x=\"0\" y=\"{by}\" width=\"{width:.1}\" height=\"14\" fill=\"#9b1c1c\"/>\
             <text x=\"{vx}\" y=\"{vy}\" font-size=\"12\" fill=\"#1f2328\">{value}</text>",
            ly = y + 11,
            by = y + 16,
            vy = y + 27,
            label = escape(label),
            note = escape(note),
            vx = BAR + 6.0,
            value = escape(&number(*value)),
        ));
    }
    svg.push_str("</svg>");
    svg
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

/// Renders the report as one HTML page in `lang`.
pub fn render(report: &PublicAppraisalBody, lang: Lang) -> String {
    let t = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let title = match lang {
        Lang::Zh => &report.title,
        Lang::En => &report.title_en,
    };
    let other = match lang {
        Lang::Zh => "<a href=\"?lang=en\" hreflang=\"en\" lang=\"en\">English</a>",
        Lang::En => "<a href=\"?lang=zh\" hreflang=\"zh-CN\" lang=\"zh-CN\">中文</a>",
    };
    let mut html = format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\
         <header><h1>{title}</h1><p>{period_label} {period} · {published_label} {published} · {other}</p></header><main>",
        code = t("zh-CN", "en"),
        title = escape(title),
        period_label = t("评议期间", "Period"),
        period = escape(&report.period),
        published_label = t("发布于", "Published"),
        published = escape(
            report
                .published_at
                .as_deref()
                .map_or("—", |at| at.get(..10).unwrap_or(at))
        ),
    );

    // How the score is made.
    let ballots_weight = 100 - report.kpi_weight.min(100);
    let groups: Vec<String> = report
        .rater_groups
        .iter()
        .map(|g| format!("{} {}%", escape(lang.pick(&g.name, &g.name_en)), g.weight))
        .collect();
    html.push_str(&format!(
        "<section id=\"method\"><h2>{}</h2><p>{}</p><p class=\"muted\">{}</p></section>",
        t("评分方法", "How the scores are made"),
        match lang {
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
        },
        match lang {
            Lang::Zh => format!(
                "等级：总分不低于{}分且名列前{}%为先进，不低于{}分为合格，低于{}分为不合格。",
                report.grades.advanced_min,
                report.grades.advanced_top_percent,
                report.grades.pass_min,
                report.grades.pass_min
            ),
            Lang::En => format!(
                "Grades: advanced at {} or more and within the top {}%; pass at {} or more; fail below {}.",
                report.grades.advanced_min,
                report.grades.advanced_top_percent,
                report.grades.pass_min,
                report.grades.pass_min
            ),
        }
    ));

    // Ranking.
    html.push_str(&format!(
        "<section id=\"ranking\"><h2>{}</h2><div class=\"table-wrap\"><table><thead><tr>\
         <th>{}</th><th>{}</th><th class=\"num\">{}</th><th class=\"num wide\">{}</th><th class=\"num wide\">{}</th><th>{}</th>\
         </tr></thead><tbody>",
        t("排名", "Ranking"),
        t("名次", "Rank"),
        t("部门", "Department"),
        t("总分", "Total"),
        t("办件指标", "KPI"),
        t("测评", "Ballots"),
        t("等级", "Grade"),
    ));
    for department in &report.departments {
        html.push_str(&format!(
            "<tr data-department=\"{id}\"><td>{rank}</td><td class=\"name\"><a href=\"#dept-{id}\">{name}</a></td>\
             <td class=\"num\">{total}</td><td class=\"num wide\">{kpi}</td><td class=\"num wide\">{ballots}</td>\
             <td><span class=\"grade grade-{grade}\">{grade_label}</span></td></tr>",
            id = escape(&department.department),
            rank = department
                .rank
                .map_or_else(|| "—".to_owned(), |rank| rank.to_string()),
            name = escape(&department_name(lang, department)),
            total = number(department.total),
            kpi = number(department.kpi_score),
            ballots = number(department.ballot_score),
            grade = escape(&department.grade),
            grade_label = grade_label(lang, &department.grade),
        ));
    }
    html.push_str("</tbody></table></div>");
    let totals: Vec<(String, Option<f64>, String)> = report
        .departments
        .iter()
        .map(|d| (department_name(lang, d), d.total, String::new()))
        .collect();
    html.push_str(&bar_chart(t("总分", "Total score"), &totals));
    html.push_str("</section>");

    // One section per department.
    for department in &report.departments {
        let name = department_name(lang, department);
        html.push_str(&format!(
            "<section id=\"dept-{id}\"><h2>{rank}{name} <span class=\"grade grade-{grade}\">{grade_label}</span></h2>\
             <p>{total_label} <strong>{total}</strong> · {ballots_label} {n}</p><div class=\"charts\">",
            id = escape(&department.department),
            rank = department
                .rank
                .map_or_else(String::new, |rank| format!("{rank}. ")),
            name = escape(&name),
            grade = escape(&department.grade),
            grade_label = grade_label(lang, &department.grade),
            total_label = t("总分", "Total"),
            total = number(department.total),
            ballots_label = t("有效测评票", "Ballots"),
            n = department.ballots,
        ));
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
        html.push_str(&bar_chart(t("分项得分", "By dimension"), &dimension_rows));
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
        html.push_str(&bar_chart(t("各评议群体", "By rater group"), &group_rows));
        html.push_str("</div>");
        if let Some(kpi) = &department.kpi {
            html.push_str(&format!(
                "<h3>{}</h3><dl class=\"kpi\">",
                t("办件指标", "Case-handling KPIs")
            ));
            let rows = [
                (t("办件量", "Cases"), kpi.volume.to_string()),
                (
                    t("按时签收率", "Accepted on time"),
                    percent(kpi.timely_acceptance.rate),
                ),
                (t("答复率", "Response rate"), percent(kpi.response.rate)),
                (
                    t("按时办结率", "Completed on time"),
                    percent(kpi.on_time_completion.rate),
                ),
                (t("解决率", "Resolution rate"), percent(kpi.resolution.rate)),
                (
                    t("满意率", "Satisfaction rate"),
                    percent(kpi.satisfaction.rate),
                ),
                (t("超期件数", "Overdue cases"), kpi.overdue.to_string()),
                (t("指标得分", "KPI score"), number(kpi.score)),
            ];
            for (label, value) in rows {
                html.push_str(&format!("<dt>{}</dt><dd>{}</dd>", label, escape(&value)));
            }
            html.push_str("</dl>");
        }
        if !department.comments.is_empty() {
            html.push_str(&format!("<h3>{}</h3><ul>", t("意见建议", "Comments")));
            for comment in &department.comments {
                html.push_str(&format!("<li>{}</li>", escape(comment)));
            }
            html.push_str("</ul>");
        }
        html.push_str(&format!("<h3>{}</h3>", t("整改情况", "Rectification")));
        if department.rectifications.is_empty() {
            html.push_str(&format!(
                "<p class=\"muted\">{}</p>",
                t("暂无整改事项", "No rectification items")
            ));
        } else {
            html.push_str("<ul>");
            for item in &department.rectifications {
                html.push_str(&format!(
                    "<li data-rectification=\"{status}\">{title} — {due_label} {due} · {label}{overdue}</li>",
                    status = escape(&item.status),
                    title = escape(&item.title),
                    due_label = t("期限", "due"),
                    due = escape(&item.due_on),
                    label = rectification_label(lang, &item.status),
                    overdue = if item.overdue {
                        format!(" <span class=\"overdue\">{}</span>", t("逾期", "overdue"))
                    } else {
                        String::new()
                    },
                ));
            }
            html.push_str("</ul>");
        }
        html.push_str("</section>");
    }
    html.push_str(&format!(
        "</main><footer><p>{methods}: {method}, {kpi}, {desensitise}. \
         <a href=\"/api/v1/public/appraisals/{id}/export.csv\">CSV</a> · \
         <a href=\"/api/v1/public/appraisals/{id}\">JSON</a></p><p>{note}</p></footer></body></html>",
        methods = t("计算方法版本", "Method versions"),
        method = escape(&report.method_version),
        kpi = escape(&report.kpi_formula_version),
        desensitise = escape(&report.desensitise_version),
        id = escape(&report.id),
        note = t(
            "意见已去除个人信息（电话、证件号、邮箱、姓名）。评议人身份不公开。",
            "Comments are stripped of personal data (phone and ID numbers, e-mail addresses, names). Raters are never named."
        ),
    ));
    html
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
        Err(error) if error.status() == StatusCode::NOT_FOUND => Ok(html_response(
            StatusCode::NOT_FOUND,
            format!(
                "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>404</title></head>\
                 <body><p>{}</p></body></html>",
                lang.pick("zh-CN", "en"),
                lang.pick("未找到已发布的评议结果。", "No published appraisal with this id.")
            ),
        )),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn a_bar_chart_escapes_labels_and_clamps_values() {
        let svg = bar_chart(
            "<t>",
            &[
                ("<b>".into(), Some(150.0), String::new()),
                ("x".into(), None, String::new()),
            ],
        );
        assert!(svg.contains("&lt;b&gt;"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("width=\"240.0\""), "{svg}");
    }
}
