//! No partner secret ever reaches a server the client chooses (I13–I15).

use std::collections::HashMap;

use serde_json::json;
use tonic::Code;
use trellis_e2e::cluster::{Clients, Cluster};
use trellis_platform::client::authorized;
use trellis_platform::config::ServiceKind;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::tokens::v1 as tokens_pb;
use trellis_testkit::data_api::{Auth, DataApi, Reply};
use trellis_testkit::{eventually, members, tokens};

use trellis_e2e::calls::create_data_source;

use crate::calls::{Family, code, klip_total, refresh_now, source, wait_for_total};
use crate::{PARTNER_PASSWORD, Signers, WAIT};

#[tokio::test(flavor = "multi_thread")]
async fn no_partner_secret_ever_reaches_a_server_the_client_chooses() {
    let api = DataApi::start().await;
    api.require(Auth::Basic {
        username: "partner".into(),
        password: PARTNER_PASSWORD.into(),
    });
    api.set_json("/sales.json", json!([{"amount": 5}, {"amount": 7}]));
    // A hostile (or compromised) data API that sends the request elsewhere.
    let attacker = DataApi::start().await;
    attacker.set_json("/collect.json", json!([{"amount": 1000}]));
    api.set(
        "/moved.json",
        Reply::status(302).with_header("location", &attacker.url("/collect.json")),
    );

    let cluster = Cluster::start(&HashMap::new()).await;
    let mut clients = Clients::of(&cluster);
    let signers = Signers::hs256();
    let family = Family::create(&clients, &signers).await;
    let (partner, client) = (family.partner, family.client);
    let agency_in_partner = &family.agency_in_partner;
    members::enroll(&cluster.channel(ServiceKind::Library), client).await;
    let editor = tokens::editor(client);

    let credential = clients
        .tokens
        .create_credential(authorized(
            tokens_pb::CreateCredentialRequest {
                request_id: String::new(),
                credential: Some(tokens_pb::Credential {
                    account_id: partner.to_string(),
                    display_name: "Reporting login".into(),
                    kind: tokens_pb::CredentialKind::Basic as i32,
                    username: "partner".into(),
                    ..Default::default()
                }),
                secret: Some(tokens_pb::CredentialSecret {
                    password: PARTNER_PASSWORD.into(),
                    ..Default::default()
                }),
            },
            agency_in_partner,
        ))
        .await
        .expect("the partner's credential")
        .into_inner()
        .credential
        .unwrap();
    let by_credential = || {
        Some(library::data_source_auth::Method::CredentialId(
            credential.id.clone(),
        ))
    };
    let master_source = source(partner, &api.url("/sales.json"), by_credential());
    let (master, instance_klip) = family.import_master(&mut clients, master_source).await;
    let instance = clients
        .library
        .list_data_sources(authorized(
            library::ListDataSourcesRequest {
                account_id: client.to_string(),
                ..Default::default()
            },
            &editor,
        ))
        .await
        .expect("the client's data sources")
        .into_inner()
        .data_sources
        .pop()
        .expect("the instance data source");

    // The imported query works: the client's editor refreshes it with the partner's login.
    refresh_now(&mut clients, &editor, &instance.id).await;
    wait_for_total(
        &clients.library,
        &editor,
        &instance_klip,
        12.0,
        "the instance to render the partner's data",
    )
    .await;

    // 1. Pointing the imported query at the attacker (I14).
    let mut pointed = instance.clone();
    pointed.request.as_mut().unwrap().url = attacker.url("/collect.json");
    let (status, detail) = code(
        clients
            .library
            .update_data_source(authorized(
                library::UpdateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(pointed),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["request.url".into()],
                    }),
                },
                &editor,
            ))
            .await,
    );
    assert_eq!(status, Code::FailedPrecondition, "{detail}");
    assert!(detail.contains("IMPORTED_QUERY_NEEDS_OWN_AUTH"), "{detail}");

    // 2. A data source of the client's own that names the partner's credential, or the
    // instance's copy of it (I5, I15).
    let copy = instance.auth.clone().and_then(|a| a.method);
    for auth in [by_credential(), copy] {
        let (status, detail) = code(
            create_data_source(
                &clients.library,
                &editor,
                source(client, &attacker.url("/collect.json"), auth),
            )
            .await,
        );
        assert_eq!(status, Code::InvalidArgument, "{detail}");
        assert!(
            detail.contains("data_source.auth.credential_id"),
            "{detail}"
        );
    }

    // 3. The partner's own data API redirects a request carrying the secret elsewhere.
    let moved = create_data_source(
        &clients.library,
        agency_in_partner,
        source(partner, &api.url("/moved.json"), by_credential()),
    )
    .await
    .expect("a data source of the partner");
    refresh_now(&mut clients, agency_in_partner, &moved.id).await;
    eventually("the redirected refresh to fail", WAIT, || {
        let mut refresh = clients.refresh.clone();
        let (token, id) = (agency_in_partner.to_owned(), moved.id.clone());
        async move {
            let status = refresh
                .get_refresh_status(authorized(
                    refresh::GetRefreshStatusRequest {
                        data_source_id: id,
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .ok()?
                .into_inner();
            status
                .instances
                .iter()
                .any(|i| i.consecutive_failures > 0)
                .then_some(())
        }
    })
    .await;

    assert_eq!(
        api.requests_for("/moved.json"),
        1,
        "the redirecting API was asked once"
    );
    assert_eq!(
        attacker.requests(),
        0,
        "no request, and so no secret, ever reached the attacker: {:?}",
        attacker.arrivals()
    );
    // The attacker's figure never reached the client either.
    assert_eq!(
        klip_total(&clients.library, &editor, &instance_klip).await,
        Some(12.0)
    );

    // 4. Once the instance no longer holds the partner's credential, it no longer reads
    // what the partner's fetches cache either (the cache is shared by request).
    let Some(library::data_source_auth::Method::CredentialId(copy_id)) =
        instance.auth.clone().and_then(|a| a.method)
    else {
        panic!("the instance uses its copy of the credential: {instance:?}");
    };
    clients
        .tokens
        .delete_credential(authorized(
            tokens_pb::DeleteCredentialRequest {
                request_id: String::new(),
                id: copy_id,
                account_id: client.to_string(),
                etag: String::new(),
            },
            &tokens::admin(client),
        ))
        .await
        .expect("the client's admin deletes its copy");
    refresh_now(&mut clients, agency_in_partner, &master.id).await;
    let rendered = clients
        .library
        .render_klip(authorized(
            library::RenderKlipRequest {
                klip_id: instance_klip.clone(),
                ..Default::default()
            },
            &editor,
        ))
        .await
        .expect("the Klip still renders, without the data")
        .into_inner();
    assert!(
        format!("{rendered:?}").contains("no longer granted"),
        "{rendered:?}"
    );
    assert_eq!(
        klip_total(&clients.library, &editor, &instance_klip).await,
        None,
        "a revoked copy stops cached-data reads"
    );
}
