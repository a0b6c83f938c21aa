//! I1 and I2: imports happen inside one family, in every direction, by an admin signed
//! into the destination; never across families or with a standard account.

use tonic::Code;
use trellis_proto::imports::v1 as imp;
use trellis_proto::library::v1 as lib;
use trellis_testkit::tokens;
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
    let directions = [
        ("partner → client", family.partner, family.client_a),
        ("client → partner", family.client_a, family.partner),
        ("client → client", family.client_a, family.client_b),
    ];
    for (direction, source, destination) in directions {
        let master = widget(&world, source).await;
        let done = import(
            &world.imports,
            destination,
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
    family(&world.library).await.client_a
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_across_families_or_with_standard_accounts_are_refused() {
    let world = World::start().await;
    let family = world.family().await;
    let other = world.family().await;
    let standard = account(&world.library, lib::AccountKind::Standard, None).await;
    let master = widget(&world, family.partner).await;
    let standard_master = widget(&world, standard).await;

    let refusals = [
        (
            "another family's client",
            other.client_a,
            family.partner,
            &master.id,
        ),
        ("another partner", other.partner, family.partner, &master.id),
        ("a standard account", standard, family.partner, &master.id),
        (
            "from a standard account",
            family.partner,
            standard,
            &standard_master.id,
        ),
        (
            "a source that does not exist",
            family.client_a,
            Uuid::new_v4(),
            &master.id,
        ),
    ];
    for (case, destination, source, asset) in refusals {
        let before = asset_counts(&world.library, destination).await;
        let refused = plan(&world.imports, destination, source, vec![klip_ref(asset)]).await;
        let status = failure(refused, Code::PermissionDenied);
        assert!(status.message().contains("I1"), "{case}: {status:?}");
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
    // A plan made by the client's admin is not the partner's to execute.
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
