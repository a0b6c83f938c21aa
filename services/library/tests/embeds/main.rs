//! Embeds (F6): unguessable ids, revocation, and views served from the render cache while
//! the render is younger than the max age (three hours by default), otherwise rendered from
//! the data currently cached by the refresh service; stale-while-revalidate; and no view
//! ever queues a refresh or counts as activity. The library runs on a manual clock.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

#[path = "../common/mod.rs"]
mod common;
#[path = "../world/mod.rs"]
mod world;

mod access;
mod cache;

use std::time::Duration;

use common::{failure, klip_of, with};
use serde_json::json;
use tonic::Code;
use trellis_library::Clock;
use trellis_proto::library::v1 as pb;
use trellis_testkit::{eventually, tokens};
use uuid::Uuid;
use world::{THREE_HOURS, WAIT, World, seconds, time, values};

const TOTALS: &str = "/totals.json";

/// An account with a Klip summing the data API's `/totals.json`, fetched once with
/// `amounts`. Returns (account, data source, Klip).
async fn summed(world: &World, amounts: &[i64]) -> (Uuid, String, pb::Klip) {
    let account = world.library.standard().await;
    world.api.set_json(TOTALS, json!({"amounts": amounts}));
    let source = world.data_source(account, TOTALS).await;
    world.fetch(account, &source).await;
    let klip = world
        .library
        .editor_klip(
            account,
            "Totals",
            &["SUM(@0.amounts)", "COUNT(@0.amounts)"],
            &[&source],
        )
        .await;
    (account, source, klip)
}

/// New data at the API, fetched by the refresh service: the cache changes under the embed.
async fn refetch(world: &World, account: Uuid, source: &str, amounts: &[i64]) {
    world.api.set_json(TOTALS, json!({"amounts": amounts}));
    world.fetch(account, source).await;
}

fn embed_of(klip: &pb::Klip) -> pb::Embed {
    pb::Embed {
        klip_id: klip.id.clone(),
        ..Default::default()
    }
}
