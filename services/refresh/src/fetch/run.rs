//! One fetch: `{token.NAME}` filled, the token of a login or client-credentials grant
//! obtained (or kept from before), then page after page, each a full request with the
//! credentials applied (a signed request signed each time), each after the gate, until the
//! pages end, the page cap or the size cap is passed, or the API refuses. A 401 to a kept
//! token drops it and obtains a new one, once.

use std::borrow::Cow;
use std::time::Instant;

use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue, LINK};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::pages::{self, Combined, Paging, Seen, set_query};
use super::parse::{self, Bounds};
use super::placeholders::fill_token_parameters;
use super::session::Session;
use super::{Body, Credentials, FetchOutcome, Fetcher, HttpRequest, PageGate, guard, redact, sign};

impl Fetcher {
    /// Sends `request` with `credentials`, following its pages when `paging` says how,
    /// asking `gate` before each page after the first, and parses the answers into one
    /// dataset.
    pub async fn fetch_pages<G: PageGate + Sync>(
        &self,
        request: &HttpRequest,
        paging: Option<&Paging>,
        credentials: &Credentials,
        gate: &G,
    ) -> FetchOutcome {
        let mut run = Run {
            fetcher: self,
            credentials,
            secrets: credentials
                .secrets()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            session: None,
            renewed: false,
        };
        let outcome = match run.pages(request, paging, gate).await {
            Ok(body) => FetchOutcome::Fetched(body),
            Err(outcome) => outcome,
        };
        match outcome {
            FetchOutcome::Failed(message) => FetchOutcome::Failed(redact(&message, &run.secrets())),
            other => other,
        }
    }
}

fn failed(message: String) -> FetchOutcome {
    FetchOutcome::Failed(message)
}

struct Run<'a> {
    fetcher: &'a Fetcher,
    credentials: &'a Credentials,
    /// Every secret sent so far: the credentials', and tokens and signatures made.
    secrets: Vec<String>,
    session: Option<Session>,
    /// A refused token was renewed already.
    renewed: bool,
}

impl Run<'_> {
    fn secrets(&self) -> Vec<&str> {
        self.secrets.iter().map(String::as_str).collect()
    }

    async fn pages<G: PageGate + Sync>(
        &mut self,
        request: &HttpRequest,
        paging: Option<&Paging>,
        gate: &G,
    ) -> Result<Body, FetchOutcome> {
        let started = Instant::now();
        let fetcher = self.fetcher;
        let request =
            fill_token_parameters(request, self.credentials.oauth_token()).map_err(failed)?;
        let origin = fetcher.destination(&request.url).map_err(failed)?;
        let max_pages = paging.map_or(1, |p| match p.max_pages {
            0 => pages::DEFAULT_MAX_PAGES,
            max => max,
        });
        let mut url = pages::first_url(paging, &origin);
        let mut combined = Combined::new(paging, request.format, &fetcher.bounds);
        let mut hasher = Sha256::new();
        let (mut total, mut memory, mut number) = (0u64, 0u64, 1u32);
        loop {
            if number > 1 {
                gate.before_page(number).await?;
            }
            let response = self.send(&request, &url, number).await?;
            let links: Vec<String> = response
                .headers()
                .get_all(LINK)
                .iter()
                .filter_map(|value| value.to_str().ok().map(str::to_owned))
                .collect();
            let max_bytes = fetcher.max_bytes;
            let body = fetcher
                .body(response, max_bytes.saturating_sub(total), |length| {
                    match (number, length) {
                        (1, Some(length)) => format!(
                            "the response is larger than the limit of {max_bytes} bytes ({length} bytes)"
                        ),
                        (1, None) => {
                            format!("the response is larger than the limit of {max_bytes} bytes")
                        }
                        _ => format!(
                            "the responses of {number} pages are larger than the limit of {max_bytes} bytes together"
                        ),
                    }
                })
                .await
                .map_err(failed)?;
            total += body.len() as u64;
            hasher.update(&body);
            let data = self.parse(request.format, &body, &mut memory)?;
            let Some(paging) = paging else {
                combined.add(data, number, 0).map_err(failed)?;
                break;
            };
            let records = pages::records(paging, request.format, &data, number).map_err(failed)?;
            let seen = Seen {
                origin: &origin,
                url: &url,
                format: request.format,
                data: &data,
                links: &links,
                number,
                records,
            };
            let next = pages::next_url(paging, &seen).map_err(failed)?;
            combined.add(data, number, records).map_err(failed)?;
            let Some(next) = next else { break };
            if number >= max_pages {
                return Err(failed(format!(
                    "the API has more pages than the data source's limit of {max_pages} pages (its pagination's max_pages)"
                )));
            }
            guard::check_literal(&next, fetcher.allow_private)
                .map_err(|refused| failed(refused.to_string()))?;
            url = next;
            number += 1;
        }
        let data = combined.finish().map_err(failed)?;
        Ok(Body {
            format: request.format,
            data,
            content_hash: hex::encode(hasher.finalize()),
            size_bytes: total as i64,
            pages: number,
            duration: started.elapsed(),
        })
    }

    /// A page parsed within what the pages before it left of the memory bound.
    fn parse(
        &self,
        format: crate::domain::job::DataFormat,
        body: &[u8],
        memory: &mut u64,
    ) -> Result<Value, FetchOutcome> {
        let whole = &self.fetcher.bounds;
        let left = Bounds {
            max_memory: whole.max_memory.saturating_sub(*memory),
            ..*whole
        };
        match parse::parse_counted(format, body, &left) {
            Ok((data, used)) => {
                *memory += used;
                Ok(data)
            }
            Err(message) if message == left.too_much_memory() => {
                Err(failed(whole.too_much_memory()))
            }
            Err(message) => Err(failed(message)),
        }
    }

    /// Sends one page, with the token its credentials obtain; a 401 to a token kept from an
    /// earlier fetch (or to a fresh one after the first page) renews it and sends again,
    /// once per fetch.
    async fn send(
        &mut self,
        request: &HttpRequest,
        url: &url::Url,
        number: u32,
    ) -> Result<reqwest::Response, FetchOutcome> {
        if self.session.is_none() {
            self.session = self
                .fetcher
                .session(self.credentials, None)
                .await
                .map_err(failed)?;
            self.remember_session();
        }
        loop {
            let builder = self.build(request, url.clone())?;
            let response = builder
                .send()
                .await
                .map_err(|error| failed(self.fetcher.describe(error)))?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED
                && let Some(session) = &self.session
            {
                if self.renewed || (session.fresh && number == 1) {
                    return Err(failed(
                        "HTTP 401 Unauthorized: the API refused a token just obtained for the credential"
                            .to_owned(),
                    ));
                }
                self.renewed = true;
                let refused = session.token.clone();
                self.session = self
                    .fetcher
                    .session(self.credentials, Some(&refused))
                    .await
                    .map_err(failed)?;
                self.remember_session();
                continue;
            }
            if let Some(refused) =
                self.fetcher
                    .refusal(&response, self.credentials, &self.secrets())
            {
                return Err(refused);
            }
            return Ok(response);
        }
    }

    fn remember_session(&mut self) {
        if let Some(session) = &self.session {
            self.secrets.push(session.token.clone());
        }
    }

    /// One page's request: the credentials, headers and body in place, on the client that
    /// keeps them at their destination when they may be secret.
    fn build(
        &mut self,
        request: &HttpRequest,
        mut url: url::Url,
    ) -> Result<reqwest::RequestBuilder, FetchOutcome> {
        let credentials = self.credentials;
        let mut body = Cow::Borrowed(request.body.as_str());
        let mut content_type = None;
        match credentials {
            Credentials::ApiKeyQuery { name, key } => set_query(&mut url, name, key),
            Credentials::ApiKeyBody { name, key } => {
                let (with_key, form) = body_with_key(&request.body, name, key).map_err(failed)?;
                body = Cow::Owned(with_key);
                content_type = form;
            }
            _ => {}
        }
        let mut signed_headers = Vec::new();
        if let Credentials::Signed(signed) = credentials {
            let signature = sign::sign(
                signed,
                request.method.as_str(),
                &mut url,
                &body,
                chrono::Utc::now(),
            );
            self.secrets.push(signature.value);
            signed_headers = signature.headers;
        }
        // Headers and a body are the data source author's too, and may carry a secret of
        // their own (an API key kept as a company property): they stay at the destination
        // as the credentials do.
        let fetcher = self.fetcher;
        let client = match credentials {
            Credentials::None if request.headers.is_empty() && body.is_empty() => &fetcher.client,
            _ => &fetcher.credentialed,
        };
        let auth_header = credentials.header();
        let mut has_content_type = false;
        let mut builder = client.request(request.method.clone(), url);
        for (name, value) in &request.headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                return Err(failed(format!("invalid header `{name}`")));
            };
            if auth_header.as_ref() == Some(&name) {
                continue;
            }
            has_content_type |= name == CONTENT_TYPE;
            builder = builder.header(name, value);
        }
        let secret_header = |name: &str, value: String| {
            let name = HeaderName::from_bytes(name.as_bytes());
            let value = HeaderValue::from_str(&value);
            match (name, value) {
                (Ok(name), Ok(mut value)) => {
                    value.set_sensitive(true);
                    Ok((name, value))
                }
                _ => Err(failed(
                    "the credential's header is not a valid header name and value".to_owned(),
                )),
            }
        };
        let session = self.session.as_ref().map(|s| s.token.as_str());
        builder = match credentials {
            Credentials::None
            | Credentials::ApiKeyQuery { .. }
            | Credentials::ApiKeyBody { .. } => builder,
            Credentials::Bearer(token) => builder.bearer_auth(&token.access_token),
            Credentials::Basic { username, password } => {
                builder.basic_auth(username, Some(password))
            }
            Credentials::ApiKeyHeader { name, key } => {
                let (name, value) = secret_header(name, key.clone())?;
                builder.header(name, value)
            }
            Credentials::Login(login) => {
                let token = session.unwrap_or_default();
                let (name, value) = secret_header(
                    &login.header_name,
                    format!("{}{token}", login.header_prefix),
                )?;
                builder.header(name, value)
            }
            Credentials::ClientCredentials(_) => builder.bearer_auth(session.unwrap_or_default()),
            Credentials::Signed(_) => {
                for (name, value) in signed_headers {
                    let (name, value) = secret_header(&name, value)?;
                    builder = builder.header(name, value);
                }
                builder
            }
        };
        if let Some(content_type) = content_type
            && !has_content_type
        {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        if !body.is_empty() {
            builder = builder.body(body.into_owned());
        }
        Ok(builder)
    }
}

/// `body` with the API key in it: a field of a JSON object body, else a form field
/// appended (an empty body becomes a form, with its content type).
fn body_with_key(
    body: &str,
    name: &str,
    key: &str,
) -> Result<(String, Option<&'static str>), String> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair(name, key);
    let pair = form.finish();
    if body.trim().is_empty() {
        return Ok((pair, Some("application/x-www-form-urlencoded")));
    }
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(mut fields)) => {
            fields.insert(name.to_owned(), Value::String(key.to_owned()));
            Ok((Value::Object(fields).to_string(), None))
        }
        Ok(_) => Err(
            "the API key goes in the body, but the body is JSON that is not an object".to_owned(),
        ),
        Err(_) => Ok((format!("{body}&{pair}"), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_key_joins_a_json_object_or_a_form() {
        assert_eq!(
            body_with_key("", "api_key", "s3cr+t").unwrap(),
            (
                "api_key=s3cr%2Bt".to_owned(),
                Some("application/x-www-form-urlencoded")
            )
        );
        assert_eq!(
            body_with_key(r#"{"q": 1}"#, "api_key", "k").unwrap(),
            (r#"{"api_key":"k","q":1}"#.to_owned(), None)
        );
        assert_eq!(
            body_with_key("q=1", "api_key", "k").unwrap(),
            ("q=1&api_key=k".to_owned(), None)
        );
        assert!(body_with_key("[1]", "api_key", "k").is_err());
    }
}
