//! The journeys of the clients' data: activity refreshes it, Klips and embeds render it.

use trellis_e2e::calls::number_of;
use trellis_e2e::cluster::Clients;
use trellis_proto::imports::v1 as imports;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_testkit::eventually;
use trellis_testkit::otlp::OtlpReceiver;
use trellis_testkit::tokens as test_tokens;
use uuid::Uuid;

use crate::{Journey, WAIT, World};

pub(crate) async fn refresh_through_activity(
    clients: &mut Clients,
    receiver: &OtlpReceiver,
    world: &mut World,
) {
    let mut journey = Journey::new("refresh through activity");
    let (acme, company) = world.clients[0];
    let admin = test_tokens::admin(acme);
    let activity = clients
        .refresh
        .record_activity(journey.request(
            refresh::RecordActivityRequest {
                request_id: Uuid::new_v4().to_string(),
                kind: refresh::ActivityKind::Login as i32,
            },
            &admin,
        ))
        .await
        .expect("RecordActivity")
        .into_inner();
    assert!(
        activity.queued_jobs >= 1,
        "a login queues the due data sources (F1)"
    );

    let instances = clients
        .imports
        .list_instances(journey.request(
            imports::ListInstancesRequest {
                master: Some(imports::AssetRef {
                    kind: imports::AssetKind::Klip as i32,
                    id: world.sales_klip.clone(),
                }),
                account_id: acme.to_string(),
                ..Default::default()
            },
            &test_tokens::admin(world.partner),
        ))
        .await
        .expect("ListInstances")
        .into_inner()
        .instances;
    world.acme_klip = instances
        .first()
        .expect("Acme's instance")
        .instance_id
        .clone();

    // Acme's Klip renders Acme's sales once the refresh has fetched them (I13).
    let expected = sales_total(company);
    let library_client = clients.library.clone();
    let klip_id = world.acme_klip.clone();
    let journey = std::sync::Mutex::new(journey);
    eventually("the refreshed data to render", WAIT, || {
        let mut library_client = library_client.clone();
        let request = journey.lock().expect("journey").request(
            library::RenderKlipRequest {
                klip_id: klip_id.clone(),
                ..Default::default()
            },
            &admin,
        );
        async move {
            let rendered = library_client.render_klip(request).await.ok()?.into_inner();
            (total_of(rendered.rendered_klip.as_ref()) == Some(expected)).then_some(())
        }
    })
    .await;
    let journey = journey.into_inner().expect("journey");
    journey
        .check_trace(receiver, &["refresh", "library", "imports"])
        .await;
}

pub(crate) async fn render_an_embed(clients: &mut Clients, receiver: &OtlpReceiver, world: &World) {
    let mut journey = Journey::new("render an embed");
    let (acme, company) = world.clients[0];
    let embed = clients
        .library
        .create_embed(journey.request(
            library::CreateEmbedRequest {
                request_id: Uuid::new_v4().to_string(),
                embed: Some(library::Embed {
                    klip_id: world.acme_klip.clone(),
                    ..Default::default()
                }),
            },
            &test_tokens::admin(acme),
        ))
        .await
        .expect("CreateEmbed")
        .into_inner()
        .embed
        .expect("an embed");
    let rendered = clients
        .library
        .view_embed(journey.request(
            library::ViewEmbedRequest { embed_id: embed.id },
            &test_tokens::service(),
        ))
        .await
        .expect("ViewEmbed")
        .into_inner();
    assert_eq!(
        total_of(rendered.rendered_klip.as_ref()),
        Some(sales_total(company)),
        "the embed shows Acme's sales from the cache: {rendered:?}"
    );
    journey.check_trace(receiver, &["library", "refresh"]).await;
}

fn sales_total(company: &str) -> f64 {
    trellis_demo::data_server::sales_of(company)["sales"]
        .as_array()
        .expect("sales")
        .iter()
        .map(|month| month["amount"].as_f64().expect("an amount"))
        .sum()
}

/// The value of the `Total` component of a render.
fn total_of(klip: Option<&library::RenderedKlip>) -> Option<f64> {
    let total = klip?
        .components
        .iter()
        .find(|component| component.name == "Total")?;
    number_of(total)
}
