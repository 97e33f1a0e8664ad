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

struct Credentials<'a> {
    access_key: &'a str,
    secret_key: &'a str,
    region: &'a str,
    service: &'a str,
}

/// A request as SigV4 sees it: the encoded path (no query: PictureDeck sends none) and the
/// headers to sign, `host` among them.
struct Unsigned<'a> {
    method: &'a str,
    path: &'a str,
    headers: &'a [(&'a str, &'a str)],
    payload_hash: &'a str,
}

/// Every step of the signature, so the tests can hold each against AWS's published values.
#[cfg_attr(not(test), allow(dead_code))]
struct Signed {
    canonical_request: String,
    string_to_sign: String,
    signature: String,
    authorization: String,
}

/// AWS Signature Version 4 (header form) at `amz_date` (`YYYYMMDDTHHMMSSZ`).
fn sign_v4(creds: &Credentials<'_>, amz_date: &str, req: &Unsigned<'_>) -> Signed {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    headers.sort();
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n\n{canonical_headers}\n{signed_headers}\n{}",
        req.method, req.path, req.payload_hash
    );
    let day = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{day}/{}/{}/aws4_request", creds.region, creds.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{}", creds.secret_key).as_bytes(), day);
    for part in [creds.region, creds.service, "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex(&hmac(&key, &string_to_sign));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key
    );
    Signed {
        canonical_request,
        string_to_sign,
        signature,
        authorization,
    }
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
        let payload = hex(&Sha256::digest(body));
        let host = self.host()?;
        let signed = sign_v4(
            &Credentials {
                access_key: &self.access_key,
                secret_key: &self.secret_key,
                region: &self.region,
                service: "s3",
            },
            &amz_date,
            &Unsigned {
                method: method.as_str(),
                path: &path,
                headers: &[
                    ("host", &host),
                    ("x-amz-content-sha256", &payload),
                    ("x-amz-date", &amz_date),
                ],
                payload_hash: &payload,
            },
        );
        let authorization = signed.authorization;
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

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// The credentials of AWS's Signature Version 4 test suite.
    const SUITE: Credentials<'static> = Credentials {
        access_key: "AKIDEXAMPLE",
        secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        service: "service",
    };

    /// The credentials of the worked examples in the S3 API reference ("Signature
    /// Calculations for the Authorization Header: Transferring Payload in a Single Chunk").
    const S3_DOCS: Credentials<'static> = Credentials {
        access_key: "AKIAIOSFODNN7EXAMPLE",
        secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        service: "s3",
    };

    /// The test suite's vanilla request: no query, no body, only `Host` and `X-Amz-Date`.
    fn vanilla(method: &str) -> Signed {
        sign_v4(
            &SUITE,
            "20150830T123600Z",
            &Unsigned {
                method,
                path: "/",
                headers: &[
                    ("Host", "example.amazonaws.com"),
                    ("X-Amz-Date", "20150830T123600Z"),
                ],
                payload_hash: EMPTY,
            },
        )
    }

    #[test]
    fn get_vanilla_of_the_sigv4_test_suite() {
        let signed = vanilla("GET");
        assert_eq!(
            signed.canonical_request,
            format!(
                "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY}"
            )
        );
        assert_eq!(
            signed.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn post_vanilla_of_the_sigv4_test_suite() {
        assert_eq!(
            vanilla("POST").signature,
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
    }

    #[test]
    fn the_s3_reference_get_object_with_a_range() {
        let signed = sign_v4(
            &S3_DOCS,
            "20130524T000000Z",
            &Unsigned {
                method: "GET",
                path: "/test.txt",
                headers: &[
                    ("Host", "examplebucket.s3.amazonaws.com"),
                    ("Range", "bytes=0-9"),
                    ("x-amz-content-sha256", EMPTY),
                    ("x-amz-date", "20130524T000000Z"),
                ],
                payload_hash: EMPTY,
            },
        );
        assert_eq!(
            signed.canonical_request,
            format!(
                "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
                 x-amz-content-sha256:{EMPTY}\nx-amz-date:20130524T000000Z\n\n\
                 host;range;x-amz-content-sha256;x-amz-date\n{EMPTY}"
            )
        );
        assert_eq!(
            signed.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        assert_eq!(
            signed.signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn the_s3_reference_put_object_with_a_body_and_a_dollar_in_the_key() {
        let body = "Welcome to Amazon S3.";
        let payload = hex(&Sha256::digest(body.as_bytes()));
        assert_eq!(
            payload,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let path = format!("/{}", uri_encode("test$file.text", true));
        assert_eq!(path, "/test%24file.text");
        let signed = sign_v4(
            &S3_DOCS,
            "20130524T000000Z",
            &Unsigned {
                method: "PUT",
                path: &path,
                headers: &[
                    ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                    ("Host", "examplebucket.s3.amazonaws.com"),
                    ("x-amz-content-sha256", &payload),
                    ("x-amz-date", "20130524T000000Z"),
                    ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ],
                payload_hash: &payload,
            },
        );
        assert!(signed.authorization.contains(
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
        ));
        assert_eq!(
            signed.signature,
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    #[test]
    fn keys_are_encoded_like_sigv4_wants() {
        assert_eq!(
            uri_encode("results/ab/x y+z.png", true),
            "results/ab/x%20y%2Bz.png"
        );
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
    }
}
