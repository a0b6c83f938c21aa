//! The three services in-process, each on its own database.

use super::*;

/// The library and token services, the two peers of the import service. Each calls the
/// other: the library asks the registry whether a data source may name a token or
/// credential (I15), the registry asks the library about memberships.
pub struct Peers {
    pub library_service: RunningService,
    pub tokens_service: RunningService,
    /// For [`members`]: memberships are made in the library.
    pub library_channel: TracedChannel,
    pub library: Library,
    pub tokens: Tokens,
}

impl Peers {
    pub async fn start() -> Self {
        // Bound first: the library is told where the registry is before it serves.
        let tokens_port = Port::bind().await;
        let tokens_url = tokens_port.url();
        let library_service = RunningService::start(
            ServiceKind::Library,
            &trellis_library::SCHEMA,
            Default::default(),
            |common| common.tokens_url = tokens_url,
            trellis_library::build,
        )
        .await;
        let library_url = library_service.server.url();
        let tokens_service = InProcess::new(
            ServiceKind::Tokens,
            trellis_tokens::Settings::default(),
            trellis_tokens::build,
        )
        .configure(move |common| common.library_url = library_url)
        .on(tokens_port)
        .start(&trellis_tokens::SCHEMA)
        .await;
        let library_channel = library_service.server.channel();
        Self {
            library: LibraryServiceClient::new(library_channel.clone()),
            tokens: TokenServiceClient::new(tokens_service.server.channel()),
            library_channel,
            library_service,
            tokens_service,
        }
    }
}

/// The three services.
pub struct World {
    /// Kept for their lifetime: the services stop when dropped.
    pub _peers: Peers,
    /// Its database holds the plans.
    pub imports_service: RunningService,
    pub library_channel: TracedChannel,
    pub library: Library,
    pub tokens: Tokens,
    pub imports: Imports,
}

/// A partner with two clients.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub partner: Uuid,
    pub client_a: Uuid,
    pub client_b: Uuid,
}

impl World {
    pub async fn start() -> Self {
        Self::start_with(trellis_imports::Settings::default()).await
    }

    pub async fn start_with(settings: trellis_imports::Settings) -> Self {
        let peers = Peers::start().await;
        let (library_url, tokens_url) = (
            peers.library_service.server.url(),
            peers.tokens_service.server.url(),
        );
        let imports_service = RunningService::start(
            ServiceKind::Imports,
            &trellis_imports::SCHEMA,
            settings,
            |common| {
                common.library_url = library_url;
                common.tokens_url = tokens_url;
            },
            trellis_imports::build,
        )
        .await;
        Self {
            library_channel: peers.library_channel.clone(),
            library: peers.library.clone(),
            tokens: peers.tokens.clone(),
            imports: ImportServiceClient::new(imports_service.server.channel()),
            _peers: peers,
            imports_service,
        }
    }

    pub async fn family(&self) -> Family {
        family(&self.library_channel).await
    }
}
