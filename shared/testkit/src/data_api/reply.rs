//! What a path of the data API answers.

use axum::body::Bytes;

/// What a path answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
    pub headers: Vec<(String, String)>,
    /// Send the body in chunks without a Content-Length.
    pub chunked: bool,
}

impl Reply {
    pub fn json(value: serde_json::Value) -> Self {
        Self {
            status: 200,
            content_type: "application/json".into(),
            body: Bytes::from(value.to_string()),
            headers: Vec::new(),
            chunked: false,
        }
    }

    pub fn csv(text: &str) -> Self {
        Self {
            status: 200,
            content_type: "text/csv".into(),
            body: Bytes::from(text.to_owned()),
            headers: Vec::new(),
            chunked: false,
        }
    }

    /// A body of `len` bytes (a JSON string, so that it parses when small enough).
    pub fn large(len: usize) -> Self {
        let mut body = vec![b'x'; len.max(2)];
        body[0] = b'"';
        *body.last_mut().expect("two bytes at least") = b'"';
        Self {
            status: 200,
            content_type: "application/json".into(),
            body: Bytes::from(body),
            headers: Vec::new(),
            chunked: false,
        }
    }

    /// An error status with a short text body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            content_type: "text/plain".into(),
            body: Bytes::from(format!("status {status}")),
            headers: Vec::new(),
            chunked: false,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    /// With a `Link: <url>; rel="next"` header.
    pub fn with_next_link(self, url: &str) -> Self {
        self.with_header("Link", &format!("<{url}>; rel=\"next\""))
    }
}
