//! Following a path's steps through data.
//!
//! A path works on a flat list of nodes. JSON arrays are always flattened into the list, so a
//! key step maps over every element: `@0.items.amount` is every item's amount. A key that an
//! object lacks, or a key step on something that is not an object, gives one null, which keeps
//! lists read from the same array aligned. An index step picks one node from the list. CSV
//! data is a list of rows, and a row answers key steps by column header.
//!
//! Nodes borrow the cached data, so only the values a path ends on are copied. Every node a
//! step visits is a step of the budget, and the bytes of what is copied out are counted
//! before it is copied.

use serde_json::{Map, Value as Json};

use crate::ast::Step;
use crate::budget::{Meter, SCALAR_BYTES, json_bytes};
use crate::data::Data;
use crate::error::EvalError;
use crate::value::{Scalar, Value};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Node<'a> {
    /// Never an array: arrays are flattened on the way in.
    Json(&'a Json),
    Row {
        headers: &'a [String],
        cells: &'a [String],
    },
    /// A non-empty CSV cell.
    Cell(&'a str),
    /// A value computed by the formula rather than read from a binding.
    Computed(&'a Scalar),
    Null,
}

/// The nodes a binding's whole data stands for.
pub(crate) fn data_nodes<'a>(data: &'a Data, meter: &Meter) -> Result<Vec<Node<'a>>, EvalError> {
    let nodes = match data {
        Data::Json(json) => {
            let mut nodes = Vec::new();
            push_json(&mut nodes, json);
            nodes
        }
        Data::Csv { headers, rows } => rows
            .iter()
            .map(|cells| Node::Row { headers, cells })
            .collect(),
    };
    meter.steps(nodes.len())?;
    Ok(nodes)
}

/// The nodes for a computed value, so steps can read fields of objects it holds.
pub(crate) fn value_nodes(value: &Value) -> Vec<Node<'_>> {
    value.iter().map(Node::Computed).collect()
}

/// Applies `steps` in order.
pub(crate) fn follow<'a>(
    mut nodes: Vec<Node<'a>>,
    steps: &[Step],
    meter: &Meter,
) -> Result<Vec<Node<'a>>, EvalError> {
    for step in steps {
        meter.steps(nodes.len())?;
        nodes = match step {
            Step::Key(key) => {
                let mut next = Vec::with_capacity(nodes.len());
                let mut columns = ColumnCache::default();
                for node in &nodes {
                    member(&mut next, node, key, &mut columns, meter)?;
                }
                // Members that are arrays were flattened into more nodes.
                meter.steps(next.len().saturating_sub(nodes.len()))?;
                next
            }
            Step::Index(index) => vec![pick(&nodes, *index)],
        };
    }
    Ok(nodes)
}

/// Copies the nodes out as the formula's values; `context` names the path in a budget error.
pub(crate) fn into_value(
    nodes: Vec<Node<'_>>,
    meter: &Meter,
    context: &str,
) -> Result<Value, EvalError> {
    let mut values = Vec::with_capacity(nodes.len());
    for node in nodes {
        meter.bytes(node_bytes(node), context)?;
        values.push(node_scalar(node));
    }
    Ok(Value(values))
}

/// The bytes of the scalar a node becomes, worked out before it is copied.
fn node_bytes(node: Node<'_>) -> usize {
    match node {
        Node::Json(json) => SCALAR_BYTES + json_bytes(json),
        Node::Row { headers, cells } => {
            SCALAR_BYTES
                + headers.iter().map(|h| h.len() + 4).sum::<usize>()
                + cells.iter().map(|c| c.len() + 2).sum::<usize>()
        }
        Node::Cell(text) => SCALAR_BYTES + text.len(),
        Node::Computed(scalar) => scalar.size(),
        Node::Null => SCALAR_BYTES,
    }
}

/// Pushes `json`, flattening nested arrays without recursion.
fn push_json<'a>(out: &mut Vec<Node<'a>>, json: &'a Json) {
    let mut pending = vec![json];
    while let Some(json) = pending.pop() {
        match json {
            Json::Array(items) => pending.extend(items.iter().rev()),
            other => out.push(Node::Json(other)),
        }
    }
}

fn push_member<'a>(out: &mut Vec<Node<'a>>, object: &'a Map<String, Json>, key: &str) {
    match object.get(key) {
        Some(json) => push_json(out, json),
        None => out.push(Node::Null),
    }
}

/// The column a key names in the header row last looked up: the rows of one table share
/// their header slice, so a key step over them scans the headers once.
#[derive(Default)]
struct ColumnCache<'a> {
    headers: Option<&'a [String]>,
    column: Option<usize>,
}

impl<'a> ColumnCache<'a> {
    /// The column of `key` in `headers`; a scan the cache cannot answer costs one step per
    /// header, so a wide header row is bounded by the budget like any other work.
    fn column(
        &mut self,
        headers: &'a [String],
        key: &str,
        meter: &Meter,
    ) -> Result<Option<usize>, EvalError> {
        let cached = self.headers.is_some_and(|seen| std::ptr::eq(seen, headers));
        if !cached {
            meter.steps(headers.len())?;
            self.headers = Some(headers);
            self.column = headers.iter().position(|header| header == key);
        }
        Ok(self.column)
    }
}

fn member<'a>(
    out: &mut Vec<Node<'a>>,
    node: &Node<'a>,
    key: &str,
    columns: &mut ColumnCache<'a>,
    meter: &Meter,
) -> Result<(), EvalError> {
    match *node {
        Node::Json(Json::Object(object)) => push_member(out, object, key),
        Node::Computed(Scalar::Object(object)) => push_member(out, object, key),
        Node::Row { headers, cells } => {
            let cell = columns
                .column(headers, key, meter)?
                .and_then(|column| cells.get(column));
            out.push(match cell {
                Some(text) if !text.is_empty() => Node::Cell(text),
                _ => Node::Null,
            });
        }
        _ => out.push(Node::Null),
    }
    Ok(())
}

/// The `index`-th node (negative counts from the end), or null past either end.
fn pick<'a>(nodes: &[Node<'a>], index: i64) -> Node<'a> {
    let position = if index < 0 {
        usize::try_from(index.unsigned_abs())
            .ok()
            .and_then(|back| nodes.len().checked_sub(back))
    } else {
        usize::try_from(index).ok()
    };
    position
        .and_then(|i| nodes.get(i))
        .copied()
        .unwrap_or(Node::Null)
}

fn node_scalar(node: Node<'_>) -> Scalar {
    match node {
        Node::Json(json) => json_scalar(json),
        Node::Row { headers, cells } => Scalar::Object(row_object(headers, cells)),
        Node::Cell(text) => Scalar::Text(text.to_string()),
        Node::Computed(scalar) => scalar.clone(),
        Node::Null => Scalar::Null,
    }
}

fn json_scalar(json: &Json) -> Scalar {
    match json {
        Json::Null => Scalar::Null,
        Json::Bool(b) => Scalar::Bool(*b),
        Json::Number(n) => n.as_f64().map_or(Scalar::Null, Scalar::Number),
        Json::String(text) => Scalar::Text(text.clone()),
        Json::Object(object) => Scalar::Object(object.clone()),
        // Unreachable: arrays are flattened into the node list.
        Json::Array(_) => Scalar::Null,
    }
}

/// A row as an object keyed by header; the first of two equal headers wins, as in lookups.
fn row_object(headers: &[String], cells: &[String]) -> Map<String, Json> {
    let mut object = Map::new();
    for (column, header) in headers.iter().enumerate() {
        if !object.contains_key(header) {
            let cell = match cells.get(column) {
                Some(text) if !text.is_empty() => Json::String(text.clone()),
                _ => Json::Null,
            };
            object.insert(header.clone(), cell);
        }
    }
    object
}
