//! What a data source says about its pages and about the limit of its rate-limit key: the
//! refresh service follows the pages and keeps to the limit; the library checks and keeps
//! them.

use serde::{Deserialize, Serialize};
use trellis_platform::error::Violations;

use super::data_source::Format;

/// Most pages a data source may ask for.
pub const MAX_PAGES: i32 = 100;
/// Pages fetched when `max_pages` is zero.
pub const DEFAULT_MAX_PAGES: i32 = 10;
/// Longest page parameter name.
pub const MAX_PARAMETER_CHARS: usize = 100;
/// Longest path into a JSON page.
pub const MAX_PATH_CHARS: usize = 200;
/// Largest page size (records per page) of offset pagination.
pub const MAX_PAGE_SIZE: i32 = 100_000;
/// Largest first page number.
pub const MAX_FIRST_PAGE: i32 = 1_000_000;
/// Most rates of one limit.
pub const MAX_RATES: usize = 5;
/// Longest period of a rate.
pub const MAX_PERIOD_SECONDS: i64 = 366 * 24 * 3600;
/// Most requests in flight a limit may allow.
pub const MAX_CONCURRENT: i32 = 10_000;

/// Following the pages of a paginated API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    pub style: PageStyle,
    /// Where a JSON page's records are (`data/items`); empty: the page is an array.
    pub items_path: String,
    /// Pages at most; 0 means [`DEFAULT_MAX_PAGES`].
    pub max_pages: i32,
}

/// How the next page is found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PageStyle {
    /// At `next_link_path` of the JSON answer; empty: the `Link` header.
    NextLink { next_link_path: String },
    /// `parameter` = 1, 2, 3, … from `first_page` (0 means 1).
    PageNumber { parameter: String, first_page: i32 },
    /// `parameter` = 0, `page_size`, 2·`page_size`, …; `limit_parameter` carries the size.
    Offset {
        parameter: String,
        limit_parameter: String,
        page_size: i32,
    },
    /// `parameter` = the cursor found at `cursor_path` of the JSON answer.
    Cursor {
        parameter: String,
        cursor_path: String,
    },
}

impl PageStyle {
    /// The style's name in messages and its field in `Pagination`.
    pub fn name(&self) -> &'static str {
        match self {
            PageStyle::NextLink { .. } => "next_link",
            PageStyle::PageNumber { .. } => "page_number",
            PageStyle::Offset { .. } => "offset",
            PageStyle::Cursor { .. } => "cursor",
        }
    }
}

/// A limit of a data source's rate-limit key, kept across the account's family (F5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLimit {
    pub rates: Vec<Rate>,
    /// Requests in flight at once; 0: no cap.
    pub max_concurrent: i32,
}

/// At most `requests` per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub requests: i32,
    pub period_seconds: i64,
    pub period_nanos: i32,
}

impl Pagination {
    /// Checks the pagination of a data source read as `format`; fields under `field`
    /// (`data_source.pagination`).
    pub fn check(&self, violations: &mut Violations, field: &str, format: Format) {
        let style = format!("{field}.{}", self.style.name());
        match &self.style {
            PageStyle::NextLink { next_link_path } => {
                if format == Format::Csv && !next_link_path.is_empty() {
                    violations.add(
                        format!("{style}.next_link_path"),
                        "a CSV answer has no body path; leave it empty to follow the `Link` header",
                    );
                } else {
                    check_path(
                        violations,
                        &format!("{style}.next_link_path"),
                        next_link_path,
                    );
                }
            }
            PageStyle::PageNumber {
                parameter,
                first_page,
            } => {
                check_parameter(violations, &format!("{style}.parameter"), parameter);
                if !(0..=MAX_FIRST_PAGE).contains(first_page) {
                    violations.add(
                        format!("{style}.first_page"),
                        format!("must be between 0 (meaning 1) and {MAX_FIRST_PAGE}"),
                    );
                }
            }
            PageStyle::Offset {
                parameter,
                limit_parameter,
                page_size,
            } => {
                check_parameter(violations, &format!("{style}.parameter"), parameter);
                if !limit_parameter.is_empty() {
                    let limit_field = format!("{style}.limit_parameter");
                    check_parameter(violations, &limit_field, limit_parameter);
                    if limit_parameter == parameter {
                        violations.add(limit_field, "must differ from `parameter`");
                    }
                }
                if !(1..=MAX_PAGE_SIZE).contains(page_size) {
                    violations.add(
                        format!("{style}.page_size"),
                        format!("must be positive and at most {MAX_PAGE_SIZE}"),
                    );
                }
            }
            PageStyle::Cursor {
                parameter,
                cursor_path,
            } => {
                check_parameter(violations, &format!("{style}.parameter"), parameter);
                let path_field = format!("{style}.cursor_path");
                if format == Format::Csv {
                    violations.add(
                        path_field,
                        "a cursor is read from a JSON answer; CSV pages go by page number or offset",
                    );
                } else if cursor_path.is_empty() {
                    violations.add(
                        path_field,
                        "is required: where the next cursor is, e.g. meta/next_cursor",
                    );
                } else {
                    check_path(violations, &path_field, cursor_path);
                }
            }
        }
        let items_field = format!("{field}.items_path");
        if format == Format::Csv && !self.items_path.is_empty() {
            violations.add(
                items_field,
                "CSV pages are combined row by row; leave it empty",
            );
        } else {
            check_path(violations, &items_field, &self.items_path);
        }
        if !(0..=MAX_PAGES).contains(&self.max_pages) {
            violations.add(
                format!("{field}.max_pages"),
                format!("must be between 0 (meaning {DEFAULT_MAX_PAGES}) and {MAX_PAGES}"),
            );
        }
    }
}

/// A query parameter name: 1 to 100 characters on one line.
fn check_parameter(violations: &mut Violations, field: &str, name: &str) {
    if name.is_empty() {
        violations.add(field, "is required");
    } else if name.chars().count() > MAX_PARAMETER_CHARS {
        violations.add(
            field,
            format!("must be at most {MAX_PARAMETER_CHARS} characters"),
        );
    } else if name.chars().any(char::is_control) {
        violations.add(field, "must be one line without control characters");
    }
}

/// A path into a JSON answer: field names separated by `/` (`paging/next`); empty is
/// allowed here (each caller says what it means).
pub fn check_path(violations: &mut Violations, field: &str, path: &str) {
    if path.is_empty() {
        return;
    }
    if path.chars().count() > MAX_PATH_CHARS {
        violations.add(
            field,
            format!("must be at most {MAX_PATH_CHARS} characters"),
        );
    } else if path.chars().any(char::is_control) {
        violations.add(field, "must not contain control characters");
    } else if path.split('/').any(str::is_empty) {
        violations.add(
            field,
            "must be field names separated by `/`, e.g. `data/items`, without an empty name \
             (no leading, trailing or double `/`)",
        );
    }
}

impl SourceLimit {
    /// `None` for a limit without a rate or a cap: it limits nothing.
    pub fn normalized(self) -> Option<Self> {
        (!self.rates.is_empty() || self.max_concurrent != 0).then_some(self)
    }

    pub fn check(&self, violations: &mut Violations, field: &str) {
        if self.rates.len() > MAX_RATES {
            violations.add(
                format!("{field}.rates"),
                format!("at most {MAX_RATES} rates are allowed"),
            );
        }
        for (i, rate) in self.rates.iter().enumerate() {
            if rate.requests <= 0 {
                violations.add(format!("{field}.rates[{i}].requests"), "must be positive");
            }
            let positive =
                rate.period_seconds > 0 || (rate.period_seconds == 0 && rate.period_nanos > 0);
            let bounded = rate.period_seconds < MAX_PERIOD_SECONDS
                || (rate.period_seconds == MAX_PERIOD_SECONDS && rate.period_nanos == 0);
            if !(0..1_000_000_000).contains(&rate.period_nanos) || !positive || !bounded {
                violations.add(
                    format!("{field}.rates[{i}].period"),
                    "must be positive and at most 366 days",
                );
            }
        }
        if !(0..=MAX_CONCURRENT).contains(&self.max_concurrent) {
            violations.add(
                format!("{field}.max_concurrent"),
                format!("must be between 0 (no cap) and {MAX_CONCURRENT}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(pagination: &Pagination, format: Format) -> Vec<String> {
        let mut violations = Violations::new();
        pagination.check(&mut violations, "p", format);
        match violations.into_result() {
            Ok(()) => vec![],
            Err(error) => vec![error.to_string()],
        }
    }

    fn paged(style: PageStyle) -> Pagination {
        Pagination {
            style,
            items_path: String::new(),
            max_pages: 0,
        }
    }

    #[test]
    fn csv_pages_only_by_number_offset_or_link_header() {
        let link_header = paged(PageStyle::NextLink {
            next_link_path: String::new(),
        });
        assert!(problems(&link_header, Format::Csv).is_empty());
        let link_in_body = paged(PageStyle::NextLink {
            next_link_path: "paging/next".into(),
        });
        assert!(problems(&link_in_body, Format::Json).is_empty());
        assert!(!problems(&link_in_body, Format::Csv).is_empty());
        let cursor = paged(PageStyle::Cursor {
            parameter: "cursor".into(),
            cursor_path: "meta/next".into(),
        });
        assert!(problems(&cursor, Format::Json).is_empty());
        assert!(!problems(&cursor, Format::Csv).is_empty());
        let number = paged(PageStyle::PageNumber {
            parameter: "page".into(),
            first_page: 0,
        });
        assert!(problems(&number, Format::Csv).is_empty());
    }

    #[test]
    fn paths_are_slash_separated_names() {
        for (path, ok) in [
            ("", true),
            ("data", true),
            ("data/items", true),
            ("a b/ü", true),
            ("/data", false),
            ("data/", false),
            ("a//b", false),
            ("a\nb", false),
        ] {
            let mut violations = Violations::new();
            check_path(&mut violations, "f", path);
            assert_eq!(violations.is_empty(), ok, "{path:?}");
        }
    }

    #[test]
    fn limits() {
        let limit = |requests, period_seconds, period_nanos| SourceLimit {
            rates: vec![Rate {
                requests,
                period_seconds,
                period_nanos,
            }],
            max_concurrent: 0,
        };
        let ok = |limit: SourceLimit| {
            let mut violations = Violations::new();
            limit.check(&mut violations, "l");
            violations.is_empty()
        };
        assert!(ok(limit(10, 1, 0)));
        assert!(ok(limit(10, 0, 500_000_000)));
        assert!(ok(limit(10, MAX_PERIOD_SECONDS, 0)));
        assert!(!ok(limit(0, 1, 0)));
        assert!(!ok(limit(10, 0, 0)));
        assert!(!ok(limit(10, MAX_PERIOD_SECONDS, 1)));
        assert!(!ok(limit(10, -1, 0)));
        let six = SourceLimit {
            rates: vec![limit(1, 1, 0).rates[0]; 6],
            max_concurrent: 0,
        };
        assert!(!ok(six));
        let empty = SourceLimit {
            rates: vec![],
            max_concurrent: 0,
        };
        assert_eq!(empty.normalized(), None);
    }
}
