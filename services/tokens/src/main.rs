use clap::Parser as _;
use trellis_platform::config::ServiceKind;
use trellis_tokens::providers_catalogue::{self, CatalogueCli};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `trellis-tokens catalogue [flags]` loads the provider catalogue; everything else is
    // the command line every service shares (`serve`, `migrate`).
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|first| first == "catalogue") {
        args.remove(1);
        let cli = CatalogueCli::parse_from(args);
        let _telemetry = trellis_platform::telemetry::init(
            ServiceKind::Tokens.name(),
            cli.common.log_format,
            &cli.common.log_filter,
        );
        let report = providers_catalogue::run(cli).await?;
        println!(
            "provider catalogue: {} created, {} updated, {} unchanged",
            report.created.len(),
            report.updated.len(),
            report.unchanged.len()
        );
        return Ok(());
    }
    trellis_platform::service::run(
        ServiceKind::Tokens,
        trellis_tokens::SCHEMA,
        trellis_tokens::build,
    )
    .await
}
