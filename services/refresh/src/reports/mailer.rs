//! The SMTP relay that reports are sent through (lettre): its address, TLS mode, optional
//! credentials and sender come from the settings. A connection is made per send, so a relay
//! that was down is simply tried again on the next attempt. Nothing here logs the password,
//! and lettre's errors do not carry it.

use std::str::FromStr;

use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::settings::{Settings, SmtpTls};

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Why the relay did not take a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// The relay refused it for good (a 5xx reply): trying again would not help.
    pub permanent: bool,
    pub message: String,
}

impl Mailer {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let from = Mailbox::from_str(&settings.smtp_from).map_err(|error| {
            anyhow::anyhow!(
                "TRELLIS_SMTP_FROM `{}` is not a sender address: {error}",
                settings.smtp_from
            )
        })?;
        let host = settings.smtp_host.as_str();
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host);
        let builder = match settings.smtp_tls {
            SmtpTls::None => builder.port(settings.smtp_port.unwrap_or(25)),
            SmtpTls::Starttls => builder
                .port(settings.smtp_port.unwrap_or(587))
                .tls(Tls::Required(TlsParameters::new(host.to_owned())?)),
            SmtpTls::Tls => builder
                .port(settings.smtp_port.unwrap_or(465))
                .tls(Tls::Wrapper(TlsParameters::new(host.to_owned())?)),
        };
        let builder = builder.timeout(Some(settings.smtp_timeout));
        let builder = match (&settings.smtp_username, &settings.smtp_password) {
            (Some(username), password) => builder.credentials(Credentials::new(
                username.clone(),
                password
                    .as_ref()
                    .map(|p| p.expose().to_owned())
                    .unwrap_or_default(),
            )),
            (None, _) => builder,
        };
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// The sender of every report.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Hands a formatted message to the relay for `recipients`.
    pub async fn send(&self, recipients: &[String], message: &[u8]) -> Result<(), SendError> {
        let to = recipients
            .iter()
            .map(|recipient| Address::from_str(recipient))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| SendError {
                permanent: true,
                message: format!("a recipient is not an address: {error}"),
            })?;
        let envelope =
            Envelope::new(Some(self.from.email.clone()), to).map_err(|error| SendError {
                permanent: true,
                message: format!("no envelope: {error}"),
            })?;
        self.transport
            .send_raw(&envelope, message)
            .await
            .map(|_| ())
            .map_err(|error| SendError {
                permanent: error.is_permanent(),
                message: describe(&error),
            })
    }
}

/// The relay's error with its causes, e.g. `transient error (451): try again later`.
fn describe(error: &lettre::transport::smtp::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
