//! An SMTP client with connection reuse and a timeout on every step (lettre's async client
//! bounds only the TCP connect). Each conversation is summarised, for `picturedeck mail test`.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;

use crate::config::{MailConfig, SmtpTls};

/// An idle connection older than this is closed rather than reused (servers drop idle
/// clients after a minute or so).
const IDLE_FOR: Duration = Duration::from_secs(50);

/// Why a mail did not go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another try: no connection, a timeout, a 4xx reply, TLS or login trouble.
    Temporary(String),
    /// The server refused this mail for good (a 5xx reply to MAIL, RCPT or DATA).
    Permanent(String),
}

impl Failure {
    pub fn reason(&self) -> &str {
        match self {
            Failure::Temporary(r) | Failure::Permanent(r) => r,
        }
    }
}

pub struct Smtp {
    host: String,
    port: u16,
    mode: SmtpTls,
    tls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    timeout: Duration,
    keep: usize,
    hello: ClientId,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl Smtp {
    pub fn from_config(config: &MailConfig) -> anyhow::Result<Smtp> {
        let tls = match config.smtp_tls {
            SmtpTls::None => None,
            SmtpTls::Starttls | SmtpTls::Tls => {
                let mut builder = TlsParameters::builder(config.smtp_host.clone());
                if let Some(path) = &config.smtp_ca_file {
                    let pem = std::fs::read(path).with_context(|| {
                        format!("mail.smtp_ca_file: cannot read {}", path.display())
                    })?;
                    let cert = Certificate::from_pem(&pem).map_err(|e| {
                        anyhow::anyhow!(
                            "mail.smtp_ca_file: {} is not a PEM certificate ({e})",
                            path.display()
                        )
                    })?;
                    builder = builder.add_root_certificate(cert);
                }
                Some(builder.build_rustls().context("mail: TLS set-up failed")?)
            }
        };
        let credentials = (!config.smtp_username.is_empty())
            .then(|| Credentials::new(config.smtp_username.clone(), config.smtp_password.clone()));
        Ok(Smtp {
            host: config.smtp_host.clone(),
            port: config.smtp_port,
            mode: config.smtp_tls,
            tls,
            credentials,
            timeout: Duration::from_secs(config.smtp_timeout_seconds),
            keep: config.smtp_pool_size as usize,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends one message, on a kept connection when one is still good; returns the server's
    /// final reply. `log` receives one line per step.
    pub async fn send(
        &self,
        envelope: &Envelope,
        message: &[u8],
        log: &mut Vec<String>,
    ) -> Result<String, Failure> {
        let mut conn = match self.reuse(log).await {
            Some(conn) => conn,
            None => self.open(log).await?,
        };
        let started = Instant::now();
        match self
            .step("MAIL/RCPT/DATA", conn.send(envelope, message))
            .await
        {
            Ok(reply) => {
                let reply = describe(&reply);
                log.push(format!("mail accepted: {reply} ({})", ms(started)));
                self.park(conn);
                Ok(reply)
            }
            Err(failure) => {
                log.push(format!("mail not accepted: {}", failure.reason()));
                let _ = tokio::time::timeout(self.timeout, conn.abort()).await;
                Err(failure)
            }
        }
    }

    /// A kept connection that still answers NOOP.
    async fn reuse(&self, log: &mut Vec<String>) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut conn, since) = self.idle.lock().ok()?.pop()?;
            if since.elapsed() < IDLE_FOR
                && !conn.has_broken()
                && tokio::time::timeout(self.timeout, conn.test_connected())
                    .await
                    .unwrap_or(false)
            {
                log.push("reusing an open connection (NOOP answered)".into());
                return Some(conn);
            }
            let _ = tokio::time::timeout(self.timeout, conn.abort()).await;
        }
    }

    fn park(&self, mut conn: AsyncSmtpConnection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < self.keep && !conn.has_broken() {
                idle.push((conn, Instant::now()));
                return;
            }
        }
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), conn.quit()).await;
        });
    }

    /// Connects, greets, secures and logs in, each step under the timeout.
    async fn open(&self, log: &mut Vec<String>) -> Result<AsyncSmtpConnection, Failure> {
        let started = Instant::now();
        let implicit = match self.mode {
            SmtpTls::Tls => self.tls.clone(),
            _ => None,
        };
        let what = format!(
            "connect to {}:{} ({})",
            self.host,
            self.port,
            match self.mode {
                SmtpTls::Tls => "implicit TLS",
                SmtpTls::Starttls => "STARTTLS",
                SmtpTls::None => "plain",
            }
        );
        // The greeting and EHLO happen inside connect: the step's timeout covers them too.
        let mut conn = self
            .step(
                &what,
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    implicit,
                    None,
                ),
            )
            .await
            .map_err(temporary)?;
        log.push(format!("{what}: ok ({})", ms(started)));
        log.push(format!("EHLO: {}", conn.server_info()));
        if self.mode == SmtpTls::Starttls {
            let Some(tls) = self.tls.clone() else {
                return Err(Failure::Temporary("STARTTLS without TLS settings".into()));
            };
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(Failure::Temporary(
                    "the server does not offer STARTTLS (mail.smtp_tls = \"starttls\")".into(),
                ));
            }
            let started = Instant::now();
            self.step("STARTTLS", conn.starttls(tls, &self.hello))
                .await
                .map_err(temporary)?;
            log.push(format!("STARTTLS: encrypted ({})", ms(started)));
            log.push(format!("EHLO again: {}", conn.server_info()));
        }
        if let Some(credentials) = &self.credentials {
            let started = Instant::now();
            let reply = self
                .step(
                    "AUTH",
                    conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials),
                )
                .await
                .map_err(temporary)?;
            log.push(format!("AUTH: {} ({})", describe(&reply), ms(started)));
        }
        Ok(conn)
    }

    async fn step<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(Failure::Temporary(format!(
                "{what}: no answer within {} s",
                self.timeout.as_secs()
            ))),
            // 5xx: this mail is refused for good; anything else may pass later.
            Ok(Err(e)) if e.is_permanent() => Err(Failure::Permanent(format!("{what}: {e}"))),
            Ok(Err(e)) => Err(Failure::Temporary(format!("{what}: {e}"))),
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// Closes the kept connections (QUIT), for a clean end of `mail test`.
    pub async fn close(&self) {
        let idle = match self.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => return,
        };
        for (mut conn, _) in idle {
            let _ = tokio::time::timeout(self.timeout, conn.quit()).await;
        }
    }
}

/// A refusal while connecting or logging in says nothing about this mail (a wrong password,
/// a server in trouble): the mail waits for the next try.
fn temporary(f: Failure) -> Failure {
    Failure::Temporary(f.reason().to_string())
}

fn describe(reply: &Response) -> String {
    let code = reply.code();
    let text: Vec<&str> = reply.message().collect();
    format!("{code} {}", text.join(" "))
}

fn ms(since: Instant) -> String {
    format!("{} ms", since.elapsed().as_millis())
}
