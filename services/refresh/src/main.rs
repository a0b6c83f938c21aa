use trellis_platform::config::ServiceKind;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    trellis_platform::service::run(
        ServiceKind::Refresh,
        trellis_refresh::SCHEMA,
        trellis_refresh::build,
    )
    .await
}
