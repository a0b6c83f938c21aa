//! An account's time zone: UTC unless set, an IANA name, set on create and by the admins
//! who may rename the account.

use super::*;

async fn set_zone(
    library: &Library,
    token: &str,
    account: Uuid,
    time_zone: &str,
) -> Result<pb::Account, Status> {
    let response = library
        .client()
        .update_account(with(
            token,
            pb::UpdateAccountRequest {
                request_id: String::new(),
                account: Some(pb::Account {
                    id: account.to_string(),
                    time_zone: time_zone.into(),
                    ..Default::default()
                }),
                update_mask: mask(&["time_zone"]),
            },
        ))
        .await?;
    Ok(response.into_inner().account.unwrap())
}

async fn zone_of(library: &Library, account: Uuid) -> String {
    library
        .client()
        .get_account(with(
            &tokens::service(),
            pb::GetAccountRequest {
                id: account.to_string(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap()
        .time_zone
}

#[tokio::test(flavor = "multi_thread")]
async fn time_zones_default_to_utc_and_must_be_iana_names() {
    let library = common::start().await;
    let plain = library.standard().await;
    assert_eq!(zone_of(&library, plain).await, "UTC");
    let berlin = account_in(&library, pb::AccountKind::Standard, None, "Europe/Berlin").await;
    assert_eq!(zone_of(&library, berlin).await, "Europe/Berlin");

    for bad in [
        "Mars/Olympus_Mons",
        "europe/berlin",
        "+01:00",
        "Europe/Berlin ",
    ] {
        let mut client = library.client();
        let created = client.create_account(with(
            &tokens::service(),
            pb::CreateAccountRequest {
                request_id: String::new(),
                account: Some(pb::Account {
                    kind: pb::AccountKind::Standard as i32,
                    display_name: "Nowhere".into(),
                    time_zone: bad.into(),
                    ..Default::default()
                }),
            },
        ));
        let found = violations(created.await);
        assert!(
            found[0].0 == "account.time_zone" && found[0].1.contains("IANA"),
            "{bad}: {found:?}"
        );
        let found = violations(set_zone(&library, &tokens::admin(plain), plain, bad).await);
        assert_eq!(found[0].0, "account.time_zone", "{bad}: {found:?}");
    }
    assert_eq!(
        zone_of(&library, plain).await,
        "UTC",
        "nothing bad was saved"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_accounts_admin_or_its_partners_admin_sets_the_time_zone() {
    let library = common::start().await;
    let family = library.family().await;
    let own = set_zone(
        &library,
        &tokens::admin(family.client_a),
        family.client_a,
        "Asia/Tokyo",
    )
    .await
    .unwrap();
    assert_eq!(own.time_zone, "Asia/Tokyo");
    let by_partner = set_zone(
        &library,
        &tokens::admin(family.partner),
        family.client_a,
        "America/Sao_Paulo",
    )
    .await
    .unwrap();
    assert_eq!(by_partner.time_zone, "America/Sao_Paulo");
    assert_ne!(by_partner.etag, own.etag);
    // An empty zone in the mask is UTC again.
    let reset = set_zone(
        &library,
        &tokens::admin(family.client_a),
        family.client_a,
        "",
    )
    .await
    .unwrap();
    assert_eq!(reset.time_zone, "UTC");

    for token in [
        tokens::editor(family.client_a),
        tokens::viewer(family.client_a),
    ] {
        let refused = set_zone(&library, &token, family.client_a, "Europe/Paris").await;
        failure(refused, Code::PermissionDenied);
    }
    let sibling = set_zone(
        &library,
        &tokens::admin(family.client_b),
        family.client_a,
        "Europe/Paris",
    )
    .await;
    common::refused(sibling, &[]);
    assert_eq!(zone_of(&library, family.client_a).await, "UTC");
}
