//! Mints a development token so an engineer can call any service by hand:
//!
//! ```text
//! TOKEN=$(cargo run -q -p trellis-platform --bin trellis-token -- --account <uuid> --user ana --role admin)
//! OPERATOR=$(cargo run -q -p trellis-platform --bin trellis-token -- --service operator)
//! ```
//!
//! A user's token works only where the user is a member (CreateMembership, with an
//! operator's token). It signs with `TRELLIS_JWT_SECRET` (or `TRELLIS_JWT_PRIVATE_KEY_FILE`),
//! or the development secret the services accept in development mode. It takes only the key
//! settings of a server, from the same environment variables, and none of its other settings.

use std::time::Duration;

use clap::Parser;
use trellis_platform::auth::{Identity, JwtKeys, Role, TokenMinter};
use trellis_platform::config::{ServiceKind, parse_duration};
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
    /// How long the token is valid, such as `12h` or `30m`.
    #[arg(long, default_value = "12h", value_parser = parse_duration)]
    ttl: Duration,
    #[command(flatten)]
    keys: JwtKeys,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let identity = args.service.unwrap_or(Identity::Operator);
    let minter = TokenMinter::from_keys(&args.keys, identity)?;
    let token = match (args.service, args.account) {
        (Some(_), _) => minter.service_token_for(&ServiceKind::ALL, args.ttl),
        (None, Some(account)) if args.role != Role::Service => {
            minter.mint(&args.user, Some(account), args.role, args.ttl)
        }
        _ => anyhow::bail!("give --account with a user role, or --service IDENTITY"),
    };
    println!("{token}");
    Ok(())
}
