//! A data source's pagination, date range and rate-limit key limit on the wire.

use trellis_platform::error::Violations;
use trellis_proto::library::v1 as pb;
use trellis_proto::library::v1::pagination::Style;

use crate::domain::dates::DateRange;
use crate::domain::pagination::{PageStyle, Pagination, Rate, SourceLimit};

pub fn pagination_to_proto(pagination: &Pagination) -> pb::Pagination {
    let style = match &pagination.style {
        PageStyle::NextLink { next_link_path } => Style::NextLink(pb::NextLinkPagination {
            next_link_path: next_link_path.clone(),
        }),
        PageStyle::PageNumber {
            parameter,
            first_page,
        } => Style::PageNumber(pb::PageNumberPagination {
            parameter: parameter.clone(),
            first_page: *first_page,
        }),
        PageStyle::Offset {
            parameter,
            limit_parameter,
            page_size,
        } => Style::Offset(pb::OffsetPagination {
            parameter: parameter.clone(),
            limit_parameter: limit_parameter.clone(),
            page_size: *page_size,
        }),
        PageStyle::Cursor {
            parameter,
            cursor_path,
        } => Style::Cursor(pb::CursorPagination {
            parameter: parameter.clone(),
            cursor_path: cursor_path.clone(),
        }),
    };
    pb::Pagination {
        style: Some(style),
        items_path: pagination.items_path.clone(),
        max_pages: pagination.max_pages,
    }
}

pub fn date_range_to_proto(range: &DateRange) -> pb::DateRange {
    pb::DateRange {
        start: range.start.clone(),
        end: range.end.clone(),
    }
}

pub fn limit_to_proto(limit: &SourceLimit) -> pb::SourceLimit {
    pb::SourceLimit {
        rates: limit
            .rates
            .iter()
            .map(|rate| pb::Rate {
                requests: rate.requests,
                period: Some(prost_types::Duration {
                    seconds: rate.period_seconds,
                    nanos: rate.period_nanos,
                }),
            })
            .collect(),
        max_concurrent: limit.max_concurrent,
    }
}

/// The pagination a message names; one without a style is a violation on `field`. The
/// definition's check looks at the rest.
pub fn pagination(
    violations: &mut Violations,
    field: &str,
    message: Option<&pb::Pagination>,
) -> Option<Pagination> {
    let message = message?;
    let style = match message.style.as_ref() {
        None => {
            violations.add(
                field,
                "needs a style: next_link, page_number, offset or cursor",
            );
            return None;
        }
        Some(Style::NextLink(link)) => PageStyle::NextLink {
            next_link_path: link.next_link_path.clone(),
        },
        Some(Style::PageNumber(number)) => PageStyle::PageNumber {
            parameter: number.parameter.clone(),
            first_page: number.first_page,
        },
        Some(Style::Offset(offset)) => PageStyle::Offset {
            parameter: offset.parameter.clone(),
            limit_parameter: offset.limit_parameter.clone(),
            page_size: offset.page_size,
        },
        Some(Style::Cursor(cursor)) => PageStyle::Cursor {
            parameter: cursor.parameter.clone(),
            cursor_path: cursor.cursor_path.clone(),
        },
    };
    Some(Pagination {
        style,
        items_path: message.items_path.clone(),
        max_pages: message.max_pages,
    })
}

pub fn date_range(message: Option<&pb::DateRange>) -> Option<DateRange> {
    message.map(|range| DateRange {
        start: range.start.clone(),
        end: range.end.clone(),
    })
}

/// The limit a message names; one without rates or a cap is none.
pub fn limit(message: Option<&pb::SourceLimit>) -> Option<SourceLimit> {
    let message = message?;
    SourceLimit {
        rates: message
            .rates
            .iter()
            .map(|rate| {
                let period = rate.period.unwrap_or_default();
                Rate {
                    requests: rate.requests,
                    period_seconds: period.seconds,
                    period_nanos: period.nanos,
                }
            })
            .collect(),
        max_concurrent: message.max_concurrent,
    }
    .normalized()
}
