//! No account reads or changes another family's assets; a partner admin reaches its clients alone.

use super::*;

/// What an attacker asks of the victim's assets `victim` naming `account_id` (the victim's
/// account, or none: its own).
fn by_id(victim: &Assets, account_id: &str) -> Vec<Call> {
    let mut asked: Vec<Call> = vec![];
    for (asset, id) in victim.ids() {
        asked.push(calls::get(asset, id, account_id));
        asked.push(calls::rename(asset, id, account_id, "pwned"));
        asked.push(calls::delete(asset, id, account_id));
    }
    asked.push(
        pb::ResolveDataSourceRequest {
            data_source_id: victim.source.id.clone(),
            account_id: account_id.to_owned(),
            user_id: String::new(),
            date_range: None,
        }
        .into(),
    );
    asked
}

/// Everything addressed to the victim's account `account` by its id.
fn to_account(victim: &Assets, account: Uuid) -> Vec<Call> {
    let account_id = account.to_string();
    let mut asked: Vec<Call> = Asset::ALL
        .into_iter()
        .map(|asset| calls::list(asset, &account_id))
        .collect();
    asked.extend([
        pb::ListCompanyPropertiesRequest {
            account_id: account_id.clone(),
            ..Default::default()
        }
        .into(),
        pb::GetCompanyPropertyRequest {
            account_id: account_id.clone(),
            name: "companyID".into(),
        }
        .into(),
        pb::ListVariablesRequest {
            account_id: account_id.clone(),
            ..Default::default()
        }
        .into(),
        pb::ResolvePropertiesRequest {
            account_id: account_id.clone(),
            ..Default::default()
        }
        .into(),
        pb::SetCompanyPropertyRequest {
            request_id: String::new(),
            property: Some(pb::CompanyProperty {
                account_id: account_id.clone(),
                name: "companyID".into(),
                value: "pwned".into(),
                ..Default::default()
            }),
        }
        .into(),
        pb::CreateDataSourceRequest {
            request_id: String::new(),
            data_source: Some(json_source(
                Some(account),
                "planted",
                "https://evil.example.com/",
            )),
        }
        .into(),
        pb::GetDependencyClosureRequest {
            account_id: account_id.clone(),
            assets: vec![pb::AssetRef {
                kind: pb::AssetKind::Dashboard as i32,
                id: victim.dashboard.id.clone(),
            }],
        }
        .into(),
        pb::GetAccountRequest {
            id: account_id.clone(),
        }
        .into(),
        pb::DeleteAccountRequest {
            id: account_id.clone(),
            force: true,
            ..Default::default()
        }
        .into(),
    ]);
    asked
}

/// A clone of the victim's data source from `source` into `destination`.
fn clone_of(
    victim: &Assets,
    request_id: &str,
    source: Uuid,
    destination: Uuid,
) -> pb::CloneAssetsRequest {
    pb::CloneAssetsRequest {
        request_id: request_id.into(),
        source_account_id: source.to_string(),
        destination_account_id: destination.to_string(),
        assets: vec![pb::AssetRef {
            kind: pb::AssetKind::DataSource as i32,
            id: victim.source.id.clone(),
        }],
        reuse_ids: HashMap::new(),
    }
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
        // Naming the other account is refused outright, and asking for its assets by id in
        // one's own account finds nothing; so is everything addressed to the account.
        let mut asked = by_id(&victim, &victim_account);
        asked.extend(by_id(&victim, ""));
        asked.extend(to_account(&victim, theirs.client_a));
        for call in asked {
            refused(call.send(&mut client, &attacker).await, &leaks);
        }

        // An unknown account is refused exactly like an existing one of another family.
        let unknown = calls::list(Asset::Klip, &Uuid::now_v7().to_string())
            .send(&mut client, &attacker)
            .await
            .unwrap_err();
        let known = calls::list(Asset::Klip, &victim_account)
            .send(&mut client, &attacker)
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
        let steal = clone_of(&victim, "steal", theirs.client_a, ours.client_a);
        refused(client.clone_assets(with(&attacker, steal)).await, &leaks);
    }

    // Not even the import service clones across families (I1).
    let cross = clone_of(&victim, "cross", theirs.client_a, ours.client_a);
    failure(
        client
            .clone_assets(with(&tokens::service_as(Identity::Imports), cross))
            .await,
        Code::FailedPrecondition,
    );

    // The victim's assets are as they were, and nothing landed in our accounts.
    assert_eq!(library.asset_rows(theirs.client_a).await, victim_rows);
    let unchanged = library
        .get_data_source(&tokens::viewer(theirs.client_a), &victim.source.id)
        .await;
    assert_eq!(unchanged, victim.source);
    let property = library
        .company_property(&tokens::viewer(theirs.client_a), "companyID")
        .await;
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
    let editor = tokens::editor(family.partner);
    let in_client = calls::list(Asset::DataSource, &family.client_a.to_string());
    refused(in_client.send(&mut client, &editor).await, &[]);
    for (account, asset) in [
        (family.partner, &partner_assets.klip),
        (family.client_b, &sibling_assets.klip),
    ] {
        let get = calls::get(Asset::Klip, &asset.id, &account.to_string());
        let admin = tokens::admin(family.client_a);
        refused(get.send(&mut client, &admin).await, &[SECRET]);
    }
}
