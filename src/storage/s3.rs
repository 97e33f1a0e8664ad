//! A small S3 client (path-style, AWS Signature Version 4) for S3-compatible object stores:
//! MinIO, Alibaba OSS, Tencent COS, AWS S3. Only what PictureDeck needs: put, get (with
//! Range), delete, and creating the bucket at start. The signature is `aws-sigv4`'s, AWS's own
//! signer; this module only builds the URL and sends the request.

use std::time::SystemTime;

use anyhow::{bail, Context as _};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

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

/// RFC 3986 encoding as SigV4 wants it; `/` kept in object keys. The URL is sent as encoded
/// here and signed as it is (S3 signs the path encoded once).
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

/// The key that signs, and the region and service it signs for.
struct SigningKey<'a> {
    access_key: &'a str,
    secret_key: &'a str,
    region: &'a str,
    service: &'a str,
}

/// A request as SigV4 sees it: `host` comes from the URL, `x-amz-date` from the time.
struct Unsigned<'a> {
    method: &'a str,
    url: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: &'a [u8],
}

/// The headers to add (`x-amz-date`, `x-amz-content-sha256` for S3, `authorization`) and the
/// signature, which the tests hold against AWS's published values.
struct Signed {
    headers: Vec<(&'static str, String)>,
    #[cfg_attr(not(test), allow(dead_code))]
    signature: String,
}

/// S3's variant of SigV4: the path is signed as sent (encoded once, not normalised) and the
/// payload's SHA-256 travels in `x-amz-content-sha256`.
fn s3_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings
}

/// AWS Signature Version 4, header form, at `time`.
fn sign_v4(
    key: &SigningKey<'_>,
    settings: SigningSettings,
    time: SystemTime,
    req: &Unsigned<'_>,
) -> anyhow::Result<Signed> {
    let identity: Identity =
        Credentials::new(key.access_key, key.secret_key, None, None, "picturedeck").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(key.region)
        .name(key.service)
        .time(time)
        .settings(settings)
        .build()
        .context("SigV4 parameters")?
        .into();
    let request = SignableRequest::new(
        req.method,
        req.url,
        req.headers.iter().copied(),
        SignableBody::Bytes(req.body),
    )
    .context("a request SigV4 can sign")?;
    let (instructions, signature) = sign(request, &params)
        .context("SigV4 signing")?
        .into_parts();
    let headers = instructions
        .into_parts()
        .0
        .into_iter()
        .map(|h| (h.name(), h.value().to_string()))
        .collect();
    Ok(Signed { headers, signature })
}

impl S3 {
    /// A signed request for `/{bucket}/{key}` (or the bucket itself when `key` is empty).
    fn request(
        &self,
        method: reqwest::Method,
        key: &str,
        body: &[u8],
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        self.request_with_query(method, key, "", body)
    }

    /// `request` with a query string (already encoded), which the signature covers.
    fn request_with_query(
        &self,
        method: reqwest::Method,
        key: &str,
        query: &str,
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
        let mut url = format!("{}{path}", self.endpoint.trim_end_matches('/'));
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        reqwest::Url::parse(&url).context("storage.s3_endpoint is not a URL")?;
        let signed = sign_v4(
            &SigningKey {
                access_key: &self.access_key,
                secret_key: &self.secret_key,
                region: &self.region,
                service: "s3",
            },
            s3_settings(),
            SystemTime::now(),
            &Unsigned {
                method: method.as_str(),
                url: &url,
                headers: &[],
                body,
            },
        )?;
        let mut builder = self.http.request(method, url);
        for (name, value) in signed.headers {
            builder = builder.header(name, value);
        }
        Ok(builder)
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

    /// The whole object, or `None` when S3 has no such key (404).
    pub async fn get_if_present(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let res = self
            .request(reqwest::Method::GET, key, b"")?
            .send()
            .await
            .context("S3 get")?;
        match res.status().as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => Ok(Some(res.bytes().await.context("S3 get")?.to_vec())),
            _ => bail!("S3 get {key}: HTTP {}", res.status()),
        }
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

impl S3 {
    /// Every key in the bucket (ListObjectsV2, a thousand a page), for backups.
    pub async fn list(&self) -> anyhow::Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = String::new();
            if let Some(t) = &token {
                query.push_str("continuation-token=");
                query.push_str(&uri_encode(t, false));
                query.push('&');
            }
            query.push_str("list-type=2");
            let res = self
                .request_with_query(reqwest::Method::GET, "", &query, b"")?
                .send()
                .await
                .context("S3 list")?;
            if !res.status().is_success() {
                bail!("S3 list {}: HTTP {}", self.bucket, res.status());
            }
            let xml = res.text().await.context("S3 list")?;
            keys.extend(
                xml_values(&xml, "Contents")
                    .iter()
                    .filter_map(|c| xml_values(c, "Key").into_iter().next())
                    .map(|k| xml_unescape(&k)),
            );
            let truncated = xml_values(&xml, "IsTruncated")
                .first()
                .is_some_and(|v| v == "true");
            token = xml_values(&xml, "NextContinuationToken")
                .into_iter()
                .next()
                .map(|t| xml_unescape(&t));
            if !truncated || token.is_none() {
                return Ok(keys);
            }
        }
    }
}

/// The texts of every `<tag>...</tag>` in `xml`, in order. S3's list answer is flat enough
/// that this is all the XML reading it takes.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(after[..end].to_string());
        rest = &after[end + close.len()..];
    }
    out
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_answers_are_read() {
        let xml = "<ListBucketResult><IsTruncated>true</IsTruncated>\
            <Contents><Key>results/a.png</Key><Size>3</Size></Contents>\
            <Contents><Key>a&amp;b</Key></Contents>\
            <NextContinuationToken>1/x=</NextContinuationToken></ListBucketResult>";
        let keys: Vec<String> = xml_values(xml, "Contents")
            .iter()
            .filter_map(|c| xml_values(c, "Key").into_iter().next())
            .map(|k| xml_unescape(&k))
            .collect();
        assert_eq!(keys, ["results/a.png", "a&b"]);
        assert_eq!(xml_values(xml, "NextContinuationToken"), ["1/x="]);
    }

    /// The credentials of AWS's Signature Version 4 test suite.
    const SUITE: SigningKey<'static> = SigningKey {
        access_key: "AKIDEXAMPLE",
        secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        service: "service",
    };

    /// The credentials of the worked examples in the S3 API reference ("Signature
    /// Calculations for the Authorization Header: Transferring Payload in a Single Chunk").
    const S3_DOCS: SigningKey<'static> = SigningKey {
        access_key: "AKIAIOSFODNN7EXAMPLE",
        secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        service: "s3",
    };

    fn at(amz_date: &str) -> SystemTime {
        chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
            .unwrap()
            .and_utc()
            .into()
    }

    fn header<'a>(signed: &'a Signed, name: &str) -> &'a str {
        signed
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    /// The test suite's vanilla request: no query, no body, only `Host` and `X-Amz-Date`.
    fn vanilla(method: &str) -> Signed {
        sign_v4(
            &SUITE,
            SigningSettings::default(),
            at("20150830T123600Z"),
            &Unsigned {
                method,
                url: "https://example.amazonaws.com/",
                headers: &[],
                body: b"",
            },
        )
        .unwrap()
    }

    #[test]
    fn get_vanilla_of_the_sigv4_test_suite() {
        let signed = vanilla("GET");
        assert_eq!(header(&signed, "x-amz-date"), "20150830T123600Z");
        assert_eq!(
            header(&signed, "authorization"),
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
            s3_settings(),
            at("20130524T000000Z"),
            &Unsigned {
                method: "GET",
                url: "https://examplebucket.s3.amazonaws.com/test.txt",
                headers: &[("Range", "bytes=0-9")],
                body: b"",
            },
        )
        .unwrap();
        assert_eq!(
            header(&signed, "x-amz-content-sha256"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(header(&signed, "authorization")
            .contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"));
        assert_eq!(
            signed.signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn the_s3_reference_put_object_with_a_body_and_a_dollar_in_the_key() {
        let url = format!(
            "https://examplebucket.s3.amazonaws.com/{}",
            uri_encode("test$file.text", true)
        );
        assert_eq!(
            url,
            "https://examplebucket.s3.amazonaws.com/test%24file.text"
        );
        let signed = sign_v4(
            &S3_DOCS,
            s3_settings(),
            at("20130524T000000Z"),
            &Unsigned {
                method: "PUT",
                url: &url,
                headers: &[
                    ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                    ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ],
                body: b"Welcome to Amazon S3.",
            },
        )
        .unwrap();
        assert_eq!(
            header(&signed, "x-amz-content-sha256"),
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        assert!(header(&signed, "authorization").contains(
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
