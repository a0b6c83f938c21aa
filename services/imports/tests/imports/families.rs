//! I1, I2 and I15: imports happen inside one family, in every direction, by an admin signed
//! into the destination who may also sign into the source; never across families or with a
//! standard account, and never by a client's own admin from a sibling.

use tonic::Code;
use trellis_platform::auth::Role;
use trellis_proto::imports::v1 as imp;
use trellis_proto::library::v1 as lib;
use trellis_testkit::{members, tokens};
use uuid::Uuid;

use crate::common::*;

/// A Klip over a data source in `account`.
async fn widget(world: &World, account: Uuid) -> lib::Klip {
    counting_klip(&world.library, account, "Visits", "visits")
        .await
        .1
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
    let into_b = list_imports(
        &world.imports,
        &admin(family.client_b),
        imp::ListImportsRequest::default(),
    )
    .await
    .imports;
    assert_eq!(into_b.len(), 1);
    assert_eq!(into_b[0].source_account_id, family.client_a.to_string());
    assert_eq!(into_b[0].mappings.len(), 2, "with its id mapping");
    let from_a = imp::ListImportsRequest {
        source_account_id: family.client_a.to_string(),
        page_size: 1,
        ..Default::default()
    };
    let from_a = list_imports(&world.imports, &admin(family.client_a), from_a).await;
    assert_eq!(from_a.imports.len(), 1, "one per page");
    assert!(
        !from_a.next_page_token.is_empty(),
        "client A exported twice"
    );
    let stranger = family_of_strangers(&world).await;
    let hidden = get_import(&world.imports, &admin(stranger), &into_b[0].id).await;
    failure(hidden, Code::NotFound);
    let seen_by_source = get_import(&world.imports, &admin(family.client_a), &into_b[0].id)
        .await
        .expect("the source account reads the import");
    assert_eq!(seen_by_source.state(), imp::ImportState::Succeeded);
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
}

#[tokio::test(flavor = "multi_thread")]
async fn only_an_admin_signed_into_the_destination_imports() {
    let world = World::start().await;
    let family = world.family().await;
    let master = widget(&world, family.partner).await;
    // I2: only an admin signed into the destination imports.
    let selection = vec![klip_ref(&master.id)];
    let request = |destination: String| imp::CreateImportPlanRequest {
        request_id: String::new(),
        destination_account_id: destination,
        source_account_id: family.partner.to_string(),
        selection: selection.clone(),
    };
    let by_editor = tokens::editor(family.client_a);
    let by_editor = create_plan(&world.imports, &by_editor, request(String::new())).await;
    failure(by_editor, Code::PermissionDenied);
    let into_someone_else = request(family.client_a.to_string());
    let into_someone_else =
        create_plan(&world.imports, &admin(family.partner), into_someone_else).await;
    failure(into_someone_else, Code::PermissionDenied);
    // A plan made signed into the client is not the partner's to execute, not even by the
    // same agency admin signed into the partner.
    let planned = plan(&world.imports, family.client_a, family.partner, selection)
        .await
        .unwrap();
    let hijacked = execute(&world.imports, family.partner, &planned, &request_id()).await;
    failure(hijacked, Code::NotFound);
    let editor = tokens::editor(family.client_a);
    let hijacked_by_editor = execute_as(&world.imports, &editor, &planned, &request_id()).await;
    failure(hijacked_by_editor, Code::PermissionDenied);
}
