//! `{props.NAME}` templates of data-source requests (I13).
//!
//! `{props.NAME}` is the only template syntax: any other text, braces included (a JSON body
//! is full of them), is literal. An unterminated `{props.` or a bad NAME is an error with the
//! position of its `{`, counted in characters from 1.

use std::collections::BTreeMap;

use super::names::{PROPERTY_NAME_RULE, is_property_name};

const OPEN: &str = "{props.";

/// A parsed template: literal text and property references, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template<'a> {
    segments: Vec<Segment<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment<'a> {
    Literal(&'a str),
    Property(&'a str),
}

/// Why a template does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// 1-based character position of the offending `{props.`.
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

/// The outcome of substituting values into a template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    pub text: String,
    /// Names without a value; their `{props.NAME}` is left in the text.
    pub unresolved: Vec<String>,
}

pub fn parse(text: &str) -> Result<Template<'_>, TemplateError> {
    let mut segments = Vec::new();
    let mut rest = text;
    let mut consumed = 0;
    while let Some(start) = rest.find(OPEN) {
        if start > 0 {
            segments.push(Segment::Literal(&rest[..start]));
        }
        let position = text[..consumed + start].chars().count() + 1;
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find('}') else {
            return Err(TemplateError {
                position,
                message: "unterminated `{props.`: expected `{props.NAME}`".into(),
            });
        };
        let name = &after[..end];
        if !is_property_name(name) {
            return Err(TemplateError {
                position,
                message: format!("bad property name in `{{props.{name}}}`: {PROPERTY_NAME_RULE}"),
            });
        }
        segments.push(Segment::Property(name));
        let used = start + OPEN.len() + end + 1;
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
            Segment::Literal(_) => None,
        })
    }

    /// The text with every property replaced by `placeholder` (to check a URL's shape).
    pub fn with_placeholder(&self, placeholder: &str) -> String {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(text) => *text,
                Segment::Property(_) => placeholder,
            })
            .collect()
    }

    /// Substitutes `values`; names without a value stay as `{props.NAME}`.
    pub fn render(&self, values: &BTreeMap<String, String>, encoding: Encoding) -> Rendered {
        let mut rendered = Rendered::default();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => rendered.text.push_str(text),
                Segment::Property(name) => match values.get(*name) {
                    Some(value) => match encoding {
                        Encoding::Raw => rendered.text.push_str(value),
                        Encoding::UrlComponent => percent_encode(value, &mut rendered.text),
                    },
                    None => {
                        rendered.text.push_str(OPEN);
                        rendered.text.push_str(name);
                        rendered.text.push('}');
                        if !rendered.unresolved.iter().any(|n| n == name) {
                            rendered.unresolved.push((*name).to_owned());
                        }
                    }
                },
            }
        }
        rendered
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
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn only_props_references_are_templates() {
        let body = r#"{"query": {"company": "{props.companyID}", "x": "{prop.y}"}}"#;
        let template = parse(body).unwrap();
        assert_eq!(template.properties().collect::<Vec<_>>(), ["companyID"]);
        let rendered = template.render(&values(&[("companyID", "42")]), Encoding::Raw);
        assert_eq!(
            rendered.text,
            r#"{"query": {"company": "42", "x": "{prop.y}"}}"#
        );
        assert!(rendered.unresolved.is_empty());
    }

    #[test]
    fn errors_name_the_position_of_the_brace() {
        let error = parse("https://x/é{props.a").unwrap_err();
        assert_eq!(error.position, 12);
        assert!(error.message.contains("unterminated"));
        let error = parse("ab{props.1x}").unwrap_err();
        assert_eq!(error.position, 3);
        assert!(error.message.contains("bad property name"));
        assert!(parse("{props.}").is_err());
        assert!(parse("{props.a.b}").is_err());
    }

    #[test]
    fn unresolved_names_stay_in_place_once_each() {
        let template = parse("{props.a}/{props.b}/{props.b}").unwrap();
        let rendered = template.render(&values(&[("a", "1")]), Encoding::Raw);
        assert_eq!(rendered.text, "1/{props.b}/{props.b}");
        assert_eq!(rendered.unresolved, ["b"]);
    }

    #[test]
    fn url_values_cannot_change_the_url_structure() {
        let template = parse("https://api/x?c={props.c}").unwrap();
        let rendered = template.render(&values(&[("c", "a&b=c/ é")]), Encoding::UrlComponent);
        assert_eq!(rendered.text, "https://api/x?c=a%26b%3Dc%2F%20%C3%A9");
    }

    #[test]
    fn text_without_templates_is_one_literal() {
        let template = parse("plain {text}").unwrap();
        assert_eq!(template.properties().count(), 0);
        assert_eq!(template.with_placeholder("x"), "plain {text}");
        assert_eq!(parse("").unwrap().with_placeholder("x"), "");
    }
}
