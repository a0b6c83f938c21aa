//! The browser's part of the authorization code flow: open the authorization URL and read
//! where the provider sends the browser back, without going there (in tests nothing listens
//! at the redirect URI; the test hands the code to the service itself).

use std::collections::HashMap;

/// Where the provider sent the browser back.
#[derive(Debug, Clone)]
pub struct Redirect {
    /// The `Location` the provider answered: the client's redirect URI with parameters.
    pub location: String,
    /// Its query parameters: `code` and `state`, or `error` (and `error_description`).
    pub query: HashMap<String, String>,
}

impl Redirect {
    /// The authorization code; panics when the provider answered an error instead.
    pub fn code(&self) -> String {
        match self.query.get("code") {
            Some(code) => code.clone(),
            None => panic!("a code in the redirect, got {}", self.location),
        }
    }
}

/// GETs `authorization_url` as a browser would, and reads the redirect; panics unless the
/// provider answers one.
pub async fn follow(authorization_url: &str) -> Redirect {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let response = browser
        .get(authorization_url)
        .send()
        .await
        .expect("the provider answers");
    assert!(
        response.status().is_redirection(),
        "the provider redirects back, got {}",
        response.status()
    );
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("a readable Location")
        .to_owned();
    let query = url::Url::parse(&location)
        .expect("a redirect URL")
        .query_pairs()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    Redirect { location, query }
}

/// The code the provider approves `authorization_url` with ([`follow`], then
/// [`Redirect::code`]).
pub async fn consent(authorization_url: &str) -> String {
    follow(authorization_url).await.code()
}
