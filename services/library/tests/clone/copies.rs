//! Clones copy a closure exactly once, and a retry under the same request id copies nothing again.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn cloning_a_dashboard_of_ten_klips_and_five_sources_copies_exactly_once() {
    let library = start_with_tokens().await;
    let mut client = library.client();
    let family = library.family().await;
    let master = master(&library, family.partner).await;
    // The destination has its own `year`, which a clone keeps (I4: merged by name).
    variable(&library, family.client_a, "year", "1999").await;
    let partner_rows = library.asset_rows(family.partner).await;
    let found = closure(&library, family.partner, &master.dashboard.id).await;

    let cloned = client
        .clone_assets(with(
            &tokens::service_as(Identity::Imports),
            clone_request(
                "import-1",
                family.partner,
                family.client_a,
                all_assets(&found),
            ),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!cloned.replayed);
    assert_eq!(cloned.mappings.len(), 16);
    assert_eq!(cloned.variables_created, ["companyID"]);

    // Exactly the expected rows: 5 data sources, 10 Klips with 20 bindings, one dashboard
    // showing 10 Klips; the source is untouched.
    assert_eq!(
        library.asset_rows(family.client_a).await,
        [5, 10, 20, 1, 10]
    );
    assert_eq!(library.asset_rows(family.partner).await, partner_rows);
    assert_eq!(
        library
            .count("variables", "account_id", family.client_a)
            .await,
        2
    );

    let map: HashMap<String, String> = cloned
        .mappings
        .iter()
        .map(|m| (m.source_id.clone(), m.destination_id.clone()))
        .collect();
    for mapping in &cloned.mappings {
        assert_ne!(mapping.source_id, mapping.destination_id, "I7: new ids");
    }
    let admin = tokens::admin(family.client_a);
    let copy = library
        .get_dashboard(&admin, &map[&master.dashboard.id])
        .await;
    let expected_klips: Vec<String> = master.klips.iter().map(|k| map[&k.id].clone()).collect();
    assert_eq!(copy.klip_ids, expected_klips);
    assert_eq!(copy.name, master.dashboard.name);
    for original in &master.klips {
        let instance = library.get_klip(&admin, &map[&original.id]).await;
        let expected: Vec<String> = original
            .bindings
            .iter()
            .map(|b| map[&b.data_source_id].clone())
            .collect();
        let bound: Vec<String> = instance
            .bindings
            .iter()
            .map(|b| b.data_source_id.clone())
            .collect();
        assert_eq!(bound, expected, "bindings point at the copies");
        assert_eq!(
            instance.components, original.components,
            "formula text is not rewritten"
        );
        assert_eq!(instance.variables, original.variables);
    }
    for original in &master.sources {
        let instance = library.get_data_source(&admin, &map[&original.id]).await;
        // Same token identity (I6) and, until the import repoints it, the same credential.
        assert_eq!(instance.auth, original.auth);
        assert_eq!(instance.fingerprint, original.fingerprint);
        assert_eq!(instance.request, original.request);
    }
    let year = client
        .get_variable(with(
            &admin,
            pb::GetVariableRequest {
                account_id: String::new(),
                name: "year".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .variable
        .unwrap();
    assert_eq!(year.default_value, "1999", "an existing variable is kept");
    let company = client
        .get_variable(with(
            &admin,
            pb::GetVariableRequest {
                account_id: String::new(),
                name: "companyID".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .variable
        .unwrap();
    assert_eq!(
        company.default_value, "all",
        "created with the source's default"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_clone_returns_the_same_mapping_and_copies_nothing_twice() {
    let library = start_with_tokens().await;
    let family = library.family().await;
    let master = master(&library, family.partner).await;
    let assets = all_assets(&closure(&library, family.partner, &master.dashboard.id).await);
    let call = |request_id: &str, destination: Uuid| {
        let mut client = library.client();
        let request = clone_request(request_id, family.partner, destination, assets.clone());
        async move {
            client
                .clone_assets(with(&tokens::service_as(Identity::Imports), request))
                .await
                .unwrap()
                .into_inner()
        }
    };

    let first = call("import-7", family.client_a).await;
    let retried = call("import-7", family.client_a).await;
    assert!(retried.replayed);
    assert_eq!(retried.mappings, first.mappings);
    assert_eq!(retried.variables_created, first.variables_created);
    assert_eq!(
        library.asset_rows(family.client_a).await,
        [5, 10, 20, 1, 10]
    );

    // Two identical requests at once: one copy, one mapping.
    let (a, b) = tokio::join!(
        call("import-8", family.client_b),
        call("import-8", family.client_b)
    );
    assert_eq!(a.mappings, b.mappings);
    assert!(
        a.replayed != b.replayed,
        "exactly one of them made the copy"
    );
    assert_eq!(
        library.asset_rows(family.client_b).await,
        [5, 10, 20, 1, 10]
    );

    // A new request id is a new import: a second, distinct copy (I7).
    let again = call("import-9", family.client_a).await;
    assert!(!again.replayed);
    assert_ne!(again.mappings, first.mappings);
    assert_eq!(
        library.asset_rows(family.client_a).await,
        [10, 20, 40, 2, 20]
    );
}
