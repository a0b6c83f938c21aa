//! Parsing fetched bodies: JSON as is, CSV as a list of rows of strings (the header row
//! first), the shapes `CachedData.data` promises. A third party decides what it sends, so
//! parsing is bounded ([`Bounds`]): nesting depth, items of one array or object (rows of a
//! CSV), columns of a CSV record, the size of the data as a GetCachedData answer carries it
//! and the memory the parsed data takes. Each bound is checked while parsing, so an
//! oversized body is refused before it is held as a whole. A NUL character is refused too:
//! the cache (PostgreSQL `jsonb`) cannot hold one.

use serde_json::Value;

use super::bounded;
use super::wire_size::{field_len, list_len, string_len};
use crate::domain::job::DataFormat;

/// Most fields of one CSV record: a formula's lookups cost columns × rows.
pub const MAX_CSV_COLUMNS: usize = 1_000;

/// Most memory parsed data may take, estimated as [`bounded`] charges it (at least 64 bytes
/// a value, more for each object's map, plus the text): the size as cached counts wire
/// bytes, and `{"":0}` takes 17 of those but some 600 bytes in memory.
pub const MAX_PARSED_MEMORY: u64 = 64 * 1024 * 1024;

/// Memory charged for every parsed value, whatever it is (a `serde_json::Value` is 32
/// bytes, plus its slot in the array or map holding it).
pub const VALUE_MEMORY: u64 = 64;

/// What a fetched body may come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Deepest nesting, counted as `trellis_platform::validate::json_depth` counts it.
    pub max_depth: usize,
    /// Most items in one JSON array or object, and most rows of a CSV (the header included).
    pub max_rows: usize,
    /// Most bytes of the data as a `google.protobuf.Value` (what GetCachedData sends).
    pub max_bytes: u64,
    /// Most fields of one CSV record.
    pub max_columns: usize,
    /// Most memory the parsed data may take, as estimated while parsing.
    pub max_memory: u64,
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

    pub fn too_many_columns(&self) -> String {
        format!(
            "the response has a CSV record of more than {} columns, more than a data source may hold",
            self.max_columns
        )
    }

    pub fn too_much_memory(&self) -> String {
        format!(
            "the response's data would take more than {} bytes of memory once parsed (too many values), more than a data source may hold",
            self.max_memory
        )
    }

    pub fn has_nul() -> String {
        "the response contains a NUL character (`\\u0000` in JSON, a zero byte in CSV), which cached data cannot hold".to_owned()
    }

    pub fn too_large(&self) -> String {
        format!(
            "the response's data is larger than the limit of {} bytes as cached",
            self.max_bytes
        )
    }
}

pub fn parse(format: DataFormat, body: &[u8], bounds: &Bounds) -> Result<Value, String> {
    parse_counted(format, body, bounds).map(|(value, _)| value)
}

/// [`parse`], with the memory the data takes as estimated (the pages of one fetch share
/// the memory bound).
pub fn parse_counted(
    format: DataFormat,
    body: &[u8],
    bounds: &Bounds,
) -> Result<(Value, u64), String> {
    match format {
        DataFormat::Json => bounded::json_counted(body, bounds),
        DataFormat::Csv => csv(body, bounds),
    }
}

/// Rows are counted and sized as they are read; reading stops at the first bound crossed.
fn csv(body: &[u8], bounds: &Bounds) -> Result<(Value, u64), String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut rows = Vec::new();
    let mut framed_rows = 0u64;
    let mut memory = VALUE_MEMORY;
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
        if record.len() > bounds.max_columns {
            return Err(bounds.too_many_columns());
        }
        if record.iter().any(|field| field.contains('\0')) {
            return Err(Bounds::has_nul());
        }
        memory += VALUE_MEMORY
            + record
                .iter()
                .map(|field| VALUE_MEMORY + field.len() as u64)
                .sum::<u64>();
        if memory > bounds.max_memory {
            return Err(bounds.too_much_memory());
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
    Ok((Value::Array(rows), memory))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::wire_size::value_len;

    const ROOMY: Bounds = Bounds {
        max_depth: 32,
        max_rows: 1000,
        max_bytes: 1 << 20,
        max_columns: 10,
        max_memory: 1 << 24,
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

    #[test]
    fn csv_columns_and_nul_bytes_are_refused() {
        let fits = format!("{}\n", ["c"; 10].join(","));
        assert!(parse(DataFormat::Csv, fits.as_bytes(), &ROOMY).is_ok());
        let wide = format!("a\n{}\n", ["c"; 11].join(","));
        assert_eq!(
            parse(DataFormat::Csv, wide.as_bytes(), &ROOMY).unwrap_err(),
            ROOMY.too_many_columns()
        );
        assert_eq!(
            parse(DataFormat::Csv, b"a,b\nx\0y,1\n", &ROOMY).unwrap_err(),
            Bounds::has_nul()
        );
    }

    #[test]
    fn csv_memory_is_bounded() {
        let body = "a,b\n".repeat(100);
        // The list, and per row the row and two one-byte fields.
        let memory = VALUE_MEMORY + 100 * (3 * VALUE_MEMORY + 2);
        let exact = Bounds {
            max_memory: memory,
            ..ROOMY
        };
        assert!(parse(DataFormat::Csv, body.as_bytes(), &exact).is_ok());
        let short = Bounds {
            max_memory: memory - 1,
            ..ROOMY
        };
        assert_eq!(
            parse(DataFormat::Csv, body.as_bytes(), &short).unwrap_err(),
            short.too_much_memory()
        );
    }
}
