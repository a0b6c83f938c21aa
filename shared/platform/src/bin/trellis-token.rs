//! Mints a development token so an engineer can call any service by hand:
//!
//! ```text
//! TOKEN=$(cargo run -q -p trellis-platform --bin trellis-token -- --account <uuid> --user ana --role admin)
//! OPERATOR=$(cargo run -q -p trellis-platform --bin trellis-token -- --service operator)
//! ```
//!
//! A user's token works only where the user is a member (CreateMembership, with an
//! operator's token). It signs with `TRELLIS_JWT_SECRET` (or `TRELLIS_JWT_PRIVATE_KEY_FILE`),
//! or the development secret the services accept in development mode.

use std::time::Duration;

use clap::Parser;
use trellis_platform::auth::{Identity, Role, TokenMinter};
use trellis_platform::config::{CommonConfig, ServiceKind};
use uuid::Uuid;

#[derive(Debug, Parser)]
#[command(about = "Mint a development JWT for calling Trellis services by hand")]
struct Args {
    /// The account the token is signed into (a user's token).
    #[arg(long)]
    account: Option<Uuid>,
    /// The user the token speaks for.
    #[arg(long, default_value = "developer")]
    user: String,
    #[arg(long, value_enum, default_value_t = Role::Admin)]
    role: Role,
    /// Mint a service token of this identity instead, valid for every service.
    #[arg(long, value_enum)]
    service: Option<Identity>,
    /// Hours until the token expires.
    #[arg(long, default_value_t = 12)]
    hours: u64,
    #[command(flatten)]
    common: CommonConfig,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let identity = args.service.unwrap_or(Identity::Operator);
    let minter = TokenMinter::from_config(&args.common, identity)?;
    let ttl = Duration::from_secs(args.hours * 3600);
    let token = match (args.service, args.account) {
        (Some(_), _) => minter.service_token_for(&ServiceKind::ALL, ttl),
        (None, Some(account)) if args.role != Role::Service => {
            minter.mint(&args.user, Some(account), args.role, ttl)
        }
        _ => anyhow::bail!("give --account with a user role, or --service IDENTITY"),
    };
    println!("{token}");
    Ok(())
}
