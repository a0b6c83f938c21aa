//! The cached data a binding refers to.

use crate::csv::read_records;

/// One binding's cached data.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// A JSON document.
    Json(serde_json::Value),
    /// A table: the header row, then the data rows (cells as text, as they were in the file).
    ///
    /// A path treats the table as a JSON array of row objects keyed by header: `@0.Amount`
    /// is the Amount column, `@0[0]` the first data row. Empty cells read as null.
    Csv {
        headers: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

/// CSV text that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CSV line {line}: {message}")]
pub struct CsvError {
    /// 1-based line where the problem starts.
    pub line: usize,
    pub message: String,
}

impl Data {
    /// Reads CSV text (RFC 4180: comma-separated, `"`-quoted fields with `""` for a quote,
    /// quoted fields may span lines, `\n` or `\r\n` line ends). The first record is the
    /// header row; blank lines and a leading byte-order mark are skipped.
    pub fn parse_csv(text: &str) -> Result<Data, CsvError> {
        let mut records = read_records(text)?.into_iter();
        let headers = records.next().unwrap_or_default();
        Ok(Data::Csv {
            headers,
            rows: records.collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_record_is_the_header() {
        let data = Data::parse_csv("Name,Amount\nAda,12\nGrace,30\n").unwrap();
        assert_eq!(
            data,
            Data::Csv {
                headers: vec!["Name".into(), "Amount".into()],
                rows: vec![
                    vec!["Ada".into(), "12".into()],
                    vec!["Grace".into(), "30".into()]
                ],
            }
        );
    }

    #[test]
    fn empty_text_is_an_empty_table() {
        assert_eq!(
            Data::parse_csv("").unwrap(),
            Data::Csv {
                headers: vec![],
                rows: vec![]
            }
        );
    }
}
