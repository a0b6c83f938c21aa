//! The opt-in data-source push of UpdateInstances (I10): compatible master data-source
//! changes reach the instances only when asked.

use trellis_proto::imports::v1 as imp;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn compatible_data_source_changes_are_pushed_only_when_asked() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    company_property(library, family.client_a, "companyID", "acme").await;
    let url = "https://api.example.test/v1/sales?company={props.companyID}";
    let formulas = ["SUM(@0.amount)"];
    let (sales, master) = master_klip(library, family.partner, "Sales", url, &formulas).await;
    let selection = vec![klip_ref(&master.id)];
    let done = import(&world.imports, family.client_a, family.partner, selection).await;
    let (klip_a, sales_a) = (
        instance_of(&done, &master.id),
        instance_of(&done, &sales.id),
    );

    // The master moves to the API's v2: same auth, same bindings, a compatible change.
    let v2 = "https://api.example.test/v2/sales?company={props.companyID}";
    update_data_source(library, &sales.id, Some(v2), None, &admin(family.partner))
        .await
        .unwrap();
    let status = status_of(&world.imports, family.client_a, klip_ref(&klip_a)).await;
    assert_eq!(status.status(), imp::InstanceStatus::RequiresReimport);
    assert_eq!(
        status.reasons[0].kind(),
        imp::StatusReasonKind::DataSourceChanged
    );

    let mut request = update(&master.id, &request_id(), false);
    let without = update_instances(&world.imports, family.partner, request.clone())
        .await
        .unwrap();
    assert_eq!(
        without.result(&klip_a).outcome(),
        imp::UpdateOutcome::RequiresReimport
    );

    request.request_id = request_id();
    request.push_data_sources = true;
    request.dry_run = true;
    let preview = update_instances(&world.imports, family.partner, request.clone())
        .await
        .unwrap();
    let would = preview.result(&klip_a);
    assert_eq!(would.outcome(), imp::UpdateOutcome::WouldUpdate);
    assert_eq!(would.data_sources_pushed, std::slice::from_ref(&sales_a));
    assert!(
        would
            .changes
            .iter()
            .any(|c| c.kind() == imp::ChangeKind::DataSource && c.master_value.contains("/v2/"))
    );
    request.dry_run = false;
    let pushed = update_instances(&world.imports, family.partner, request)
        .await
        .unwrap();
    let result = pushed.result(&klip_a);
    assert_eq!(result.outcome(), imp::UpdateOutcome::Updated, "{result:?}");
    assert_eq!(result.data_sources_pushed, std::slice::from_ref(&sales_a));
    let instance = get_data_source(library, family.client_a, &sales_a).await;
    assert_eq!(instance.request.unwrap().url, v2);
    for instance in [klip_ref(&klip_a), data_source_ref(&sales_a)] {
        let status = status_of(&world.imports, family.client_a, instance).await;
        assert_eq!(status.status(), imp::InstanceStatus::InSync, "{status:?}");
    }

    // A change of auth kind is not compatible: re-import it is.
    let saved = credential(&world.tokens, family.partner, "pw").await;
    let auth = credential_auth(&saved.id);
    update_data_source(library, &sales.id, None, auth, &admin(family.partner))
        .await
        .unwrap();
    let mut request = update(&master.id, &request_id(), false);
    request.push_data_sources = true;
    let refused = update_instances(&world.imports, family.partner, request)
        .await
        .unwrap();
    let result = refused.result(&klip_a);
    assert_eq!(result.outcome(), imp::UpdateOutcome::RequiresReimport);
    assert!(
        result.reason.contains("authentication"),
        "{}",
        result.reason
    );
}
