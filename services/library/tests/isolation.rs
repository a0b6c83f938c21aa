//! Tenancy (DESIGN.md section 3): viewers only read; an account never reads or changes
//! another family's assets, and a refusal never carries the data; a partner's admin
//! reaches its clients and nothing else.

mod common;

use std::collections::HashMap;

use common::{Library, dashboard_of, failure, json_source, klip_of, mask, refused, start, with};
use tonic::Code;
use trellis_platform::auth::{Identity, Role};
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use uuid::Uuid;

/// One of each asset in `account`, named so that a leak is easy to spot.
struct Assets {
    source: pb::DataSource,
    klip: pb::Klip,
    dashboard: pb::Dashboard,
}

const SECRET: &str = "Confidential";

async fn assets(library: &Library, account: Uuid) -> Assets {
    let admin = tokens::admin(account);
    let source = library
        .data_source(
            &admin,
            json_source(
                None,
                &format!("{SECRET} feed"),
                "https://secret.example.com/{props.companyID}",
            ),
        )
        .await;
    let klip = library
        .klip(
            &admin,
            klip_of(None, &format!("{SECRET} Klip"), &["@0.a"], &[&source.id]),
        )
        .await;
    let dashboard = library
        .dashboard(
            &admin,
            dashboard_of(None, &format!("{SECRET} board"), &[&klip.id]),
        )
        .await;
    let mut client = library.client();
    client
        .set_company_property(with(
            &admin,
            pb::SetCompanyPropertyRequest {
                request_id: String::new(),
                property: Some(pb::CompanyProperty {
                    name: "companyID".into(),
                    value: format!("{SECRET}-4711"),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap();
    client
        .create_variable(with(
            &admin,
            pb::CreateVariableRequest {
                request_id: String::new(),
                variable: Some(pb::Variable {
                    name: "year".into(),
                    default_value: format!("{SECRET}-2026"),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap();
    Assets {
        source,
        klip,
        dashboard,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_cannot_write() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let own = assets(&library, account).await;
    let viewer = tokens::viewer(account);
    let before = library.asset_rows(account).await;
    let denied = Code::PermissionDenied;

    failure(
        client
            .create_data_source(with(
                &viewer,
                pb::CreateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(json_source(None, "x", "https://x.example.com/")),
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .update_data_source(with(
                &viewer,
                pb::UpdateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(pb::DataSource {
                        id: own.source.id.clone(),
                        name: "x".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["name"]),
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .delete_data_source(with(
                &viewer,
                pb::DeleteDataSourceRequest {
                    id: own.source.id.clone(),
                    force: true,
                    ..Default::default()
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .create_klip(with(
                &viewer,
                pb::CreateKlipRequest {
                    request_id: String::new(),
                    klip: Some(klip_of(None, "x", &["1"], &[])),
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .update_klip(with(
                &viewer,
                pb::UpdateKlipRequest {
                    request_id: String::new(),
                    klip: Some(pb::Klip {
                        id: own.klip.id.clone(),
                        name: "x".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["name"]),
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .delete_klip(with(
                &viewer,
                pb::DeleteKlipRequest {
                    id: own.klip.id.clone(),
                    ..Default::default()
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .create_dashboard(with(
                &viewer,
                pb::CreateDashboardRequest {
                    request_id: String::new(),
                    dashboard: Some(dashboard_of(None, "x", &[])),
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .update_dashboard(with(
                &viewer,
                pb::UpdateDashboardRequest {
                    request_id: String::new(),
                    dashboard: Some(pb::Dashboard {
                        id: own.dashboard.id.clone(),
                        name: "x".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["name"]),
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .delete_dashboard(with(
                &viewer,
                pb::DeleteDashboardRequest {
                    id: own.dashboard.id.clone(),
                    ..Default::default()
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .create_variable(with(
                &viewer,
                pb::CreateVariableRequest {
                    request_id: String::new(),
                    variable: Some(pb::Variable {
                        name: "x".into(),
                        ..Default::default()
                    }),
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .update_variable(with(
                &viewer,
                pb::UpdateVariableRequest {
                    request_id: String::new(),
                    variable: Some(pb::Variable {
                        name: "year".into(),
                        default_value: "x".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["default_value"]),
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .delete_variable(with(
                &viewer,
                pb::DeleteVariableRequest {
                    name: "year".into(),
                    ..Default::default()
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .set_company_property(with(
                &viewer,
                pb::SetCompanyPropertyRequest {
                    request_id: String::new(),
                    property: Some(pb::CompanyProperty {
                        name: "companyID".into(),
                        value: "x".into(),
                        ..Default::default()
                    }),
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .delete_company_property(with(
                &viewer,
                pb::DeleteCompanyPropertyRequest {
                    name: "companyID".into(),
                    ..Default::default()
                },
            ))
            .await,
        denied,
    );
    failure(
        client
            .update_account(with(
                &viewer,
                pb::UpdateAccountRequest {
                    request_id: String::new(),
                    account: Some(pb::Account {
                        display_name: "x".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["display_name"]),
                },
            ))
            .await,
        denied,
    );

    // Nothing changed; reading still works.
    assert_eq!(library.asset_rows(account).await, before);
    let still = client
        .get_klip(with(
            &viewer,
            pb::GetKlipRequest {
                id: own.klip.id.clone(),
                account_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .klip
        .unwrap();
    assert_eq!(still, own.klip);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_account_reads_or_changes_another_familys_assets() {
    let library = start().await;
    let mut client = library.client();
    let ours = library.family().await;
    let theirs = library.family().await;
    let victim = assets(&library, theirs.client_a).await;
    let victim_rows = library.asset_rows(theirs.client_a).await;
    let victim_account = theirs.client_a.to_string();
    let leaks = [SECRET, "secret.example.com"];

    // The most privileged members of the other family: its partner's admin and a client's;
    // both as users who belong to our family alone, and as the test users, who are members
    // of every account (the victim's too): the account a token is signed into decides.
    library
        .member(ours.partner, "mallory@ours", Role::Admin)
        .await;
    library
        .member(ours.client_a, "mike@ours", Role::Admin)
        .await;
    for attacker in [
        tokens::user_token(ours.partner, "mallory@ours", Role::Admin),
        tokens::user_token(ours.client_a, "mike@ours", Role::Admin),
        tokens::admin(ours.partner),
        tokens::admin(ours.client_a),
    ] {
        // Naming the other account is refused outright...
        for account_id in [victim_account.clone(), String::new()] {
            // ...and asking for its assets by id in one's own account finds nothing.
            refused(
                client
                    .get_data_source(with(
                        &attacker,
                        pb::GetDataSourceRequest {
                            id: victim.source.id.clone(),
                            account_id: account_id.clone(),
                        },
                    ))
                    .await,
                &leaks,
            );
            refused(
                client
                    .get_klip(with(
                        &attacker,
                        pb::GetKlipRequest {
                            id: victim.klip.id.clone(),
                            account_id: account_id.clone(),
                        },
                    ))
                    .await,
                &leaks,
            );
            refused(
                client
                    .get_dashboard(with(
                        &attacker,
                        pb::GetDashboardRequest {
                            id: victim.dashboard.id.clone(),
                            account_id: account_id.clone(),
                        },
                    ))
                    .await,
                &leaks,
            );
            refused(
                client
                    .update_data_source(with(
                        &attacker,
                        pb::UpdateDataSourceRequest {
                            request_id: String::new(),
                            data_source: Some(pb::DataSource {
                                id: victim.source.id.clone(),
                                account_id: account_id.clone(),
                                name: "pwned".into(),
                                ..Default::default()
                            }),
                            update_mask: mask(&["name"]),
                        },
                    ))
                    .await,
                &leaks,
            );
            refused(
                client
                    .update_klip(with(
                        &attacker,
                        pb::UpdateKlipRequest {
                            request_id: String::new(),
                            klip: Some(pb::Klip {
                                id: victim.klip.id.clone(),
                                account_id: account_id.clone(),
                                name: "pwned".into(),
                                ..Default::default()
                            }),
                            update_mask: mask(&["name"]),
                        },
                    ))
                    .await,
                &leaks,
            );
            refused(
                client
                    .update_dashboard(with(
                        &attacker,
                        pb::UpdateDashboardRequest {
                            request_id: String::new(),
                            dashboard: Some(pb::Dashboard {
                                id: victim.dashboard.id.clone(),
                                account_id: account_id.clone(),
                                name: "pwned".into(),
                                ..Default::default()
                            }),
                            update_mask: mask(&["name"]),
                        },
                    ))
                    .await,
                &leaks,
            );
            refused(
                client
                    .delete_data_source(with(
                        &attacker,
                        pb::DeleteDataSourceRequest {
                            id: victim.source.id.clone(),
                            account_id: account_id.clone(),
                            force: true,
                            ..Default::default()
                        },
                    ))
                    .await,
                &leaks,
            );
            refused(
                client
                    .delete_klip(with(
                        &attacker,
                        pb::DeleteKlipRequest {
                            id: victim.klip.id.clone(),
                            account_id: account_id.clone(),
                            ..Default::default()
                        },
                    ))
                    .await,
                &leaks,
            );
            refused(
                client
                    .delete_dashboard(with(
                        &attacker,
                        pb::DeleteDashboardRequest {
                            id: victim.dashboard.id.clone(),
                            account_id: account_id.clone(),
                            ..Default::default()
                        },
                    ))
                    .await,
                &leaks,
            );
            refused(
                client
                    .resolve_data_source(with(
                        &attacker,
                        pb::ResolveDataSourceRequest {
                            data_source_id: victim.source.id.clone(),
                            account_id: account_id.clone(),
                            user_id: String::new(),
                        },
                    ))
                    .await,
                &leaks,
            );
        }

        // Everything addressed to the other account by its id.
        let account_id = victim_account.clone();
        refused(
            client
                .list_data_sources(with(
                    &attacker,
                    pb::ListDataSourcesRequest {
                        account_id: account_id.clone(),
                        ..Default::default()
                    },
                ))
                .await,
            &leaks,
        );
        refused(
            client
                .list_klips(with(
                    &attacker,
                    pb::ListKlipsRequest {
                        account_id: account_id.clone(),
                        ..Default::default()
                    },
                ))
                .await,
            &leaks,
        );
        refused(
            client
                .list_dashboards(with(
                    &attacker,
                    pb::ListDashboardsRequest {
                        account_id: account_id.clone(),
                        ..Default::default()
                    },
                ))
                .await,
            &leaks,
        );
        refused(
            client
                .list_company_properties(with(
                    &attacker,
                    pb::ListCompanyPropertiesRequest {
                        account_id: account_id.clone(),
                        ..Default::default()
                    },
                ))
                .await,
            &leaks,
        );
        refused(
            client
                .get_company_property(with(
                    &attacker,
                    pb::GetCompanyPropertyRequest {
                        account_id: account_id.clone(),
                        name: "companyID".into(),
                    },
                ))
                .await,
            &leaks,
        );
        refused(
            client
                .list_variables(with(
                    &attacker,
                    pb::ListVariablesRequest {
                        account_id: account_id.clone(),
                        ..Default::default()
                    },
                ))
                .await,
            &leaks,
        );
        refused(
            client
                .resolve_properties(with(
                    &attacker,
                    pb::ResolvePropertiesRequest {
                        account_id: account_id.clone(),
                        ..Default::default()
                    },
                ))
                .await,
            &leaks,
        );
        refused(
            client
                .set_company_property(with(
                    &attacker,
                    pb::SetCompanyPropertyRequest {
                        request_id: String::new(),
                        property: Some(pb::CompanyProperty {
                            account_id: account_id.clone(),
                            name: "companyID".into(),
                            value: "pwned".into(),
                            ..Default::default()
                        }),
                    },
                ))
                .await,
            &leaks,
        );
        refused(
            client
                .create_data_source(with(
                    &attacker,
                    pb::CreateDataSourceRequest {
                        request_id: String::new(),
                        data_source: Some(json_source(
                            Some(theirs.client_a),
                            "planted",
                            "https://evil.example.com/",
                        )),
                    },
                ))
                .await,
            &leaks,
        );
        refused(
            client
                .get_dependency_closure(with(
                    &attacker,
                    pb::GetDependencyClosureRequest {
                        account_id: account_id.clone(),
                        assets: vec![pb::AssetRef {
                            kind: pb::AssetKind::Dashboard as i32,
                            id: victim.dashboard.id.clone(),
                        }],
                    },
                ))
                .await,
            &leaks,
        );
        refused(
            client
                .get_account(with(
                    &attacker,
                    pb::GetAccountRequest {
                        id: account_id.clone(),
                    },
                ))
                .await,
            &leaks,
        );
        refused(
            client
                .delete_account(with(
                    &attacker,
                    pb::DeleteAccountRequest {
                        id: account_id.clone(),
                        force: true,
                        ..Default::default()
                    },
                ))
                .await,
            &leaks,
        );
        // An unknown account is refused exactly like an existing one of another family.
        let unknown = client
            .list_klips(with(
                &attacker,
                pb::ListKlipsRequest {
                    account_id: Uuid::now_v7().to_string(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        let known = client
            .list_klips(with(
                &attacker,
                pb::ListKlipsRequest {
                    account_id: account_id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), known.code());

        // Binding or showing the other family's assets from one's own account.
        let foreign_binding = common::violations(
            client
                .create_klip(with(
                    &attacker,
                    pb::CreateKlipRequest {
                        request_id: String::new(),
                        klip: Some(klip_of(None, "k", &["@0.a"], &[&victim.source.id])),
                    },
                ))
                .await,
        );
        assert_eq!(foreign_binding[0].0, "klip.bindings[0].data_source_id");
        let foreign_klip = common::violations(
            client
                .create_dashboard(with(
                    &attacker,
                    pb::CreateDashboardRequest {
                        request_id: String::new(),
                        dashboard: Some(dashboard_of(None, "d", &[&victim.klip.id])),
                    },
                ))
                .await,
        );
        assert_eq!(foreign_klip[0].0, "dashboard.klip_ids[0]");

        // Cloning is for the import service only.
        refused(
            client
                .clone_assets(with(
                    &attacker,
                    pb::CloneAssetsRequest {
                        request_id: "steal".into(),
                        source_account_id: victim_account.clone(),
                        destination_account_id: ours.client_a.to_string(),
                        assets: vec![pb::AssetRef {
                            kind: pb::AssetKind::DataSource as i32,
                            id: victim.source.id.clone(),
                        }],
                        reuse_ids: HashMap::new(),
                    },
                ))
                .await,
            &leaks,
        );
    }

    // Not even the import service clones across families (I1).
    failure(
        client
            .clone_assets(with(
                &tokens::service_as(Identity::Imports),
                pb::CloneAssetsRequest {
                    request_id: "cross".into(),
                    source_account_id: victim_account.clone(),
                    destination_account_id: ours.client_a.to_string(),
                    assets: vec![pb::AssetRef {
                        kind: pb::AssetKind::DataSource as i32,
                        id: victim.source.id.clone(),
                    }],
                    reuse_ids: HashMap::new(),
                },
            ))
            .await,
        Code::FailedPrecondition,
    );

    // The victim's assets are as they were, and nothing landed in our accounts.
    assert_eq!(library.asset_rows(theirs.client_a).await, victim_rows);
    let unchanged = client
        .get_data_source(with(
            &tokens::viewer(theirs.client_a),
            pb::GetDataSourceRequest {
                id: victim.source.id.clone(),
                account_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    assert_eq!(unchanged, victim.source);
    let property = client
        .get_company_property(with(
            &tokens::viewer(theirs.client_a),
            pb::GetCompanyPropertyRequest {
                account_id: String::new(),
                name: "companyID".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .property
        .unwrap();
    assert_eq!(property.value, format!("{SECRET}-4711"));
    for account in [ours.partner, ours.client_a] {
        assert_eq!(library.asset_rows(account).await, [0; 5]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partner_admin_reaches_its_clients_but_nothing_else() {
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;
    let partner_assets = assets(&library, family.partner).await;
    let sibling_assets = assets(&library, family.client_b).await;

    // The partner's admin works in its client's library.
    let made = library
        .data_source(
            &tokens::admin(family.partner),
            json_source(Some(family.client_a), "For A", "https://a.example.com/"),
        )
        .await;
    assert_eq!(made.account_id, family.client_a.to_string());
    let listed = client
        .list_data_sources(with(
            &tokens::admin(family.partner),
            pb::ListDataSourcesRequest {
                account_id: family.client_a.to_string(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.data_sources.len(), 1);

    // Its editors do not; nor does a client reach its partner or its sibling.
    refused(
        client
            .list_data_sources(with(
                &tokens::editor(family.partner),
                pb::ListDataSourcesRequest {
                    account_id: family.client_a.to_string(),
                    ..Default::default()
                },
            ))
            .await,
        &[],
    );
    for (account, asset) in [
        (family.partner, &partner_assets.klip),
        (family.client_b, &sibling_assets.klip),
    ] {
        refused(
            client
                .get_klip(with(
                    &tokens::admin(family.client_a),
                    pb::GetKlipRequest {
                        id: asset.id.clone(),
                        account_id: account.to_string(),
                    },
                ))
                .await,
            &[SECRET],
        );
    }
}
