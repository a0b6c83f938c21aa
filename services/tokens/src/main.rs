use trellis_platform::config::ServiceKind;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    trellis_platform::service::run(
        ServiceKind::Tokens,
        trellis_tokens::SCHEMA,
        trellis_tokens::build,
    )
    .await
}
