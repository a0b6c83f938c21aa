//! Templates of data-source requests: `{props.NAME}` (I13), `{date.EXPR}` /
//! `{date.EXPR|FORMAT}` (see [`super::dates`]) and `{token.NAME}`.
//!
//! These three are the only template syntax: any other text, braces included (a JSON body
//! is full of them), is literal. An unterminated placeholder, a bad NAME, an unknown date
//! expression or format is an error with the position of its `{`, counted in characters
//! from 1. `{token.NAME}` is left as it is for the refresh service, which fills it from the
//! OAuth token's parameters at fetch time.

use std::collections::BTreeMap;

use super::dates::{DateExpr, DateFormat, DateValues};
use super::names::{PROPERTY_NAME_RULE, is_property_name};

/// The openings of placeholders, each with what it holds.
const OPENINGS: [(&str, Kind); 3] = [
    ("{props.", Kind::Property),
    ("{date.", Kind::Date),
    ("{token.", Kind::Token),
];
const TOKEN_OPEN: &str = "{token.";
const PROPS_OPEN: &str = "{props.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Property,
    Date,
    Token,
}

/// A parsed template: literal text and placeholders, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template<'a> {
    segments: Vec<Segment<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment<'a> {
    Literal(&'a str),
    Property(&'a str),
    Date(DateExpr, DateFormat),
    Token(&'a str),
}

/// Why a template does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// 1-based character position of the offending `{`.
    pub position: usize,
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at character {}: {}", self.position, self.message)
    }
}

/// How substituted values are written into the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As is (header values, bodies, rate-limit keys).
    Raw,
    /// Percent-encoded except RFC 3986 unreserved characters, so that a value can never
    /// change the structure of a URL (add a path segment or a query parameter).
    UrlComponent,
}

/// What a template is rendered with: property values and, for dates, today and the range.
#[derive(Debug, Clone, Copy)]
pub struct Values<'v> {
    pub properties: &'v BTreeMap<String, String>,
    pub dates: &'v DateValues,
}

/// The outcome of substituting values into a template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    pub text: String,
    /// Names without a value; their `{props.NAME}` is left in the text.
    pub unresolved: Vec<String>,
}

/// The earliest placeholder opening in `text`: its byte offset and kind.
fn next_opening(text: &str) -> Option<(usize, &'static str, Kind)> {
    let mut from = 0;
    while let Some(found) = text[from..].find('{') {
        let at = from + found;
        if let Some((open, kind)) = OPENINGS
            .iter()
            .find(|(open, _)| text[at..].starts_with(open))
        {
            return Some((at, open, *kind));
        }
        from = at + 1;
    }
    None
}

fn segment<'a>(kind: Kind, inner: &'a str) -> Result<Segment<'a>, String> {
    match kind {
        Kind::Property if is_property_name(inner) => Ok(Segment::Property(inner)),
        Kind::Property => Err(format!(
            "bad property name in `{{props.{inner}}}`: {PROPERTY_NAME_RULE}"
        )),
        Kind::Token if is_property_name(inner) => Ok(Segment::Token(inner)),
        Kind::Token => Err(format!(
            "bad token parameter name in `{{token.{inner}}}`: {PROPERTY_NAME_RULE}"
        )),
        Kind::Date => {
            let (expr, format) = match inner.split_once('|') {
                Some((expr, format)) => (expr, Some(format)),
                None => (inner, None),
            };
            let expr = DateExpr::parse(expr).map_err(|e| format!("in `{{date.{inner}}}`: {e}"))?;
            let format = match format {
                None => DateFormat::Iso,
                Some(format) => {
                    DateFormat::parse(format).map_err(|e| format!("in `{{date.{inner}}}`: {e}"))?
                }
            };
            Ok(Segment::Date(expr, format))
        }
    }
}

pub fn parse(text: &str) -> Result<Template<'_>, TemplateError> {
    let mut segments = Vec::new();
    let mut rest = text;
    let mut consumed = 0;
    while let Some((start, open, kind)) = next_opening(rest) {
        if start > 0 {
            segments.push(Segment::Literal(&rest[..start]));
        }
        let position = text[..consumed + start].chars().count() + 1;
        let after = &rest[start + open.len()..];
        let Some(end) = after.find('}') else {
            let expected = match kind {
                Kind::Property => "`{props.NAME}`",
                Kind::Date => "`{date.EXPR}` or `{date.EXPR|FORMAT}`",
                Kind::Token => "`{token.NAME}`",
            };
            return Err(TemplateError {
                position,
                message: format!("unterminated `{open}`: expected {expected}"),
            });
        };
        let segment =
            segment(kind, &after[..end]).map_err(|message| TemplateError { position, message })?;
        segments.push(segment);
        let used = start + open.len() + end + 1;
        consumed += used;
        rest = &rest[used..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Literal(rest));
    }
    Ok(Template { segments })
}

impl<'a> Template<'a> {
    /// The property names referenced, in order, with repetitions.
    pub fn properties(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Property(name) => Some(*name),
            _ => None,
        })
    }

    /// The `{token.NAME}` names, in order, with repetitions.
    pub fn tokens(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Token(name) => Some(*name),
            _ => None,
        })
    }

    /// Whether a `{date.range.start}` or `{date.range.end}` is used.
    pub fn uses_range(&self) -> bool {
        self.segments
            .iter()
            .any(|segment| matches!(segment, Segment::Date(expr, _) if expr.uses_range()))
    }

    /// The text with every property and date replaced by `placeholder`, to check a URL's
    /// shape. A `{token.NAME}` stands for `placeholder` too, except at the very start, where
    /// it stands for a base URL (`https://x`): a provider's instance URL, such as
    /// Salesforce's `instance_url`.
    pub fn with_placeholder(&self, placeholder: &str) -> String {
        self.segments
            .iter()
            .enumerate()
            .map(|(i, segment)| match segment {
                Segment::Literal(text) => *text,
                Segment::Token(_) if i == 0 => "https://x",
                _ => placeholder,
            })
            .collect()
    }

    /// Substitutes `values`; names without a value stay as `{props.NAME}`, and every
    /// `{token.NAME}` stays as it is. A date that cannot be written is an error.
    pub fn render(&self, values: Values<'_>, encoding: Encoding) -> Result<Rendered, String> {
        let mut rendered = Rendered::default();
        let write = |text: &str, out: &mut String| match encoding {
            Encoding::Raw => out.push_str(text),
            Encoding::UrlComponent => percent_encode(text, out),
        };
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => rendered.text.push_str(text),
                Segment::Property(name) => match values.properties.get(*name) {
                    Some(value) => write(value, &mut rendered.text),
                    None => {
                        rendered.text.push_str(PROPS_OPEN);
                        rendered.text.push_str(name);
                        rendered.text.push('}');
                        if !rendered.unresolved.iter().any(|n| n == name) {
                            rendered.unresolved.push((*name).to_owned());
                        }
                    }
                },
                Segment::Date(expr, format) => {
                    let text = values.dates.text(*expr, format)?;
                    write(&text, &mut rendered.text);
                }
                Segment::Token(name) => {
                    rendered.text.push_str(TOKEN_OPEN);
                    rendered.text.push_str(name);
                    rendered.text.push('}');
                }
            }
        }
        Ok(rendered)
    }
}

fn percent_encode(value: &str, out: &mut String) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

#[cfg(test)]
mod tests;
