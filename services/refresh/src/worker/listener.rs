//! LISTEN on `refresh_jobs`: the trigger on the queue table notifies whenever a job becomes
//! queued, and each notification wakes the dispatcher. A dedicated connection (not a pooled
//! one) listens; when it drops, the listener reconnects, and the dispatcher's polling covers
//! whatever was missed meanwhile. It returns when the server stops.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::StreamExt;
use tokio::sync::Notify;
use trellis_platform::background::Background;

pub async fn listen(database_url: String, wake: Arc<Notify>, background: Background) {
    let stop = background.token();
    stop.run_until_cancelled(listen_until_stopped(&database_url, &wake))
        .await;
}

async fn listen_until_stopped(database_url: &str, wake: &Notify) {
    loop {
        match AsyncPgConnection::establish(database_url).await {
            Ok(mut conn) => match diesel::sql_query("LISTEN refresh_jobs")
                .execute(&mut conn)
                .await
            {
                Ok(_) => {
                    // Anything queued while not listening is claimed now.
                    wake.notify_one();
                    let mut notifications = std::pin::pin!(conn.notifications_stream());
                    while let Some(notification) = notifications.next().await {
                        match notification {
                            Ok(_) => wake.notify_one(),
                            Err(error) => {
                                tracing::warn!(%error, "queue notifications lost; reconnecting");
                                break;
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot LISTEN for queued jobs"),
            },
            Err(error) => tracing::warn!(%error, "cannot connect to listen for queued jobs"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
