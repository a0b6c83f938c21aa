//! The reuse check of CloneAssets (which destination assets an import may overwrite) keeps
//! what it found from being deleted until its transaction ends, for each kind of asset.

use std::collections::BTreeSet;

use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use trellis_library::store;
use trellis_platform::error::StoreError;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::{dashboard_of, json_source, klip_of, start};

/// How long the concurrent delete may wait for the reuse check's lock before it gives up:
/// a deadline, not a pause (a delete that is not blocked returns at once).
const LOCK_TIMEOUT: &str = "500ms";

/// One kind of asset the reuse check looks at.
#[derive(Debug, Clone, Copy)]
enum Kind {
    DataSource,
    Klip,
    Dashboard,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::DataSource => "data_sources",
            Kind::Klip => "klips",
            Kind::Dashboard => "dashboards",
        }
    }

    async fn existing(
        self,
        conn: &mut AsyncPgConnection,
        account: Uuid,
        ids: &BTreeSet<Uuid>,
    ) -> Result<BTreeSet<Uuid>, StoreError> {
        match self {
            Kind::DataSource => store::data_sources::existing(conn, account, ids).await,
            Kind::Klip => store::klips::existing(conn, account, ids).await,
            Kind::Dashboard => store::dashboards::existing(conn, account, ids).await,
        }
    }
}

async fn delete(conn: &mut AsyncPgConnection, kind: Kind, id: Uuid) -> diesel::QueryResult<usize> {
    diesel::sql_query(format!("DELETE FROM {} WHERE id = '{id}'", kind.table()))
        .execute(conn)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reuse_check_keeps_what_it_found_from_a_concurrent_delete() {
    let library = start().await;
    let account = library.standard().await;
    let editor = tokens::editor(account);
    let source = library
        .data_source(
            &editor,
            json_source(None, "Feed", "https://api.example.com/feed"),
        )
        .await;
    let klip = library
        .klip(&editor, klip_of(None, "Revenue", &["1"], &[]))
        .await;
    let dashboard = library
        .dashboard(&editor, dashboard_of(None, "Board", &[]))
        .await;

    for (kind, id) in [
        (Kind::DataSource, &source.id),
        (Kind::Klip, &klip.id),
        (Kind::Dashboard, &dashboard.id),
    ] {
        let id: Uuid = id.parse().expect("an asset id");
        let ids = BTreeSet::from([id]);
        let mut checking = library.service.database.connect().await;
        checking.batch_execute("BEGIN").await.expect("BEGIN");
        let found = kind
            .existing(&mut checking, account, &ids)
            .await
            .expect("the reuse check");
        assert_eq!(found, ids, "{kind:?}");

        let mut deleting = library.service.database.connect().await;
        deleting
            .batch_execute(&format!("SET lock_timeout = '{LOCK_TIMEOUT}'"))
            .await
            .expect("a lock timeout");
        let Err(error) = delete(&mut deleting, kind, id).await else {
            panic!("{kind:?}: the delete did not wait for the reuse check's transaction");
        };
        assert!(
            error.to_string().contains("lock timeout"),
            "{kind:?}: {error}"
        );

        // Once the check's transaction ends, the delete goes through.
        checking.batch_execute("ROLLBACK").await.expect("ROLLBACK");
        assert_eq!(
            delete(&mut deleting, kind, id).await.expect("the delete"),
            1,
            "{kind:?}"
        );
    }
}
