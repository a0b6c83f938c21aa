//! I5 and I6 while an instance borrows the master's secret: its query cannot be pointed
//! elsewhere, so the grant or the copy is never used for another request.

use tonic::Code;
use trellis_testkit::tokens;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_imported_query_cannot_be_pointed_elsewhere_while_it_borrows_the_masters_secret() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    let master = Borrowing::create(&world, family.partner).await;
    let Borrowing {
        token,
        saved,
        analytics,
        helpdesk,
        both,
        ..
    } = &master;
    let done = import(
        &world.imports,
        family.client_a,
        family.partner,
        vec![klip_ref(&both.id)],
    )
    .await;
    let analytics_a = instance_of(&done, &analytics.id);
    let helpdesk_a = instance_of(&done, &helpdesk.id);
    let copy = done.credential_copies[0].destination_credential_id.clone();
    // The instances borrow: the master's token through a grant (I6), a copy of the master's
    // credential (I5).
    let borrowed = [
        (&analytics_a, token_auth(&token.id)),
        (&helpdesk_a, credential_auth(&copy)),
    ];
    let editor = tokens::editor(family.client_a);
    let elsewhere = "https://collector.elsewhere.test/ga";

    for (instance, auth) in &borrowed {
        let before = get_data_source(library, family.client_a, instance).await;
        assert_eq!(before.auth.as_ref().unwrap().method, *auth);

        // I14: what it fetches with the master's secret stays as imported.
        let violations = preconditions(
            update_data_source(library, instance, Some(elsewhere), None, &editor).await,
        );
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].r#type, "IMPORTED_QUERY_NEEDS_OWN_AUTH");
        assert_eq!(violations[0].subject, format!("data_sources/{instance}"));
        assert_eq!(
            get_data_source(library, family.client_a, instance).await,
            before,
            "the stored data source is unchanged"
        );

        // Nor may the client name the partner's own credential or token (I15): neither is
        // the client's, and neither was granted or copied to this data source.
        for (theirs, field) in [
            (credential_auth(&saved.id), "data_source.auth.credential_id"),
            (token_auth(&token.id), "data_source.auth.token_id"),
        ] {
            if theirs == *auth {
                continue;
            }
            let status = failure(
                update_data_source(library, instance, None, theirs.clone(), &editor).await,
                Code::InvalidArgument,
            );
            assert_eq!(field_violations(&status), [field], "{theirs:?}");
            assert_eq!(
                get_data_source(library, family.client_a, instance).await,
                before,
                "the stored data source is unchanged"
            );
        }
    }
    // With a credential of the client's own, switched to in the same update, the query may
    // change.
    let own = credential(&world.tokens, family.client_a, "client-password").await;
    for (instance, _) in &borrowed {
        let moved = update_data_source(
            library,
            instance,
            Some(elsewhere),
            credential_auth(&own.id),
            &editor,
        )
        .await
        .expect("an instance on the client's own credential fetches what the client wants");
        let stored = get_data_source(library, family.client_a, instance).await;
        assert_eq!(stored, moved);
        assert_eq!(stored.request.unwrap().url, elsewhere);
        assert_eq!(stored.auth.unwrap().method, credential_auth(&own.id));
    }
}
