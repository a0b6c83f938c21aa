//! Parsing fetched bodies: JSON as is, CSV as a list of rows of strings (the header row
//! first), the shapes `CachedData.data` promises.

use serde_json::Value;

use crate::model::DataFormat;

pub fn parse(format: DataFormat, body: &[u8]) -> Result<Value, String> {
    match format {
        DataFormat::Json => serde_json::from_slice(body)
            .map_err(|error| format!("the response is not valid JSON: {error}")),
        DataFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(body);
            let mut rows = Vec::new();
            for record in reader.records() {
                let record =
                    record.map_err(|error| format!("the response is not valid CSV: {error}"))?;
                rows.push(Value::Array(
                    record
                        .iter()
                        .map(|field| Value::String(field.to_owned()))
                        .collect(),
                ));
            }
            Ok(Value::Array(rows))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_becomes_rows_with_the_header_first() {
        let parsed = parse(
            DataFormat::Csv,
            b"region,sales\nnorth,10\n\"south, east\",20\n",
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
            parse(DataFormat::Json, b"{\"a\": [1, 2]}").unwrap(),
            serde_json::json!({"a": [1, 2]})
        );
        let error = parse(DataFormat::Json, b"<html>").unwrap_err();
        assert!(error.contains("not valid JSON"), "{error}");
    }
}
