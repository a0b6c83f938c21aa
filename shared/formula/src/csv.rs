//! A small RFC 4180 reader, enough for the CSV sources Trellis caches; kept in-crate so the
//! formula engine stays dependency-light and never touches I/O.

use crate::data::CsvError;

/// Splits CSV text into records of fields.
pub(crate) fn read_records(text: &str) -> Result<Vec<Vec<String>>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::default();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let mut quote_opened_on = 0;
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        }
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    reader.field.push('"');
                }
                '"' => in_quotes = false,
                c => reader.field.push(c),
            }
            continue;
        }
        match c {
            // A quote opens a quoted field only at the field's start; elsewhere it is text.
            '"' if reader.field.is_empty() => {
                in_quotes = true;
                quote_opened_on = line;
            }
            ',' => reader.end_field(),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' => reader.end_record(),
            c => reader.field.push(c),
        }
    }
    if in_quotes {
        return Err(CsvError {
            line: quote_opened_on,
            message: "quoted field is not closed".to_string(),
        });
    }
    reader.end_record();
    Ok(reader.records)
}

#[derive(Default)]
struct Reader {
    records: Vec<Vec<String>>,
    record: Vec<String>,
    field: String,
}

impl Reader {
    fn end_field(&mut self) {
        self.record.push(std::mem::take(&mut self.field));
    }

    fn end_record(&mut self) {
        self.end_field();
        let record = std::mem::take(&mut self.record);
        // A blank line reads as one empty field; it is not a row.
        if !matches!(record.as_slice(), [only] if only.is_empty()) {
            self.records.push(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<Vec<String>> {
        read_records(text).unwrap()
    }

    #[test]
    fn reads_quoted_fields() {
        assert_eq!(
            records("a,\"b, c\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",,x"),
            [vec!["a", "b, c", "say \"hi\""], vec!["two\nlines", "", "x"]]
        );
    }

    #[test]
    fn skips_blank_lines_and_bom() {
        assert_eq!(records("\u{feff}h\n\n1\n\n"), [vec!["h"], vec!["1"]]);
        assert_eq!(records("a,b\n"), [vec!["a", "b"]]);
    }

    #[test]
    fn quote_inside_a_field_is_text() {
        assert_eq!(records("5\" disk,x"), [vec!["5\" disk", "x"]]);
    }

    #[test]
    fn unclosed_quote_is_an_error_at_its_line() {
        let error = read_records("h\nok\n\"open,\nmore").unwrap_err();
        assert_eq!(error.line, 3);
        assert_eq!(error.to_string(), "CSV line 3: quoted field is not closed");
    }
}
