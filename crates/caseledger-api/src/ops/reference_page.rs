//! The API reference page at `/docs`: one HTML page rendered on the server from the OpenAPI
//! document, with navigation by tag (a sidebar of the tags with their operation counts, and at the
//! top of each tag the list of its operations), every operation's parameters, body and answers,
//! and the schemas. It needs no script, no font and no network access, so it works offline and
//! behind `default-src 'none'`; a browser's find-in-page searches all of it.
//!
//! It reads the document as JSON (what `/openapi.json` serves), not utoipa's types, so it shows
//! exactly what a client generator would see. The markup is a `maud` template: every text from
//! the document is escaped by construction.

use std::collections::BTreeSet;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::{Map, Value};

/// The HTTP methods an OpenAPI path item may hold, in the order the page lists them.
const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

/// Where the operations without a tag are listed.
const UNTAGGED: &str = "other";

const STYLE: &str = "\
*{box-sizing:border-box}\
html{scroll-padding-top:1rem}\
body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2328;background:#fff}\
a{color:#0550ae}\
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em}\
code{background:#f3f4f6;padding:.05rem .3rem;border-radius:3px}\
ul.ops code,.op h3 code{overflow-wrap:anywhere}\
pre{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:6px;padding:.6rem;overflow-x:auto;max-height:32rem}\
.layout{display:grid;grid-template-columns:1fr}\
nav{background:#f6f8fa;border-bottom:1px solid #e1e4e8;padding:.8rem 1rem}\
nav h2{font-size:.8rem;text-transform:uppercase;letter-spacing:.05em;color:#57606a;margin:0 0 .4rem}\
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.3rem .8rem}\
nav .count{color:#57606a;font-size:.8rem}\
main{padding:0 1rem 3rem;max-width:64rem;min-width:0}\
@media (min-width:60rem){\
.layout{grid-template-columns:15rem 1fr}\
nav{position:sticky;top:0;align-self:start;height:100vh;overflow-y:auto;border-bottom:0;border-right:1px solid #e1e4e8}\
nav ul{display:block}nav li{margin:.15rem 0}}\
section.tag{border-top:2px solid #e1e4e8;margin-top:2rem}\
ul.ops{list-style:none;padding:0}\
ul.ops li{margin:.15rem 0}\
.op{border:1px solid #e1e4e8;border-radius:6px;padding:.2rem 1rem .6rem;margin:1rem 0}\
.op h3{font-size:1rem;margin:.6rem 0 .3rem}\
.m{display:inline-block;min-width:3.6rem;text-align:center;font:700 .75rem/1.6 system-ui,sans-serif;text-transform:uppercase;border-radius:4px;padding:0 .3rem;margin-right:.4rem;color:#fff;background:#57606a;vertical-align:middle}\
.m-get{background:#0969da}.m-post{background:#1a7f37}.m-put,.m-patch{background:#9a6700}.m-delete{background:#cf222e}\
.badge{font-size:.75rem;border:1px solid #d0d7de;border-radius:10px;padding:0 .45rem;color:#57606a;margin-left:.4rem;vertical-align:middle}\
.table-wrap{overflow-x:auto}\
table{border-collapse:collapse;margin:.4rem 0;font-size:.9rem}\
td,th{border:1px solid #e1e4e8;padding:.2rem .5rem;text-align:left;vertical-align:top}\
th{background:#f6f8fa}\
.muted{color:#57606a}\
h4{font-size:.85rem;margin:.8rem 0 .2rem;color:#57606a;text-transform:uppercase;letter-spacing:.04em}\
details.schema{margin:.3rem 0}details.schema summary{cursor:pointer;font-family:ui-monospace,monospace}\
";

/// Renders the document as one self-contained HTML page.
pub fn render(document: &utoipa::openapi::OpenApi) -> String {
    let document = serde_json::to_value(document).unwrap_or_default();
    let reference = Reference::of(&document);
    page(&document, &reference).into_string()
}

/// One operation of the document.
struct Operation<'a> {
    method: &'static str,
    path: &'a str,
    body: &'a Map<String, Value>,
}

impl Operation<'_> {
    /// The operation's anchor: method and path, with every other character a dash. Unique as
    /// long as method and path are (a test checks every id on the page is).
    fn anchor(&self) -> String {
        let mut anchor = format!("op-{}", self.method);
        for c in self.path.chars() {
            if c.is_ascii_alphanumeric() || c == '_' {
                anchor.push(c);
            } else if !anchor.ends_with('-') {
                anchor.push('-');
            }
        }
        anchor.trim_end_matches('-').to_owned()
    }

    fn text(&self, field: &str) -> Option<&str> {
        self.body.get(field).and_then(Value::as_str)
    }

    /// Whether the operation asks for a bearer token.
    fn secured(&self) -> bool {
        self.body
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|requirements| {
                requirements
                    .iter()
                    .any(|r| r.as_object().is_some_and(|r| !r.is_empty()))
            })
    }
}

/// A tag and its operations, in the order the page shows them.
struct Tag<'a> {
    name: String,
    description: Option<&'a str>,
    operations: Vec<Operation<'a>>,
}

impl Tag<'_> {
    fn anchor(&self) -> String {
        format!("tag-{}", self.name)
    }
}

/// The document grouped for the page.
struct Reference<'a> {
    tags: Vec<Tag<'a>>,
    /// `components.responses`, for operations whose answers are references.
    shared_responses: Option<&'a Map<String, Value>>,
    schemas: Option<&'a Map<String, Value>>,
}

impl<'a> Reference<'a> {
    /// Groups the operations by their first tag: the tags the document declares first, in its
    /// order, then tags used but not declared, then the untagged operations.
    fn of(document: &'a Value) -> Self {
        let mut tags: Vec<Tag<'a>> = document["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|tag| {
                Some(Tag {
                    name: tag["name"].as_str()?.to_owned(),
                    description: tag["description"].as_str(),
                    operations: Vec::new(),
                })
            })
            .collect();
        let mut undeclared = BTreeSet::new();
        let mut operations = Vec::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for method in METHODS {
                let Some(body) = item.get(method).and_then(Value::as_object) else {
                    continue;
                };
                let tag = body
                    .get("tags")
                    .and_then(|tags| tags.get(0))
                    .and_then(Value::as_str)
                    .unwrap_or(UNTAGGED)
                    .to_owned();
                if !tags.iter().any(|known| known.name == tag) {
                    undeclared.insert(tag.clone());
                }
                operations.push((tag, Operation { method, path, body }));
            }
        }
        tags.extend(undeclared.into_iter().map(|name| Tag {
            name,
            description: None,
            operations: Vec::new(),
        }));
        for (tag, operation) in operations {
            if let Some(tag) = tags.iter_mut().find(|known| known.name == tag) {
                tag.operations.push(operation);
            }
        }
        tags.retain(|tag| !tag.operations.is_empty());
        Reference {
            tags,
            shared_responses: document["components"]["responses"].as_object(),
            schemas: document["components"]["schemas"].as_object(),
        }
    }

    /// An answer, following a `$ref` into `components.responses`.
    fn response<'b>(&'b self, answer: &'b Value) -> &'b Value {
        match answer["$ref"].as_str() {
            Some(reference) => reference
                .rsplit('/')
                .next()
                .and_then(|name| self.shared_responses?.get(name))
                .unwrap_or(answer),
            None => answer,
        }
    }
}

fn page(document: &Value, reference: &Reference) -> Markup {
    let title = document["info"]["title"].as_str().unwrap_or("API");
    let version = document["info"]["version"].as_str();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " API reference" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                div.layout {
                    nav aria-label="Tags" {
                        h2 { "Tags" }
                        ul {
                            @for tag in &reference.tags {
                                li {
                                    a href={ "#" (tag.anchor()) } { (tag.name) }
                                    " " span.count { (tag.operations.len()) }
                                }
                            }
                            @if reference.schemas.is_some() {
                                li { a href="#schemas" { "Schemas" } }
                            }
                        }
                    }
                    main {
                        h1 id="top" {
                            (title) " API reference"
                            @if let Some(version) = version { " " span.badge { (version) } }
                        }
                        @if let Some(description) = document["info"]["description"].as_str() {
                            (prose(description))
                        }
                        p {
                            "Machine-readable: " a href="/openapi.json" { code { "/openapi.json" } }
                            " (OpenAPI " (document["openapi"].as_str().unwrap_or("3.1")) "). "
                            "Operations marked " span.badge { "bearer" } " need "
                            code { "Authorization: Bearer <token>" } "."
                        }
                        @for tag in &reference.tags {
                            (tag_section(tag, reference))
                        }
                        @if let Some(schemas) = reference.schemas {
                            section.tag id="schemas" {
                                h2 { "Schemas" }
                                @for (name, schema) in schemas {
                                    details.schema id={ "schema-" (name) } {
                                        summary { (name) }
                                        pre { (serde_json::to_string_pretty(schema).unwrap_or_default()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn tag_section(tag: &Tag, reference: &Reference) -> Markup {
    html! {
        section.tag id=(tag.anchor()) {
            h2 { (tag.name) }
            @if let Some(description) = tag.description { (prose(description)) }
            ul.ops {
                @for operation in &tag.operations {
                    li {
                        a href={ "#" (operation.anchor()) } {
                            (method_badge(operation.method)) code { (operation.path) }
                        }
                        @if let Some(summary) = operation.text("summary") {
                            " " span.muted { (summary) }
                        }
                    }
                }
            }
            @for operation in &tag.operations {
                (operation_block(operation, reference))
            }
        }
    }
}

fn method_badge(method: &str) -> Markup {
    html! { span class={ "m m-" (method) } { (method) } }
}

fn operation_block(operation: &Operation, reference: &Reference) -> Markup {
    let parameters = operation
        .body
        .get("parameters")
        .and_then(Value::as_array)
        .filter(|parameters| !parameters.is_empty());
    let request_body = operation.body.get("requestBody");
    let answers = operation.body.get("responses").and_then(Value::as_object);
    html! {
        article.op id=(operation.anchor()) {
            h3 {
                (method_badge(operation.method)) code { (operation.path) }
                @if operation.secured() { span.badge { "bearer" } }
                @if operation.body.get("deprecated") == Some(&Value::Bool(true)) {
                    span.badge { "deprecated" }
                }
            }
            @if let Some(summary) = operation.text("summary") { p { (inline(summary)) } }
            @if let Some(description) = operation.text("description") { (prose(description)) }
            @if let Some(parameters) = parameters {
                h4 { "Parameters" }
                div.table-wrap {
                    table {
                        tr { th { "name" } th { "in" } th { "type" } th { "description" } }
                        @for parameter in parameters {
                            tr {
                                td {
                                    code { (parameter["name"].as_str().unwrap_or_default()) }
                                    @if parameter["required"] == Value::Bool(true) { " " span.muted { "required" } }
                                }
                                td { (parameter["in"].as_str().unwrap_or_default()) }
                                td { (schema_summary(&parameter["schema"])) }
                                td { (inline(parameter["description"].as_str().unwrap_or_default())) }
                            }
                        }
                    }
                }
            }
            @if let Some(request_body) = request_body {
                h4 { "Body" @if request_body["required"] == Value::Bool(true) { " " span.muted { "(required)" } } }
                @for (media, content) in request_body["content"].as_object().into_iter().flatten() {
                    p { code { (media) } " " (schema_summary(&content["schema"])) }
                }
            }
            @if let Some(answers) = answers {
                h4 { "Answers" }
                div.table-wrap {
                    table {
                        @for (status, answer) in answers {
                            @let answer = reference.response(answer);
                            tr {
                                td { code { (status) } }
                                td { (inline(answer["description"].as_str().unwrap_or_default())) }
                                td {
                                    @for (media, content) in answer["content"].as_object().into_iter().flatten() {
                                        code { (media) } " " (schema_summary(&content["schema"])) " "
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A schema in a few words: a link to a named schema, `array of …`, the type and format, or
/// the allowed values.
fn schema_summary(schema: &Value) -> Markup {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return html! { a href={ "#schema-" (name) } { (name) } };
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema[combinator].as_array() {
            let separator = if combinator == "allOf" { " & " } else { " | " };
            return html! {
                @for (i, part) in parts.iter().enumerate() {
                    @if i > 0 { (separator) }
                    (schema_summary(part))
                }
            };
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(kind) => vec![kind.as_str()],
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let values: Vec<String> = schema["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect();
    html! {
        @if types.contains(&"array") {
            "array of " (schema_summary(&schema["items"]))
        } @else {
            (types.join(" | "))
        }
        @if let Some(format) = schema["format"].as_str() { " (" (format) ")" }
        @if !values.is_empty() {
            " " span.muted { "one of " }
            @for (i, value) in values.iter().enumerate() {
                @if i > 0 { ", " }
                code { (value) }
            }
        }
    }
}

/// Paragraphs (split at blank lines) of [`inline`] text.
fn prose(text: &str) -> Markup {
    html! {
        @for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
            p { (inline(paragraph)) }
        }
    }
}

/// Text with its `backticked` spans as code, the only markup the descriptions use.
fn inline(text: &str) -> Markup {
    html! {
        @for (i, part) in text.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered() -> String {
        render(&crate::openapi::document())
    }

    /// Every tag of the document is in the navigation, linked to its section, with its count.
    #[test]
    fn the_navigation_lists_every_tag_with_its_section() {
        let html = rendered();
        let document = serde_json::to_value(crate::openapi::document()).unwrap();
        let nav = &html[html.find("<nav").unwrap()..html.find("</nav>").unwrap()];
        for tag in document["tags"].as_array().unwrap() {
            let name = tag["name"].as_str().unwrap();
            assert!(
                nav.contains(&format!("<a href=\"#tag-{name}\">{name}</a>")),
                "{name} not in the navigation"
            );
            assert!(
                html.contains(&format!("<section class=\"tag\" id=\"tag-{name}\">")),
                "no section for {name}"
            );
        }
        assert!(nav.contains("href=\"#schemas\""));
    }

    /// Every operation of the document has its block, listed under its tag.
    #[test]
    fn every_operation_is_on_the_page_once() {
        let html = rendered();
        let document = serde_json::to_value(crate::openapi::document()).unwrap();
        let mut n_operations = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in METHODS {
                if item.get(method).is_none() {
                    continue;
                }
                n_operations += 1;
                let body = item[method].as_object().unwrap();
                let anchor = Operation { method, path, body }.anchor();
                assert_eq!(
                    html.matches(&format!("<article class=\"op\" id=\"{anchor}\">"))
                        .count(),
                    1,
                    "{method} {path}"
                );
            }
        }
        assert!(n_operations > 100, "{n_operations} operations");
        assert_eq!(html.matches("<article class=\"op\"").count(), n_operations);
    }

    /// Anchors are unique, and every in-page link leads to one.
    #[test]
    fn every_link_on_the_page_has_its_target() {
        let html = rendered();
        let ids: Vec<&str> = html
            .split(" id=\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(ids.len(), unique.len(), "duplicate ids");
        for link in html.split("href=\"#").skip(1) {
            let target = &link[..link.find('"').unwrap()];
            assert!(unique.contains(target), "#{target} leads nowhere");
        }
    }

    /// Shared answers (`$ref` into `components.responses`) show their description, and the
    /// page holds no script or event handler.
    #[test]
    fn shared_answers_are_resolved_and_the_page_is_script_free() {
        let html = rendered();
        assert!(html.contains("<code>missing_token</code>"), "401 described");
        assert!(!html.contains("#/components/responses/"));
        assert!(!html.contains("<script"));
        assert_eq!(event_handlers(&html), Vec::<String>::new());
    }

    /// Attributes named `on…=` (inline event handlers, which a strict CSP refuses).
    fn event_handlers(html: &str) -> Vec<String> {
        html.match_indices(" on")
            .map(|(at, _)| {
                html[at + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect::<String>()
            })
            .filter(|name| html.contains(&format!(" {name}=\"")))
            .collect()
    }

    #[test]
    fn the_handler_finder_finds_a_handler() {
        assert_eq!(
            event_handlers("<p class=\"one of\"><a onclick=\"x()\">"),
            vec!["onclick".to_owned()]
        );
    }

    #[test]
    fn text_from_the_document_is_escaped_and_backticks_are_code() {
        let markup = inline("send `<b>` & \"q\"").into_string();
        assert_eq!(markup, "send <code>&lt;b&gt;</code> &amp; &quot;q&quot;");
        let summary = schema_summary(&serde_json::json!({
            "type": ["string", "null"], "enum": ["a<b", null]
        }))
        .into_string();
        assert!(summary.contains("string | null") && summary.contains("<code>a&lt;b</code>"));
        let array = schema_summary(&serde_json::json!({
            "type": "array", "items": {"$ref": "#/components/schemas/Problem"}
        }))
        .into_string();
        assert_eq!(array, "array of <a href=\"#schema-Problem\">Problem</a>");
    }
}
