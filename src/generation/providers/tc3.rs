//! Tencent Cloud API 3.0 request signing, TC3-HMAC-SHA256 ("signature v3"), for a JSON
//! `POST /`: the canonical request (method, `/`, empty query, the signed headers with names
//! and values in lower case, sorted, and the payload's SHA-256), the string to sign
//! (`TC3-HMAC-SHA256`, the timestamp, `date/service/tc3_request`, the canonical request's
//! SHA-256), and the signing key derived `"TC3" + SecretKey` → date → service →
//! `tc3_request`. The date is the timestamp's UTC day.
//!
//! Read 2026-12-01: Tencent's "Signature v3" page, which every product repeats, e.g.
//! <https://www.tencentcloud.com/document/product/267/37447> (zh: 签名方法 v3,
//! <https://www.tencentcloud.com/zh/document/api/1021/34193>); its worked example is the test
//! below.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::storage::{hex, sha256_hex};

const ALGORITHM: &str = "TC3-HMAC-SHA256";

fn hmac(key: &[u8], message: &str) -> Vec<u8> {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// `headers` as the canonical request lists them: lower-case names and values, trimmed,
/// sorted by name; and their names joined with `;`.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut lower: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_lowercase()))
        .collect();
    lower.sort();
    let listed = lower.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let names = lower
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (listed, names)
}

fn canonical_request(headers: &[(&str, &str)], payload: &[u8]) -> (String, String) {
    let (listed, names) = canonical_headers(headers);
    let request = format!("POST\n/\n\n{listed}\n{names}\n{}", sha256_hex(payload));
    (request, names)
}

fn utc_date(timestamp: i64) -> String {
    chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

fn string_to_sign(timestamp: i64, scope: &str, canonical: &str) -> String {
    format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    )
}

/// The `Authorization` header of a signed JSON `POST /` to `service` at `timestamp` (unix
/// seconds), signing `headers` (which must include `content-type` and `host`, as sent).
pub fn authorization(
    secret_id: &str,
    secret_key: &str,
    service: &str,
    timestamp: i64,
    headers: &[(&str, &str)],
    payload: &[u8],
) -> String {
    let date = utc_date(timestamp);
    let scope = format!("{date}/{service}/tc3_request");
    let (canonical, signed_headers) = canonical_request(headers, payload);
    let key = hmac(format!("TC3{secret_key}").as_bytes(), &date);
    let key = hmac(&key, service);
    let key = hmac(&key, "tc3_request");
    let signature = hex(&hmac(&key, &string_to_sign(timestamp, &scope, &canonical)));
    format!(
        "{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tencent's published example: CVM DescribeInstances in ap-guangzhou at 1551113065 with
    /// SecretKey `Gu5t9xGARNpq86cd98joQYCN3EXAMPLE`; every intermediate value is the page's
    /// (and Python's `hmac`/`hashlib` give the same).
    #[test]
    fn the_signature_is_tencents_published_example() {
        let payload =
            br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let headers = [
            ("Host", "cvm.tencentcloudapi.com"),
            ("Content-Type", "application/json; charset=utf-8"),
        ];
        assert_eq!(
            sha256_hex(payload),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        let (canonical, names) = canonical_request(&headers, payload);
        assert_eq!(names, "content-type;host");
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(utc_date(1551113065), "2019-02-25", "UTC, not local time");
        assert_eq!(
            authorization(
                "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
                "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
                "cvm",
                1551113065,
                &headers,
                payload,
            ),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }
}
