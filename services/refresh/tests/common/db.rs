//! Reading and changing the refresh database directly: what no gRPC answer shows, and time
//! moved on (fetches made older, activity windows ended).

use std::collections::HashMap;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use trellis_testkit::TestDatabase;
use uuid::Uuid;

pub async fn connect(database: &TestDatabase) -> AsyncPgConnection {
    AsyncPgConnection::establish(&database.url)
        .await
        .expect("connect")
}

/// Moves the last fetch of these data sources' instances back by `by`, as if that much
/// time had passed since (the refresh interval's minimum is a minute).
pub async fn age(database: &TestDatabase, data_sources: &[Uuid], by: Duration) {
    let mut conn = connect(database).await;
    diesel::sql_query(
        "UPDATE instances
         SET last_fetch_time = last_fetch_time - $2,
             next_due_time = next_due_time - $2
         WHERE data_source_id = ANY($1)",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(data_sources)
    .bind::<diesel::sql_types::Interval, _>(trellis_refresh::store::jobs::interval(by))
    .execute(&mut conn)
    .await
    .expect("age the instances");
}

/// Ends an account's activity window (and nothing else: its last sync stays as recent).
pub async fn end_activity_window(conn: &mut AsyncPgConnection, account: Uuid) {
    diesel::sql_query(
        "UPDATE account_activity SET active_until = now() - interval '1 second'
         WHERE account_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(account)
    .execute(conn)
    .await
    .expect("end the activity window");
}

/// Ends an account's activity window, as if nobody had been active in it for a while.
pub async fn go_inactive(database: &TestDatabase, account: Uuid) {
    let mut conn = connect(database).await;
    end_activity_window(&mut conn, account).await;
    // The window (an hour) has passed, so the last sync is older than the throttle too.
    diesel::sql_query(
        "UPDATE activity_syncs SET synced_at = synced_at - interval '1 hour'
         WHERE account_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(account)
    .execute(&mut conn)
    .await
    .expect("age the last sync");
}

/// Successful fetches stored per data source (a count no gRPC answer shows).
pub async fn fetch_counts(database: &TestDatabase) -> HashMap<Uuid, i64> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        data_source_id: Uuid,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        fetch_count: i64,
    }
    let mut conn = connect(database).await;
    diesel::sql_query("SELECT data_source_id, fetch_count FROM instances")
        .load::<Row>(&mut conn)
        .await
        .expect("read the instances")
        .into_iter()
        .map(|r| (r.data_source_id, r.fetch_count))
        .collect()
}

/// Every job of the refresh database: (data source, state, attempt).
pub async fn all_jobs(database: &TestDatabase) -> Vec<(Uuid, String, i32)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        data_source_id: Uuid,
        #[diesel(sql_type = diesel::sql_types::Text)]
        state: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        attempt: i32,
    }
    let mut conn = connect(database).await;
    diesel::sql_query("SELECT data_source_id, state, attempt FROM refresh_jobs ORDER BY seq")
        .load::<Row>(&mut conn)
        .await
        .expect("read the jobs")
        .into_iter()
        .map(|r| (r.data_source_id, r.state, r.attempt))
        .collect()
}
