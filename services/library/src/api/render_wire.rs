//! Renders and embeds on the wire.

use trellis_proto::library::v1 as pb;

use super::convert::{json_to_value, timestamp};
use crate::domain::render::Render;
use crate::domain::stored::Embed;
use crate::domain::stored::Stored;

pub fn std_duration(span: std::time::Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: span.as_secs() as i64,
        nanos: span.subsec_nanos() as i32,
    }
}

fn chrono_duration(span: chrono::Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: span.num_seconds(),
        nanos: span.subsec_nanos(),
    }
}

pub fn rendered_klip(render: &Render) -> pb::RenderedKlip {
    pb::RenderedKlip {
        klip_id: render.klip_id.to_string(),
        klip_version: render.klip_version,
        components: render
            .components
            .iter()
            .map(|component| pb::ComponentResult {
                name: component.name.clone(),
                values: Some(prost_types::ListValue {
                    values: component.values.iter().map(json_to_value).collect(),
                }),
                error: component.error.clone(),
            })
            .collect(),
        freshness: render
            .freshness
            .iter()
            .map(|datum| pb::DatumFreshness {
                binding_index: datum.binding_index as i32,
                data_source_id: datum
                    .data_source_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                instance_key: datum.instance_key.clone(),
                fetch_time: datum.fetched_at.and_then(timestamp),
                age: datum.age(render.rendered_at).map(chrono_duration),
            })
            .collect(),
        render_time: timestamp(render.rendered_at),
    }
}

pub fn embed(embed: &Embed) -> pb::Embed {
    pb::Embed {
        id: embed.id.clone(),
        account_id: embed.account_id.to_string(),
        klip_id: embed.klip_id.to_string(),
        stale_while_revalidate: embed.stale_while_revalidate,
        max_age: embed.max_age.map(std_duration),
        etag: embed.etag(),
        create_time: timestamp(embed.created_at),
    }
}
