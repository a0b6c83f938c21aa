//! The cached data a binding refers to.
//!
//! The formula engine reads no files: a CSV table arrives already split into cells (the
//! refresh service reads the CSV; the library service turns its rows into [`Data::Csv`]).

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
