//! DKIM: the signing key from config, checked, and the DNS TXT record that publishes it.

use std::path::Path;

use anyhow::{bail, Context as _};
use base64::Engine as _;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;

/// A usable signing key and what to publish for it.
pub struct Dkim {
    pub config: DkimConfig,
    /// `<selector>._domainkey.<domain>`
    pub record_name: String,
    /// `v=DKIM1; k=rsa; p=...`
    pub record_value: String,
    pub bits: usize,
}

impl Dkim {
    /// The record as a zone-file line; long values are split into 255-character strings.
    pub fn zone_line(&self) -> String {
        let chunks: Vec<String> = self
            .record_value
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        format!("{}. IN TXT ( {} )", self.record_name, chunks.join(" "))
    }
}

/// Reads an RSA key (PEM, PKCS#1 or PKCS#8) for `domain`; refuses keys under 1024 bits.
pub fn load(selector: &str, key_file: &Path, domain: &str) -> anyhow::Result<Dkim> {
    let pem = std::fs::read_to_string(key_file)
        .with_context(|| format!("mail.dkim_key_file: cannot read {}", key_file.display()))?;
    let key = RsaPrivateKey::from_pkcs1_pem(&pem)
        .or_else(|_| RsaPrivateKey::from_pkcs8_pem(&pem))
        .map_err(|_| {
            anyhow::anyhow!(
                "mail.dkim_key_file: {} is not an RSA private key in PEM (PKCS#1 or PKCS#8)",
                key_file.display()
            )
        })?;
    let bits = key.size() * 8;
    if bits < 1024 {
        bail!(
            "mail.dkim_key_file: the key has {bits} bits; DKIM needs at least 1024 (2048 is usual)"
        );
    }
    let public = key
        .to_public_key()
        .to_public_key_der()
        .context("cannot encode the DKIM public key")?;
    // lettre reads PKCS#1 only.
    let pkcs1 = key
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .context("cannot re-encode the DKIM key")?;
    let signing = DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa)
        .map_err(|e| anyhow::anyhow!("mail.dkim_key_file: {e}"))?;
    // Content-Type is not listed: lettre writes a multipart's Content-Type with the body, so
    // its signer would list it in `h=` without hashing it, and verifiers would refuse.
    let headers = [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Auto-Submitted",
    ]
    .into_iter()
    .map(HeaderName::new_from_ascii_str)
    .collect();
    let config = DkimConfig::new(
        selector.to_string(),
        domain.to_string(),
        signing,
        headers,
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    );
    Ok(Dkim {
        config,
        record_name: format!("{selector}._domainkey.{domain}"),
        record_value: format!(
            "v=DKIM1; k=rsa; p={}",
            base64::engine::general_purpose::STANDARD.encode(public.as_bytes())
        ),
        bits,
    })
}
