use trellis_platform::config::ServiceKind;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    trellis_platform::service::run(
        ServiceKind::Library,
        trellis_library::SCHEMA,
        trellis_library::build,
    )
    .await
}
