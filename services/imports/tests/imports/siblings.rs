//! I15: a client's own admin cannot pull a sibling's assets, by planning or by re-importing.

use tonic::Code;
use trellis_platform::auth::Role;
use trellis_proto::imports::v1 as imp;
use trellis_proto::library::v1 as lib;
use trellis_proto::tokens::v1 as tok;
use trellis_testkit::{members, tokens};
use uuid::Uuid;

use crate::common::*;

/// How many plans the import service stores for `destination`.
async fn plans_into(world: &World, destination: Uuid) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use trellis_imports::store::schema::import_plans;
    let mut conn = world.imports_service.database.connect().await;
    import_plans::table
        .filter(import_plans::destination_account_id.eq(destination))
        .count()
        .get_result(&mut conn)
        .await
        .expect("count the plans")
}

/// Client B's assets: a data source with a saved credential, and a Klip over it.
async fn globex_backlog(
    world: &World,
    client_b: Uuid,
) -> (tok::Credential, lib::DataSource, lib::Klip) {
    let saved = credential(&world.tokens, client_b, "b-s3cret").await;
    let url = "https://helpdesk.globex.test/tickets";
    let auth = credential_auth(&saved.id);
    let tickets = data_source(&world.library, client_b, "Globex tickets", url, auth).await;
    let (name, formulas) = ("Globex backlog", ["COUNT(@0.id)"]);
    let backlog = klip(&world.library, client_b, name, &formulas, &[&tickets.id]).await;
    (saved, tickets, backlog)
}

/// `a-only@test`, an admin of client A and of nothing else (not of B, not of the
/// partner), signed into A.
async fn own_admin_of(world: &World, client_a: Uuid) -> String {
    let own_admin_of_a = "a-only@test";
    members::add(
        &world.library_channel,
        client_a,
        own_admin_of_a,
        Role::Admin,
    )
    .await;
    tokens::user_token(client_a, own_admin_of_a, Role::Admin)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clients_own_admin_cannot_pull_a_siblings_assets() {
    let world = World::start().await;
    let family = world.family().await;
    let (saved, tickets, backlog) = globex_backlog(&world, family.client_b).await;
    let bearer = own_admin_of(&world, family.client_a).await;
    let selection = vec![klip_ref(&backlog.id)];
    let counts_before = asset_counts(&world.library, family.client_a).await;
    let credentials_before = credentials_of(&world.tokens, family.client_a).await;

    // I15: planning is refused; nothing is stored, nothing copied.
    let refused = plan_as(&world.imports, &bearer, family.client_b, selection.clone()).await;
    let status = failure(refused, Code::PermissionDenied);
    assert!(status.message().contains("(I15)"), "{status:?}");
    assert_eq!(
        plans_into(&world, family.client_a).await,
        0,
        "no plan stored"
    );
    // The refusal says nothing of B's assets, nor more than for an account that does not
    // exist.
    let seen = format!("{status:?}");
    for secret in [
        backlog.id.as_str(),
        &backlog.name,
        &tickets.id,
        &tickets.name,
        "helpdesk.globex.test",
        &saved.id,
        &saved.display_name,
    ] {
        assert!(!seen.contains(secret), "{secret} leaks: {seen}");
    }
    let nowhere = Uuid::new_v4();
    let unknown = failure(
        plan_as(&world.imports, &bearer, nowhere, selection.clone()).await,
        Code::PermissionDenied,
    );
    assert_eq!(
        status.message(),
        unknown
            .message()
            .replace(&nowhere.to_string(), &family.client_b.to_string()),
        "refused alike whether the source exists or not"
    );

    // A plan the agency made into A is not A's own admin's to execute either.
    let planned = plan(&world.imports, family.client_a, family.client_b, selection)
        .await
        .expect("the agency's admin plans the import");
    let refused = execute_as(&world.imports, &bearer, &planned, &request_id()).await;
    let status = failure(refused, Code::PermissionDenied);
    assert!(status.message().contains("(I15)"), "{status:?}");

    assert_eq!(
        asset_counts(&world.library, family.client_a).await,
        counts_before,
        "nothing was copied"
    );
    assert_eq!(
        credentials_of(&world.tokens, family.client_a).await,
        credentials_before,
        "no copy of B's credential"
    );
    assert!(credentials_before.is_empty());
    assert!(
        instances(&world.imports, family.client_b, klip_ref(&backlog.id))
            .await
            .is_empty(),
        "no instance of B's Klip"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clients_own_admin_cannot_pull_a_siblings_assets_by_reimporting() {
    let world = World::start().await;
    let family = world.family().await;
    // The agency imported a Klip of client B into client A.
    let (_, _, backlog) = globex_backlog(&world, family.client_b).await;
    let selection = vec![klip_ref(&backlog.id)];
    let done = import(&world.imports, family.client_a, family.client_b, selection).await;
    let instance = klip_ref(&instance_of(&done, &backlog.id));
    let bearer = own_admin_of(&world, family.client_a).await;
    let credentials_before = credentials_of(&world.tokens, family.client_a).await;

    // I15: a re-import copies B's assets and secrets again, so it needs a membership of B.
    for mode in [imp::ReimportMode::InPlace, imp::ReimportMode::NewCopy] {
        let refused = reimport(
            &world.imports,
            &bearer,
            instance.clone(),
            mode,
            &request_id(),
        )
        .await;
        let status = failure(refused, Code::PermissionDenied);
        assert!(status.message().contains("(I15)"), "{mode:?}: {status:?}");
    }
    assert_eq!(
        credentials_of(&world.tokens, family.client_a).await,
        credentials_before,
        "no new copy of B's credential"
    );
    // The agency, a member of both, may.
    let (by_agency, mode) = (agency(family.client_a), imp::ReimportMode::InPlace);
    // The agency re-imports.
    reimport_ok(&world.imports, &by_agency, instance, mode).await;
}
