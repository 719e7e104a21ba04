//! The public masking rule (desensitise.v2) on a table of nasty inputs: what must be masked and
//! what must stay readable.

use caseledger_domain::privacy::{mask_personal_data, mask_personal_data_and_names, MASK};

/// (input, expected output). Each row is one way personal data was typed in practice.
const MASKED: &[(&str, &str)] = &[
    // Mobile numbers in every spelling.
    ("电话13812345678", "电话***"),
    ("电话１３８１２３４５６７８", "电话***"),
    ("电话138.1234.5678", "电话***"),
    ("电话138 1234 5678", "电话***"),
    ("电话138-1234-5678", "电话***"),
    ("电话138－1234－5678", "电话***"),
    ("电话138—1234—5678", "电话***"),
    ("电话１３８　１２３４　５６７８", "电话***"),
    ("电话+86 138 1234 5678", "电话***"),
    ("电话+86-13812345678", "电话***"),
    ("电话＋８６１３８１２３４５６７８", "电话***"),
    ("电话(+86)138.1234.5678。", "电话***。"),
    ("电话138 - 1234 - 5678", "电话***"),
    ("电话138/1234/5678", "电话***"),
    ("电话一三八一二三四五六七八", "电话***"),
    ("电话幺三八 幺二三四 五六七八", "电话***"),
    // Landlines.
    ("座机010-6512 3456", "座机***"),
    ("座机(010)65123456", "座机***"),
    ("座机（010）6512-3456", "座机***"),
    ("座机０１０－６５１２３４５６", "座机***"),
    ("座机65123456转8001", "座机***转8001"),
    // ID numbers, 18 digits with X or x, 15 digits, full width.
    ("身份证11010519491231002X。", "身份证***。"),
    ("身份证11010519491231002x。", "身份证***。"),
    (
        "身份证１１０１０５１９４９１２３１００２Ｘ。",
        "身份证***。",
    ),
    ("身份证110105 19491231 002X。", "身份证***。"),
    ("身份证110105491231002号", "身份证***号"),
    // E-mail addresses, ASCII and full width.
    ("邮箱 zhang.san@example.com 联系", "邮箱 *** 联系"),
    ("邮箱ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ。", "邮箱***。"),
    // Names the text marks as names.
    ("王科长说好", "***说好"),
    ("感谢李明主任帮助", "感谢***帮助"),
    ("张先生已回复", "***已回复"),
    ("联系人：张三，电话13812345678", "联系人：***，电话***"),
    ("经办人刘晓明电话13812345678", "经办人***电话***"),
    // Numbers after a date or beside innocent numbers are still masked.
    ("2026-12-03 13812345678", "2026-12-03 ***"),
];

/// Innocent text: must come out unchanged.
const KEPT: &[&str] = &[
    "2026年12月3日办结",
    "2026-12-03办结，2026.12.04回访，2026/12/05归档",
    "2025-2026年度",
    "奖励50万元，补贴1,000,000元",
    "得分95.5，金额1234.56元",
    "3天内办完，共120户企业，300人",
    "案件C20261203-000123已办结",
    "第一、二、三批",
    "办事快，服务好",
    "请拨打12345热线",
    "10:20到场",
];

#[test]
fn personal_data_is_masked_in_every_spelling() {
    for (input, expected) in MASKED {
        assert_eq!(&mask_personal_data(input), expected, "input {input}");
    }
}

#[test]
fn innocent_numbers_and_text_stay_readable() {
    for input in KEPT {
        assert_eq!(&mask_personal_data(input), input);
    }
}

#[test]
fn masking_masked_text_changes_nothing() {
    for (input, _) in MASKED {
        let once = mask_personal_data(input);
        assert_eq!(mask_personal_data(&once), once, "input {input}");
    }
}

#[test]
fn no_digit_of_a_masked_number_survives() {
    for (input, _) in MASKED {
        let masked = mask_personal_data(input);
        for leaked in [
            "1234",
            "５６７８",
            "5678",
            "3456",
            "002",
            "example",
            "＠",
            "@",
        ] {
            assert!(
                !masked.contains(leaked),
                "{leaked} in {masked} (from {input})"
            );
        }
    }
}

#[test]
fn listed_names_are_masked_longest_first() {
    assert_eq!(
        mask_personal_data_and_names("张三丰和张三都来了", &["张三".into(), "张三丰".into()]),
        format!("{MASK}和{MASK}都来了")
    );
}

#[test]
fn award_notices_keep_the_named_subject_but_lose_contact_data() {
    use caseledger_domain::privacy::mask_contact_data;
    assert_eq!(
        mask_contact_data("王明同志扎根基层，电话１３８１２３４５６７８，身份证110105194912310021"),
        "王明同志扎根基层，电话***，身份证***"
    );
    assert_eq!(mask_contact_data("联系人张三138.1234.5678"), "联系人******");
}
