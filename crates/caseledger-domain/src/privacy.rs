//! The one masking rule for free text that reaches a public surface (desensitise.v2): ballot
//! comments on the public appraisal report, a nomination's summary of deeds and a revocation's
//! grounds in the public reward lists, and a case's public updates in the status lookup.
//!
//! Pure and idempotent: the mask contains no digit, no `@` and no name, so masking masked text
//! changes nothing, and the public surfaces can mask at read time, covering text recorded before
//! this rule existed.
//!
//! What is masked (each becomes [`MASK`]; [`mask_contact_data`], for award notices that name
//! their subject by design, leaves out the rule for a surname before a title):
//! - every name in a caller's list (officers, enterprises, contact persons);
//! - a name the text itself marks as one: a common surname (plus at most one more character)
//!   before a title or form of address (`王科长`, `李明主任`, `张先生`), and up to three
//!   characters after a label such as `联系人` or `经办人` that start with a common surname;
//! - every e-mail address, ASCII or full-width `＠`;
//! - every run of six or more digits — ASCII, full-width (U+FF10–FF19) or Chinese numerals
//!   (`〇零一二三四五六七八九幺`) — counting digits joined by up to three separators (spaces
//!   including the ideographic space, dots, hyphens and dashes of every width, slashes,
//!   parentheses, plus signs, middle dots, commas), a leading `+` or opening parenthesis
//!   (`+86`, `(010)`) and a final `X`/`x` (ID numbers).
//!
//! What stays readable (innocent numbers): runs of fewer than six digits (years, days, counts,
//! `50万`), calendar dates `2026-12-03`, `2026.12.03`, `2026/12/03` (the rest of the run is
//! judged on its own), year ranges `2025-2026`, amounts with thousands commas `1,000,000`,
//! decimals with at most two decimal places whose integer part has fewer than six digits, and
//! case numbers `C20261203-000123`.

/// The mask that replaces private data in published text.
pub const MASK: &str = "***";

/// The version of the rule in [`mask_personal_data`].
pub const MASK_RULE_VERSION: &str = "desensitise.v2";

/// Removes personal data from free text before it reaches a public surface (desensitise.v2).
pub fn mask_personal_data(text: &str) -> String {
    mask_personal_data_and_names(text, &[])
}

/// [`mask_personal_data`] for text whose subject is named in public by design (an award
/// notice's summary of deeds, `王明同志扎根基层…`): everything but the rule for a surname before
/// a title. Contact data and the names after contact labels (`联系人张三`) are still masked.
pub fn mask_contact_data(text: &str) -> String {
    mask_numbers(&mask_emails(&mask_labelled_names(text)))
}

/// [`mask_personal_data`], and every name in `names` masked first (longest first, so a full
/// name is masked before a shorter name inside it).
pub fn mask_personal_data_and_names(text: &str, names: &[String]) -> String {
    let mut text = text.to_owned();
    let mut names: Vec<&str> = names
        .iter()
        .map(|name| name.trim())
        .filter(|name| !name.is_empty())
        .collect();
    names.sort_by_key(|name| std::cmp::Reverse(name.chars().count()));
    for name in names {
        text = text.replace(name, MASK);
    }
    let text = mask_titled_names(&text);
    let text = mask_labelled_names(&text);
    let text = mask_emails(&text);
    mask_numbers(&text)
}

/// Common Chinese surnames (single characters). Characters that are mostly function words
/// (于, 向, 和 as prepositions) are included on purpose: masking too much is the safe side.
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘\
蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚\
邵万钱严覃武戴莫孔汤易常温施牛樊葛邢安齐庞颜倪洪欧";

/// Titles and forms of address that follow a surname.
const TITLES: [&str; 24] = [
    "科长", "处长", "局长", "主任", "经理", "书记", "同志", "先生", "女士", "小姐", "师傅", "老师",
    "警官", "科员", "专员", "干事", "部长", "所长", "队长", "站长", "股长", "区长", "组长", "秘书",
];

/// Labels after which a person's name follows.
const NAME_LABELS: [&str; 9] = [
    "联系人",
    "经办人",
    "承办人",
    "办理人",
    "负责人",
    "对接人",
    "接待人",
    "姓名",
    "工作人员",
];

/// Characters that end a name after a label (they begin the next word).
const NAME_STOPS: &str = "电手座联等说表已的称和与及在反回将对为是同说";

fn is_cjk(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

fn is_surname(c: char) -> bool {
    SURNAMES.contains(c)
}

fn mask_titled_names(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let title = TITLES.iter().find(|title| {
            let title: Vec<char> = title.chars().collect();
            chars[i..].starts_with(&title)
        });
        if let Some(title) = title {
            let n = out.len();
            let name_len = if n >= 2 && is_surname(out[n - 2]) && is_cjk(out[n - 1]) {
                2
            } else if n >= 1 && is_surname(out[n - 1]) {
                1
            } else {
                0
            };
            if name_len > 0 {
                out.truncate(n - name_len);
                out.extend(MASK.chars());
                i += title.chars().count();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out.into_iter().collect()
}

fn mask_labelled_names(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let label = NAME_LABELS.iter().find(|label| {
            let label: Vec<char> = label.chars().collect();
            chars[i..].starts_with(&label)
        });
        let Some(label) = label else {
            out.push(chars[i]);
            i += 1;
            continue;
        };
        let label_len = label.chars().count();
        out.extend(&chars[i..i + label_len]);
        i += label_len;
        while i < chars.len() && matches!(chars[i], ':' | '：' | ' ' | '\u{3000}' | '为' | '是')
        {
            out.push(chars[i]);
            i += 1;
        }
        if i < chars.len() && is_surname(chars[i]) {
            let mut end = i + 1;
            while end < chars.len()
                && end < i + 3
                && is_cjk(chars[end])
                && !NAME_STOPS.contains(chars[end])
            {
                end += 1;
            }
            out.push_str(MASK);
            i = end;
        }
    }
    out
}

/// The ASCII character a full-width form (U+FF01–FF5E) stands for, or the character itself.
fn narrow(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

fn is_address_char(c: char) -> bool {
    let c = narrow(c);
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '%')
}

fn mask_emails(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if narrow(chars[i]) != '@' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut start = i;
        while start > 0 && is_address_char(chars[start - 1]) {
            start -= 1;
        }
        let mut end = i + 1;
        while end < chars.len() && is_address_char(chars[end]) {
            end += 1;
        }
        if start < i && end > i + 1 {
            // Drop the local part already written.
            out.truncate(out.len() - (i - start));
            out.extend(MASK.chars());
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// The value of a digit: ASCII, full-width or a Chinese numeral.
fn digit_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => c.to_digit(10),
        '\u{FF10}'..='\u{FF19}' => Some(c as u32 - 0xFF10),
        '〇' | '零' => Some(0),
        '一' | '幺' => Some(1),
        '二' => Some(2),
        '三' => Some(3),
        '四' => Some(4),
        '五' => Some(5),
        '六' => Some(6),
        '七' => Some(7),
        '八' => Some(8),
        '九' => Some(9),
        _ => None,
    }
}

fn is_digit(c: char) -> bool {
    digit_value(c).is_some()
}

fn is_separator(c: char) -> bool {
    matches!(
        narrow(c),
        ' ' | '-' | '.' | '+' | '(' | ')' | '/' | '_' | ','
    ) || matches!(
        c,
        '\u{3000}' | '\u{00A0}' | '\u{2010}'
            ..='\u{2015}' | '\u{2212}' | '·' | '・' | '～' | '~' | '（' | '）'
    )
}

/// A group of digits inside a run and the separators before it.
struct Group {
    /// Index of the first digit.
    start: usize,
    /// Index after the last digit.
    end: usize,
    /// The separators between the previous group and this one (narrowed).
    separators: String,
}

impl Group {
    fn len(&self) -> usize {
        self.end - self.start
    }
    fn value(&self, chars: &[char]) -> u32 {
        chars[self.start..self.end]
            .iter()
            .filter_map(|c| digit_value(*c))
            .fold(0u32, |value, digit| {
                value.saturating_mul(10).saturating_add(digit)
            })
    }
}

fn is_year(group: &Group, chars: &[char]) -> bool {
    group.len() == 4 && (1900..=2099).contains(&group.value(chars))
}

/// How many groups at the front of the run form an innocent number to keep verbatim, if any.
fn innocent_prefix(groups: &[Group], chars: &[char], out: &str) -> Option<usize> {
    let separator = |k: usize| groups[k].separators.as_str();
    // A date: year, month, day joined by the same single separator.
    if groups.len() >= 3
        && is_year(&groups[0], chars)
        && matches!(separator(1), "-" | "." | "/")
        && separator(1) == separator(2)
        && (1..=2).contains(&groups[1].len())
        && (1..=2).contains(&groups[2].len())
        && (1..=12).contains(&groups[1].value(chars))
        && (1..=31).contains(&groups[2].value(chars))
    {
        return Some(3);
    }
    // A year range.
    if groups.len() >= 2
        && is_year(&groups[0], chars)
        && is_year(&groups[1], chars)
        && matches!(separator(1), "-" | "~" | "\u{2013}" | "\u{2014}" | "～")
    {
        return Some(2);
    }
    // A case number, C + date + '-' + six digits.
    if groups.len() >= 2
        && out.ends_with('C')
        && !out
            .chars()
            .rev()
            .nth(1)
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && groups[0].len() == 8
        && groups[1].len() == 6
        && separator(1) == "-"
    {
        return Some(2);
    }
    None
}

/// Whether the whole run is an amount or a decimal that is not personal data.
fn innocent_whole(groups: &[Group]) -> bool {
    // Thousands: 1,000,000.
    let thousands = groups.len() >= 2
        && (1..=3).contains(&groups[0].len())
        && groups[1..]
            .iter()
            .all(|group| group.separators == "," && group.len() == 3);
    // A decimal with at most two places and a small integer part: 1234.56.
    let decimal = groups.len() == 2
        && groups[1].separators == "."
        && groups[1].len() <= 2
        && groups[0].len() < 6;
    thousands || decimal
}

fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_digit(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // Collect the run: groups of digits joined by at most three separators.
        let mut groups = vec![Group {
            start: i,
            end: i,
            separators: String::new(),
        }];
        let mut j = i;
        loop {
            while j < chars.len() && is_digit(chars[j]) {
                j += 1;
            }
            groups.last_mut().expect("one group").end = j;
            let mut k = j;
            while k < chars.len() && k < j + 3 && is_separator(chars[k]) {
                k += 1;
            }
            if k > j && k < chars.len() && is_digit(chars[k]) {
                groups.push(Group {
                    start: k,
                    end: k,
                    separators: chars[j..k].iter().map(|c| narrow(*c)).collect(),
                });
                j = k;
            } else {
                break;
            }
        }
        if let Some(n) = innocent_prefix(&groups, &chars, &out) {
            let end = groups[n - 1].end;
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        let end = groups.last().expect("one group").end;
        let digits: usize = groups.iter().map(Group::len).sum();
        if digits < 6 || innocent_whole(&groups) {
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        // A leading plus sign or opening parenthesis belongs to the number.
        while out.ends_with(['+', '＋', '(', '（']) {
            out.pop();
        }
        out.push_str(MASK);
        i = end;
        if i < chars.len() && matches!(narrow(chars[i]), 'X' | 'x') {
            i += 1;
        }
    }
    out
}
