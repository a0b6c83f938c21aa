//! `trellis-demo data-server` serves the demo's third-party API; `trellis-demo seed` seeds
//! the demo into running services and writes the walkthrough's variables to a file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use trellis_platform::auth::{Identity, TokenMinter};
use trellis_platform::config::CommonConfig;

#[derive(Parser)]
#[command(about = "The Trellis demo: a data server and the seeding of demo accounts")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    common: CommonConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Serve monthly sales per company as JSON until stopped.
    DataServer {
        #[arg(long, default_value = "127.0.0.1:8099")]
        listen: SocketAddr,
    },
    /// Seed a partner, two clients and a dashboard; write the walkthrough's variables.
    Seed {
        /// Base URL of the demo data server, as the refresh service will reach it.
        #[arg(long, default_value = "http://127.0.0.1:8099")]
        data_url: String,
        #[arg(long, default_value = ".demo/env")]
        env_file: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::DataServer { listen } => {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            eprintln!("demo data server on http://{listen}");
            trellis_demo::data_server::serve(listener).await
        }
        Command::Seed { data_url, env_file } => {
            let minter = TokenMinter::from_config(&cli.common, Identity::Operator)?;
            let env = trellis_demo::seed::seed(&cli.common.library_url, &data_url, &minter).await?;
            if let Some(parent) = env_file.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&env_file, trellis_demo::seed::env_file(&env))?;
            eprintln!(
                "demo seeded: partner {}, clients {} and {}; `source {}` for the README walkthrough",
                env["PARTNER"],
                env["CLIENT_A"],
                env["CLIENT_B"],
                env_file.display()
            );
            Ok(())
        }
    }
}
