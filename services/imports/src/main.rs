use trellis_platform::config::ServiceKind;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    trellis_platform::service::run(
        ServiceKind::Imports,
        trellis_imports::SCHEMA,
        trellis_imports::build,
    )
    .await
}
