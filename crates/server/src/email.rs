//! Outgoing email over SMTP (lettre). Messages are plain text with one link at most; a failure
//! to send is logged (with the user id, never the address's token) and does not fail the request
//! that caused it: the link can be asked for again.

use anyhow::Context;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::EmailConfig;

/// Sends mail through the configured SMTP server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The SMTP URL may hold a password.
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    /// The mailer of `config`, or `None` when email is off (`smtp_url` empty).
    pub fn from_config(config: &EmailConfig) -> anyhow::Result<Option<Self>> {
        if config.smtp_url.trim().is_empty() {
            return Ok(None);
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp_url)
            .context("email.smtp_url is not a valid smtp:// or smtps:// URL")?
            .build();
        let from = config
            .from
            .parse()
            .with_context(|| format!("email.from {:?} is not an address", config.from))?;
        Ok(Some(Self { transport, from }))
    }

    pub async fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.parse().context("recipient address")?)
            .subject(subject)
            .body(body)
            .context("building the message")?;
        self.transport
            .send(message)
            .await
            .context("SMTP delivery")?;
        Ok(())
    }
}
