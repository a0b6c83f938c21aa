//! Requests as agencies write them, against the loopback data API, which checks what it
//! receives. `fetcher`: the fetcher on its own, for every pagination style and its caps
//! and every auth method (a signature the server recomputes, a login, a client-credentials
//! grant), and `{token.NAME}`. End to end through a refresh (RefreshNow, the job followed
//! to its end, GetCachedData), with the library and the token registry as the real
//! services: `pages` (each style combining three pages, the page cap, the size cap over the
//! pages, a next link to another host), `auth` (an API key in the body, a login, client
//! credentials, signed requests with SHA-256 and SHA-1 and a wrong secret) and
//! `token_parameters` (`{token.instance_url}` from the OAuth token's parameters). `world`
//! holds what they share.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

#[path = "requests/auth.rs"]
mod auth;
mod common;
#[path = "requests/fetcher.rs"]
mod fetcher;
#[path = "requests/fetcher_auth.rs"]
mod fetcher_auth;
#[path = "requests/pages.rs"]
mod pages;
#[path = "requests/token_parameters.rs"]
mod token_parameters;
#[path = "requests/world.rs"]
mod world;
