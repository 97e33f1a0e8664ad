//! A small S3 client (path-style, AWS Signature Version 4) for S3-compatible object stores:
//! MinIO, Alibaba OSS, Tencent COS, AWS S3. Only what PictureDeck needs: put, get (with
//! Range), delete, and creating the bucket at start.

use anyhow::{bail, Context as _};
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct S3 {
    pub http: reqwest::Client,
    /// e.g. `http://127.0.0.1:9000` (no trailing slash).
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding as SigV4 wants it; `/` kept in object keys.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl S3 {
    fn host(&self) -> anyhow::Result<String> {
        let url =
            reqwest::Url::parse(&self.endpoint).context("storage.s3_endpoint is not a URL")?;
        let host = url.host_str().context("storage.s3_endpoint has no host")?;
        Ok(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        })
    }

    /// A signed request for `/{bucket}/{key}` (or the bucket itself when `key` is empty).
    fn request(
        &self,
        method: reqwest::Method,
        key: &str,
        body: &[u8],
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        let path = if key.is_empty() {
            format!("/{}", uri_encode(&self.bucket, false))
        } else {
            format!(
                "/{}/{}",
                uri_encode(&self.bucket, false),
                uri_encode(key, true)
            )
        };
        let now = Utc::now();
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let day = now.format("%Y%m%d").to_string();
        let payload = hex(&Sha256::digest(body));
        let host = self.host()?;
        let canonical = format!(
            "{method}\n{path}\n\nhost:{host}\nx-amz-content-sha256:{payload}\nx-amz-date:{amz_date}\n\nhost;x-amz-content-sha256;x-amz-date\n{payload}"
        );
        let scope = format!("{day}/{}/s3/aws4_request", self.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let mut key_bytes = hmac(format!("AWS4{}", self.secret_key).as_bytes(), &day);
        for part in [self.region.as_str(), "s3", "aws4_request"] {
            key_bytes = hmac(&key_bytes, part);
        }
        let signature = hex(&hmac(&key_bytes, &to_sign));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}",
            self.access_key
        );
        Ok(self
            .http
            .request(
                method,
                format!("{}{path}", self.endpoint.trim_end_matches('/')),
            )
            .header("x-amz-date", amz_date)
            .header("x-amz-content-sha256", payload)
            .header("authorization", authorization))
    }

    /// Creates the bucket unless it exists.
    pub async fn ensure_bucket(&self) -> anyhow::Result<()> {
        let res = self
            .request(reqwest::Method::PUT, "", b"")?
            .send()
            .await
            .context("S3 unreachable")?;
        let status = res.status();
        if status.is_success() || status.as_u16() == 409 {
            return Ok(());
        }
        bail!("S3 refused to create bucket {}: HTTP {status}", self.bucket)
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let res = self
            .request(reqwest::Method::PUT, key, &bytes)?
            .body(bytes)
            .send()
            .await
            .context("S3 put")?;
        if !res.status().is_success() {
            bail!("S3 put {key}: HTTP {}", res.status());
        }
        Ok(())
    }

    /// The object, or a byte range of it (`Range` header value).
    pub async fn get(&self, key: &str, range: Option<&str>) -> anyhow::Result<reqwest::Response> {
        let mut req = self.request(reqwest::Method::GET, key, b"")?;
        if let Some(range) = range {
            req = req.header("range", range);
        }
        let res = req.send().await.context("S3 get")?;
        if !(res.status().is_success() || res.status().as_u16() == 416) {
            bail!("S3 get {key}: HTTP {}", res.status());
        }
        Ok(res)
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let res = self
            .request(reqwest::Method::DELETE, key, b"")?
            .send()
            .await
            .context("S3 delete")?;
        if !(res.status().is_success() || res.status().as_u16() == 404) {
            bail!("S3 delete {key}: HTTP {}", res.status());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_like_sigv4_wants() {
        assert_eq!(
            uri_encode("results/ab/x y+z.png", true),
            "results/ab/x%20y%2Bz.png"
        );
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
    }
}
