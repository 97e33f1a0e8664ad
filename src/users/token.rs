//! Login tokens (JWT, HS256). A token names the account by its public uuid and carries the
//! account's `token_version`: bumping the version (password change, ban) revokes every token.
//! It also names its session (`sid`), so one sign-in can be ended alone (logout).

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::model::User;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub ver: i32,
    /// The session row; tokens from before sessions existed have none and are refused.
    #[serde(default)]
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl_hours: i64) -> Self {
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl: Duration::hours(ttl_hours),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, user: &User, sid: &str, now: DateTime<Utc>) -> anyhow::Result<IssuedToken> {
        let expires_at = now + self.ttl;
        let claims = Claims {
            sub: user.uuid.clone(),
            ver: user.token_version,
            sid: sid.to_string(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(IssuedToken { token, expires_at })
    }

    /// The claims of a well-formed, correctly signed, unexpired token; None for anything else.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|d| d.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        let now = Utc::now().naive_utc();
        User {
            id: 1,
            uuid: "u-1".into(),
            username: "alice".into(),
            email: "a@example.com".into(),
            password_hash: String::new(),
            role: "user".into(),
            status: "active".into(),
            token_version: 3,
            daily_quota: None,
            created_at: now,
            updated_at: now,
            ban_reason: None,
            last_login_at: None,
        }
    }

    #[test]
    fn issued_token_verifies_and_forgeries_do_not() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 1);
        let issued = keys.issue(&user(), "s-1", Utc::now()).unwrap();
        let claims = keys.verify(&issued.token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.ver, claims.sid.as_str()),
            ("u-1", 3, "s-1")
        );

        let other = TokenKeys::new(b"another-secret-another-secret-xx", 1);
        assert!(other.verify(&issued.token).is_none());
        assert!(keys.verify("not.a.token").is_none());
        // alg=none with the same claims must be refused.
        let parts: Vec<&str> = issued.token.split('.').collect();
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        assert!(keys
            .verify(&format!("{none_header}.{}.", parts[1]))
            .is_none());
    }
}
