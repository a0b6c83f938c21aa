//! Parsing fetched bodies: JSON as is, CSV as a list of rows of strings (the header row
//! first), the shapes `CachedData.data` promises. A third party decides what it sends, so
//! parsing is bounded ([`Bounds`]): nesting depth, items of one array or object (rows of a
//! CSV) and the size of the data as a GetCachedData answer carries it. Each bound is checked
//! while parsing, so an oversized body is refused before it is held as a whole.

use serde_json::Value;

use super::bounded;
use super::wire_size::{field_len, list_len, string_len};
use crate::model::DataFormat;

/// What a fetched body may come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Deepest nesting, counted as `trellis_platform::validate::json_depth` counts it.
    pub max_depth: usize,
    /// Most items in one JSON array or object, and most rows of a CSV (the header included).
    pub max_rows: usize,
    /// Most bytes of the data as a `google.protobuf.Value` (what GetCachedData sends).
    pub max_bytes: u64,
}

impl Bounds {
    pub fn too_deep(&self) -> String {
        format!(
            "the response nests deeper than {} levels, more than a data source may hold",
            self.max_depth
        )
    }

    pub fn too_many_rows(&self) -> String {
        format!(
            "the response has more than {} rows (items of one array or object), more than a data source may hold",
            self.max_rows
        )
    }

    pub fn too_large(&self) -> String {
        format!(
            "the response's data is larger than the limit of {} bytes as cached",
            self.max_bytes
        )
    }
}

pub fn parse(format: DataFormat, body: &[u8], bounds: &Bounds) -> Result<Value, String> {
    match format {
        DataFormat::Json => bounded::json(body, bounds),
        DataFormat::Csv => csv(body, bounds),
    }
}

/// Rows are counted and sized as they are read; reading stops at the first bound crossed.
fn csv(body: &[u8], bounds: &Bounds) -> Result<Value, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut rows = Vec::new();
    let mut framed_rows = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => return Err(format!("the response is not valid CSV: {error}")),
        }
        if rows.len() >= bounds.max_rows {
            return Err(bounds.too_many_rows());
        }
        let row_len = list_len(
            record
                .iter()
                .map(|field| field_len(string_len(field.len())))
                .sum(),
        );
        framed_rows += field_len(row_len);
        if list_len(framed_rows) > bounds.max_bytes {
            return Err(bounds.too_large());
        }
        rows.push(Value::Array(
            record
                .iter()
                .map(|field| Value::String(field.to_owned()))
                .collect(),
        ));
    }
    Ok(Value::Array(rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::wire_size::value_len;

    const ROOMY: Bounds = Bounds {
        max_depth: 32,
        max_rows: 1000,
        max_bytes: 1 << 20,
    };

    #[test]
    fn csv_becomes_rows_with_the_header_first() {
        let parsed = parse(
            DataFormat::Csv,
            b"region,sales\nnorth,10\n\"south, east\",20\n",
            &ROOMY,
        )
        .unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([["region", "sales"], ["north", "10"], ["south, east", "20"]])
        );
    }

    #[test]
    fn json_parses_and_bad_bodies_say_why() {
        assert_eq!(
            parse(DataFormat::Json, b"{\"a\": [1, 2]}", &ROOMY).unwrap(),
            serde_json::json!({"a": [1, 2]})
        );
        let error = parse(DataFormat::Json, b"<html>", &ROOMY).unwrap_err();
        assert!(error.contains("not valid JSON"), "{error}");
        let error = parse(DataFormat::Json, b"[1] [2]", &ROOMY).unwrap_err();
        assert!(error.contains("not valid JSON"), "{error}");
    }

    #[test]
    fn csv_rows_are_bounded_while_reading() {
        let body = "a,b\n".repeat(1001);
        assert_eq!(
            parse(DataFormat::Csv, body.as_bytes(), &ROOMY).unwrap_err(),
            ROOMY.too_many_rows()
        );
        let fits = "a,b\n".repeat(1000);
        let parsed = parse(DataFormat::Csv, fits.as_bytes(), &ROOMY).unwrap();
        let small = Bounds {
            max_bytes: value_len(&parsed) - 1,
            ..ROOMY
        };
        assert_eq!(
            parse(DataFormat::Csv, fits.as_bytes(), &small).unwrap_err(),
            small.too_large()
        );
        let exact = Bounds {
            max_bytes: value_len(&parsed),
            ..ROOMY
        };
        assert!(parse(DataFormat::Csv, fits.as_bytes(), &exact).is_ok());
    }
}
