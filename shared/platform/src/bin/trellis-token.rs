//! Mints a development token so an engineer can call any service by hand:
//!
//! ```text
//! TOKEN=$(cargo run -q -p trellis-platform --bin trellis-token -- --account <uuid> --role admin)
//! grpcurl -plaintext -H "authorization: Bearer $TOKEN" 127.0.0.1:50051 list
//! ```
//!
//! It signs with `TRELLIS_JWT_SECRET`, or the development secret the services fall back to.

use std::time::Duration;

use clap::Parser;
use trellis_platform::auth::{Role, TokenMinter};
use trellis_platform::config::CommonConfig;
use uuid::Uuid;

#[derive(Debug, Parser)]
#[command(about = "Mint a development JWT for calling Trellis services by hand")]
struct Args {
    /// The account the token is signed into (omit for a service token).
    #[arg(long)]
    account: Option<Uuid>,
    /// The user the token speaks for.
    #[arg(long, default_value = "developer")]
    user: String,
    #[arg(long, value_enum, default_value_t = Role::Admin)]
    role: Role,
    /// Hours until the token expires.
    #[arg(long, default_value_t = 12)]
    hours: u64,
    #[command(flatten)]
    common: CommonConfig,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.account.is_none() && args.role != Role::Service {
        anyhow::bail!("--account is required unless --role service");
    }
    let minter = TokenMinter::from_config(&args.common);
    let token = minter.mint(
        &args.user,
        args.account,
        args.role,
        Duration::from_secs(args.hours * 3600),
    );
    println!("{token}");
    Ok(())
}
