//! Klip definitions: derived variables, versions, formulas and bindings.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_klip_is_created_with_derived_variables_and_versioned_on_change() {
    let (library, account, editor) = start_standard().await;
    let mut client = library.client();
    let sales = library
        .data_source(
            &editor,
            json_source(None, "Sales", "https://api.example.com/sales"),
        )
        .await;
    let costs = library
        .data_source(
            &editor,
            json_source(None, "Costs", "https://api.example.com/costs"),
        )
        .await;

    let created = library
        .klip(
            &editor,
            klip_of(
                None,
                "Margin",
                &[
                    "SUM(@0.amount) - SUM(@1.amount)",
                    "$year & \" for \" & $companyID",
                ],
                &[&sales.id, &costs.id],
            ),
        )
        .await;
    assert_eq!(created.variables, ["companyID", "year"]);
    assert_eq!(created.version, 1);
    let bound: Vec<_> = created
        .bindings
        .iter()
        .map(|b| b.data_source_id.clone())
        .collect();
    assert_eq!(bound, [sales.id.clone(), costs.id.clone()]);

    // Swapping the bindings is a change; components outside the mask stay.
    let swapped = library
        .update_klip(
            &editor,
            pb::UpdateKlipRequest {
                request_id: String::new(),
                klip: Some(klip_of(None, "", &[], &[&costs.id, &sales.id])),
                update_mask: mask(&["bindings"]),
            }
            .with_id(&created.id, &created.etag),
        )
        .await
        .unwrap();
    assert_eq!(swapped.version, 2);
    assert_eq!(swapped.components, created.components);
    assert_eq!(swapped.bindings[0].data_source_id, costs.id);

    // New components re-derive the variables.
    let rewritten = library
        .update_klip(
            &editor,
            pb::UpdateKlipRequest {
                request_id: String::new(),
                klip: Some(klip_of(None, "", &["@0.amount * $rate"], &[])),
                update_mask: mask(&["components"]),
            }
            .with_id(&created.id, &swapped.etag),
        )
        .await
        .unwrap();
    assert_eq!(rewritten.variables, ["rate"]);
    assert_eq!(rewritten.version, 3);
    // The old etag is stale now.
    let stale = client
        .update_klip(with(
            &editor,
            pb::UpdateKlipRequest {
                request_id: String::new(),
                klip: Some(klip_of(None, "Renamed", &[], &[])),
                update_mask: mask(&["name"]),
            }
            .with_id(&created.id, &swapped.etag),
        ))
        .await;
    failure(stale, Code::Aborted);

    let listed = client
        .list_klips(with(
            &tokens::viewer(account),
            pb::ListKlipsRequest {
                data_source_id: costs.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.klips.len(), 1);
    assert_eq!(listed.klips[0], rewritten);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_formula_is_invalid_naming_component_line_column_and_reason() {
    let (library, account, editor) = start_standard().await;
    let mut client = library.client();
    let source = library
        .data_source(&editor, json_source(None, "s", "https://api.example.com/"))
        .await;

    let mut klip = klip_of(
        None,
        "Broken",
        &["@0.a", "SUM(@0.b)", "SUM(@0.c,\n  (1 + )"],
        &[&source.id],
    );
    klip.components[2].name = "total".into();
    let found = violations(client.create_klip(with(&editor, create(klip))).await);
    assert_eq!(found.len(), 1, "{found:?}");
    let (field, description) = &found[0];
    assert_eq!(field, "klip.components[2].formula");
    assert!(
        description.contains("component 2 (\"total\")"),
        "{description}"
    );
    assert!(description.contains("line 2, column"), "{description}");

    // A formula using a binding the Klip does not have.
    let missing = violations(
        client
            .create_klip(with(
                &editor,
                create(klip_of(None, "k", &["@1.x"], &[&source.id])),
            ))
            .await,
    );
    assert_eq!(missing[0].0, "klip.components[0].formula");
    assert!(missing[0].1.contains("@1"));

    // Oversized: a formula beyond the parser's limit.
    let huge = "1+".repeat(trellis_formula::MAX_FORMULA_CHARS) + "1";
    let oversized = violations(
        client
            .create_klip(with(&editor, create(klip_of(None, "k", &[&huge], &[]))))
            .await,
    );
    assert_eq!(oversized[0].0, "klip.components[0].formula");
    assert_eq!(library.count("klips", "account_id", account).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_or_foreign_bindings_are_invalid_without_revealing_tenants() {
    let library = start().await;
    let mut client = library.client();
    let mine = library.standard().await;
    let theirs = library.standard().await;
    let foreign = library
        .data_source(
            &tokens::editor(theirs),
            json_source(None, "Secret Revenue Feed", "https://secret.example.com/"),
        )
        .await;
    let own = library
        .data_source(
            &tokens::editor(mine),
            json_source(None, "s", "https://api.example.com/"),
        )
        .await;
    let unknown = Uuid::now_v7().to_string();

    // A Klip "k" of `formula` over `bindings`, created by my editor.
    let create_mine = |formula: &str, bindings: &[&str]| {
        with(
            &tokens::editor(mine),
            create(klip_of(None, "k", &[formula], bindings)),
        )
    };
    let all_four = [own.id.as_str(), &foreign.id, &unknown, "not-a-uuid"];
    let found = create_mine("@0.a + @1.b + @2.c + @3.d", &all_four);
    let found = violations(client.create_klip(found).await);
    let fields: Vec<_> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["klip.bindings[3].data_source_id"]);
    // The UUID check comes first; with valid ids, both others are named the same way.
    let found = create_mine("@0.a + @1.b + @2.c", &all_four[..3]);
    let found = violations(client.create_klip(found).await);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "klip.bindings[1].data_source_id");
    assert_eq!(found[1].0, "klip.bindings[2].data_source_id");
    let describe = |d: &str, id: &str| d.replace(id, "<id>");
    assert_eq!(
        describe(&found[0].1, &foreign.id),
        describe(&found[1].1, &unknown),
        "a foreign id reads exactly like an unknown one"
    );
    assert!(!found[0].1.contains("Secret"));
}
