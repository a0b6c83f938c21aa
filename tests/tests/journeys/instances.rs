//! The journeys of the partner's instances: importing the dashboard into clients, updating
//! the instances from the master, re-authorizing the token they share.

use trellis_e2e::cluster::Clients;
use trellis_proto::imports::v1 as imports;
use trellis_proto::library::v1 as library;
use trellis_testkit::oauth::OAuthServer;
use trellis_testkit::otlp::OtlpReceiver;
use trellis_testkit::tokens as test_tokens;
use uuid::Uuid;

use crate::building::authorize;
use crate::{Journey, World};

pub(crate) async fn import_it_into_clients(
    clients: &mut Clients,
    receiver: &OtlpReceiver,
    world: &mut World,
) {
    let mut journey = Journey::new("import it into clients");
    let partner_admin = test_tokens::admin(world.partner);
    for (name, company) in [("Acme Corp", "acme"), ("Globex", "globex")] {
        let client = clients
            .library
            .create_account(journey.request(
                library::CreateAccountRequest {
                    request_id: Uuid::new_v4().to_string(),
                    account: Some(library::Account {
                        kind: library::AccountKind::Client as i32,
                        parent_id: world.partner.to_string(),
                        display_name: name.into(),
                        ..Default::default()
                    }),
                },
                &partner_admin,
            ))
            .await
            .expect("CreateAccount of a client")
            .into_inner()
            .account
            .expect("an account");
        let client: Uuid = client.id.parse().expect("a uuid");
        let admin = test_tokens::admin(client);
        clients
            .library
            .set_company_property(journey.request(
                library::SetCompanyPropertyRequest {
                    request_id: Uuid::new_v4().to_string(),
                    property: Some(library::CompanyProperty {
                        name: "companyID".into(),
                        value: company.into(),
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .expect("SetCompanyProperty");
        let plan = clients
            .imports
            .create_import_plan(journey.request(
                imports::CreateImportPlanRequest {
                    request_id: String::new(),
                    destination_account_id: client.to_string(),
                    source_account_id: world.partner.to_string(),
                    selection: vec![imports::AssetRef {
                        kind: imports::AssetKind::Dashboard as i32,
                        id: world.dashboard.clone(),
                    }],
                },
                &admin,
            ))
            .await
            .expect("CreateImportPlan")
            .into_inner()
            .plan
            .expect("a plan");
        let import = clients
            .imports
            .execute_import_plan(journey.request(
                imports::ExecuteImportPlanRequest {
                    request_id: Uuid::new_v4().to_string(),
                    plan_id: plan.id,
                    etag: plan.etag,
                },
                &admin,
            ))
            .await
            .expect("ExecuteImportPlan")
            .into_inner()
            .import
            .expect("an import");
        assert_eq!(
            import.state,
            imports::ImportState::Succeeded as i32,
            "{import:?}"
        );
        world.clients.push((client, company));
    }
    // The OAuth data source was shared through a grant, so the token registry took part.
    journey
        .check_trace(receiver, &["library", "imports", "tokens"])
        .await;
}

pub(crate) async fn update_the_instances(
    clients: &mut Clients,
    receiver: &OtlpReceiver,
    world: &World,
) {
    let mut journey = Journey::new("update the instances");
    let admin = test_tokens::admin(world.partner);
    let klip = clients
        .library
        .get_klip(journey.request(
            library::GetKlipRequest {
                id: world.sales_klip.clone(),
                account_id: String::new(),
            },
            &admin,
        ))
        .await
        .expect("GetKlip")
        .into_inner()
        .klip
        .expect("a Klip");
    clients
        .library
        .update_klip(journey.request(
            library::UpdateKlipRequest {
                request_id: Uuid::new_v4().to_string(),
                klip: Some(library::Klip {
                    components: vec![
                        library::Component {
                            name: "Total".into(),
                            formula: "SUM(@0.sales.amount)".into(),
                        },
                        library::Component {
                            name: "Best month".into(),
                            formula: "MAX(@0.sales.amount)".into(),
                        },
                    ],
                    ..klip
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["components".into()],
                }),
            },
            &admin,
        ))
        .await
        .expect("UpdateKlip");
    let mut stream = clients
        .imports
        .update_instances(journey.request(
            imports::UpdateInstancesRequest {
                request_id: Uuid::new_v4().to_string(),
                master_klip_id: world.sales_klip.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("UpdateInstances")
        .into_inner();
    let mut updated = 0;
    while let Some(message) = stream.message().await.expect("the update streams") {
        if let Some(imports::update_instances_response::Event::Result(result)) = message.event {
            assert_eq!(
                result.outcome,
                imports::UpdateOutcome::Updated as i32,
                "{result:?}"
            );
            updated += 1;
        }
    }
    assert_eq!(
        updated,
        world.clients.len(),
        "every client's instance is updated"
    );
    journey.check_trace(receiver, &["library", "imports"]).await;
}

pub(crate) async fn reauthorize_the_token(
    clients: &mut Clients,
    receiver: &OtlpReceiver,
    oauth: &OAuthServer,
    world: &World,
) {
    let mut journey = Journey::new("re-authorize a token");
    let exchanges_before = oauth.counters();
    let token_id = authorize(
        clients,
        &mut journey,
        world.partner,
        "",
        Some(&world.token_id),
    )
    .await;
    assert_eq!(
        token_id, world.token_id,
        "re-authorization keeps the token's id (I6)"
    );
    assert_ne!(
        oauth.counters(),
        exchanges_before,
        "a new code was exchanged"
    );
    journey.check_trace(receiver, &["tokens"]).await;
}
