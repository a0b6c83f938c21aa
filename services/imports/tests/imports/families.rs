//! I1, I2 and I15: imports happen inside one family, in every direction, by an admin signed
//! into the destination who may also sign into the source; never across families or with a
//! standard account, and never by a client's own admin from a sibling.

use tonic::Code;
use trellis_platform::auth::Role;
use trellis_proto::imports::v1 as imp;
use trellis_proto::library::v1 as lib;
use trellis_proto::tokens::v1 as tok;
use trellis_testkit::{members, tokens};
use uuid::Uuid;

use crate::common::*;

/// A Klip over a data source in `account`.
async fn widget(world: &World, account: Uuid) -> lib::Klip {
    let source = data_source(
        &world.library,
        account,
        "Visits",
        "https://api.example.test/visits",
        None,
    )
    .await;
    klip(
        &world.library,
        account,
        "Visits",
        &["COUNT(@0.id)"],
        &[&source.id],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_go_partner_to_client_client_to_partner_and_client_to_client() {
    let world = World::start().await;
    let family = world.family().await;
    // Partner ↔ client by the agency's admin (an admin of the partner, so of its clients);
    // client → client by someone who belongs to both clients, not to the partner (I15).
    let both_clients = "both-clients@test";
    for client in [family.client_a, family.client_b] {
        members::add(&world.library_channel, client, both_clients, Role::Admin).await;
    }
    let directions = [
        (
            "partner → client",
            family.partner,
            family.client_a,
            agency(family.client_a),
        ),
        (
            "client → partner",
            family.client_a,
            family.partner,
            agency(family.partner),
        ),
        (
            "client → client",
            family.client_a,
            family.client_b,
            tokens::user_token(family.client_b, both_clients, Role::Admin),
        ),
    ];
    for (direction, source, destination, importer) in directions {
        let master = widget(&world, source).await;
        let done = import_as(
            &world.imports,
            &importer,
            source,
            vec![klip_ref(&master.id)],
        )
        .await;
        assert_eq!(
            done.mappings.len(),
            2,
            "{direction}: the Klip and its data source"
        );
        let instance = instance_of(&done, &master.id);
        let copied = get_klip(&world.library, destination, &instance)
            .await
            .unwrap_or_else(|| panic!("{direction}: the instance exists"));
        assert_eq!(copied.name, "Visits");
        let listed = instances(&world.imports, source, klip_ref(&master.id)).await;
        assert_eq!(listed.len(), 1, "{direction}");
        assert_eq!(listed[0].account_id, destination.to_string());
    }

    // ListImports and GetImport: the destination lists its imports; the source may read
    // them too; another tenant may not.
    let into_b = world
        .imports
        .clone()
        .list_imports(call(
            imp::ListImportsRequest::default(),
            &admin(family.client_b),
        ))
        .await
        .unwrap()
        .into_inner()
        .imports;
    assert_eq!(into_b.len(), 1);
    assert_eq!(into_b[0].source_account_id, family.client_a.to_string());
    assert_eq!(into_b[0].mappings.len(), 2, "with its id mapping");
    let from_a = world
        .imports
        .clone()
        .list_imports(call(
            imp::ListImportsRequest {
                source_account_id: family.client_a.to_string(),
                page_size: 1,
                ..Default::default()
            },
            &admin(family.client_a),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(from_a.imports.len(), 1, "one per page");
    assert!(
        !from_a.next_page_token.is_empty(),
        "client A exported twice"
    );
    let stranger = family_of_strangers(&world).await;
    let hidden = world
        .imports
        .clone()
        .get_import(call(
            imp::GetImportRequest {
                id: into_b[0].id.clone(),
            },
            &admin(stranger),
        ))
        .await;
    failure(hidden, Code::NotFound);
    let seen_by_source = world
        .imports
        .clone()
        .get_import(call(
            imp::GetImportRequest {
                id: into_b[0].id.clone(),
            },
            &admin(family.client_a),
        ))
        .await
        .expect("the source account reads the import");
    assert_eq!(
        seen_by_source.into_inner().import.unwrap().state(),
        imp::ImportState::Succeeded
    );
}

/// A client of another partner.
async fn family_of_strangers(world: &World) -> Uuid {
    family(&world.library_channel).await.client_a
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_across_families_or_with_standard_accounts_are_refused() {
    let world = World::start().await;
    let family = world.family().await;
    let other = world.family().await;
    let standard = account(&world.library_channel, lib::AccountKind::Standard, None).await;
    let master = widget(&world, family.partner).await;
    let standard_master = widget(&world, standard).await;

    // `admin@test` is a member of every one of these accounts, so it is the family rule
    // that refuses (I1); a source that does not exist has no members, and is refused for
    // that (I15), saying nothing about whether it exists.
    let refusals = [
        (
            "another family's client",
            other.client_a,
            family.partner,
            &master.id,
            "(I1)",
        ),
        (
            "another partner",
            other.partner,
            family.partner,
            &master.id,
            "(I1)",
        ),
        (
            "a standard account",
            standard,
            family.partner,
            &master.id,
            "(I1)",
        ),
        (
            "from a standard account",
            family.partner,
            standard,
            &standard_master.id,
            "(I1)",
        ),
        (
            "a source that does not exist",
            family.client_a,
            Uuid::new_v4(),
            &master.id,
            "(I15)",
        ),
    ];
    for (case, destination, source, asset, rule) in refusals {
        let before = asset_counts(&world.library, destination).await;
        let refused = plan_as(
            &world.imports,
            &admin(destination),
            source,
            vec![klip_ref(asset)],
        )
        .await;
        let status = failure(refused, Code::PermissionDenied);
        assert!(status.message().contains(rule), "{case}: {status:?}");
        assert!(
            !status.message().contains("Visits"),
            "{case}: nothing leaks"
        );
        assert_eq!(
            asset_counts(&world.library, destination).await,
            before,
            "{case}: nothing was copied"
        );
    }

    // I2: only an admin signed into the destination imports.
    let selection = vec![klip_ref(&master.id)];
    let by_editor = world
        .imports
        .clone()
        .create_import_plan(call(
            imp::CreateImportPlanRequest {
                request_id: String::new(),
                destination_account_id: String::new(),
                source_account_id: family.partner.to_string(),
                selection: selection.clone(),
            },
            &tokens::editor(family.client_a),
        ))
        .await;
    failure(by_editor, Code::PermissionDenied);
    let into_someone_else = world
        .imports
        .clone()
        .create_import_plan(call(
            imp::CreateImportPlanRequest {
                request_id: String::new(),
                destination_account_id: family.client_a.to_string(),
                source_account_id: family.partner.to_string(),
                selection: selection.clone(),
            },
            &admin(family.partner),
        ))
        .await;
    failure(into_someone_else, Code::PermissionDenied);
    // A plan made signed into the client is not the partner's to execute, not even by the
    // same agency admin signed into the partner.
    let planned = plan(&world.imports, family.client_a, family.partner, selection)
        .await
        .unwrap();
    let hijacked = execute(&world.imports, family.partner, &planned, &request_id()).await;
    failure(hijacked, Code::NotFound);
    let hijacked_by_editor = world
        .imports
        .clone()
        .execute_import_plan(call(
            imp::ExecuteImportPlanRequest {
                request_id: request_id(),
                plan_id: planned.id.clone(),
                etag: planned.etag.clone(),
            },
            &tokens::editor(family.client_a),
        ))
        .await;
    failure(hijacked_by_editor, Code::PermissionDenied);
}

/// How many plans the import service stores for `destination`.
async fn plans_into(world: &World, destination: Uuid) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use trellis_imports::schema::import_plans;
    let mut conn = world.imports_service.database.connect().await;
    import_plans::table
        .filter(import_plans::destination_account_id.eq(destination))
        .count()
        .get_result(&mut conn)
        .await
        .expect("count the plans")
}

async fn credentials_of(world: &World, account: Uuid) -> Vec<tok::Credential> {
    world
        .tokens
        .clone()
        .list_credentials(call(
            tok::ListCredentialsRequest::default(),
            &admin(account),
        ))
        .await
        .expect("ListCredentials")
        .into_inner()
        .credentials
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clients_own_admin_cannot_pull_a_siblings_assets() {
    let world = World::start().await;
    let family = world.family().await;
    // Client B's assets: a data source with a saved credential, and a Klip over it.
    let saved = credential(&world.tokens, family.client_b, "b-s3cret").await;
    let tickets = data_source(
        &world.library,
        family.client_b,
        "Globex tickets",
        "https://helpdesk.globex.test/tickets",
        credential_auth(&saved.id),
    )
    .await;
    let backlog = klip(
        &world.library,
        family.client_b,
        "Globex backlog",
        &["COUNT(@0.id)"],
        &[&tickets.id],
    )
    .await;
    // An admin of client A, and of nothing else: not of B, not of the partner.
    let own_admin_of_a = "a-only@test";
    members::add(
        &world.library_channel,
        family.client_a,
        own_admin_of_a,
        Role::Admin,
    )
    .await;
    let bearer = tokens::user_token(family.client_a, own_admin_of_a, Role::Admin);
    let selection = vec![klip_ref(&backlog.id)];
    let counts_before = asset_counts(&world.library, family.client_a).await;
    let credentials_before = credentials_of(&world, family.client_a).await;

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
        credentials_of(&world, family.client_a).await,
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
    let saved = credential(&world.tokens, family.client_b, "b-s3cret").await;
    let tickets = data_source(
        &world.library,
        family.client_b,
        "Globex tickets",
        "https://helpdesk.globex.test/tickets",
        credential_auth(&saved.id),
    )
    .await;
    let backlog = klip(
        &world.library,
        family.client_b,
        "Globex backlog",
        &["COUNT(@0.id)"],
        &[&tickets.id],
    )
    .await;
    let done = import(
        &world.imports,
        family.client_a,
        family.client_b,
        vec![klip_ref(&backlog.id)],
    )
    .await;
    let instance = instance_of(&done, &backlog.id);
    let own_admin_of_a = "a-only@test";
    members::add(
        &world.library_channel,
        family.client_a,
        own_admin_of_a,
        Role::Admin,
    )
    .await;
    let bearer = tokens::user_token(family.client_a, own_admin_of_a, Role::Admin);
    let credentials_before = credentials_of(&world, family.client_a).await;

    // I15: a re-import copies B's assets and secrets again, so it needs a membership of B.
    for mode in [imp::ReimportMode::InPlace, imp::ReimportMode::NewCopy] {
        let refused = world
            .imports
            .clone()
            .reimport_instance(call(
                imp::ReimportInstanceRequest {
                    request_id: request_id(),
                    instance: Some(klip_ref(&instance)),
                    mode: mode as i32,
                },
                &bearer,
            ))
            .await;
        let status = failure(refused, Code::PermissionDenied);
        assert!(status.message().contains("(I15)"), "{mode:?}: {status:?}");
    }
    assert_eq!(
        credentials_of(&world, family.client_a).await,
        credentials_before,
        "no new copy of B's credential"
    );
    // The agency, a member of both, may.
    let again = world
        .imports
        .clone()
        .reimport_instance(call(
            imp::ReimportInstanceRequest {
                request_id: request_id(),
                instance: Some(klip_ref(&instance)),
                mode: imp::ReimportMode::InPlace as i32,
            },
            &agency(family.client_a),
        ))
        .await
        .expect("the agency re-imports")
        .into_inner()
        .import
        .unwrap();
    assert_eq!(
        again.state(),
        imp::ImportState::Succeeded,
        "{}",
        again.error
    );
}
