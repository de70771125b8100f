//! Bearer tokens: HS256 JWTs bound to a tenant and an API client, valid one hour.
//! Expiry is checked against the server's clock (not the system's), so the emulator's
//! clock controls it.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const TOKEN_LIFETIME_SECS: i64 = 3600;

#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct Claims {
    /// The API client's id.
    pub sub: String,
    /// The tenant the token is valid for.
    pub tenant: String,
    #[serde(rename = "cognito:username")]
    pub client_name: String,
    #[serde(rename = "custom:type")]
    pub kind: String,
    /// The client's secret version when issued; rotating the secret retires the token.
    pub sv: i64,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

/// Tokens whose signature was checked, kept for their next requests; beyond this many the
/// set starts again (a client keeps one token for an hour; a node sees a few hundred).
const VERIFIED_LIMIT: usize = 1024;

#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Tokens this signer has verified, with their claims: a client sends the same token
    /// with every request for an hour, and checking its signature and parsing its claims
    /// again was 7 % of the CPU of a read by id. Only the signature check is skipped:
    /// expiry is checked on every use against the server's clock, and the client's state
    /// (disabled, rotated secret) by the caller. The tokens stay in this process's
    /// memory, which holds the signing key itself; they are never written anywhere.
    verified: Arc<Mutex<HashMap<String, Claims>>>,
}

impl TokenSigner {
    pub fn new(key: &[u8]) -> Self {
        TokenSigner {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            verified: Arc::default(),
        }
    }

    pub fn issue(
        &self,
        client_id: &str,
        tenant_id: &str,
        client_name: &str,
        secret_version: i64,
        now_secs: i64,
    ) -> (String, i64) {
        let exp = now_secs + TOKEN_LIFETIME_SECS;
        let claims = Claims {
            sub: client_id.into(),
            tenant: tenant_id.into(),
            client_name: client_name.into(),
            kind: "API_CLIENT".into(),
            sv: secret_version,
            iat: now_secs,
            exp,
            jti: crate::ids::new_id(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HS256 signing cannot fail");
        (token, exp)
    }

    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Claims, TokenError> {
        let known = self.verified.lock().unwrap_or_else(|e| e.into_inner()).get(token).cloned();
        let claims = match known {
            Some(claims) => claims,
            None => {
                let claims = self.check_signature(token)?;
                let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
                if verified.len() >= VERIFIED_LIMIT {
                    verified.clear();
                }
                verified.insert(token.to_string(), claims.clone());
                claims
            }
        };
        if claims.exp <= now_secs {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    fn check_signature(&self, token: &str) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let data = decode::<Claims>(token, &self.decoding, &validation).map_err(|_| TokenError::Invalid)?;
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_after_an_hour_and_reject_forgery() {
        let signer = TokenSigner::new(b"k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1");
        let (token, exp) = signer.issue("c", "t", "NAME", 1, 1000);
        assert_eq!(exp, 1000 + 3600);
        assert_eq!(signer.verify(&token, 1001).unwrap().client_name, "NAME");
        assert_eq!(signer.verify(&token, 1000 + 3600).unwrap_err(), TokenError::Expired);
        let other = TokenSigner::new(b"k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2");
        assert_eq!(other.verify(&token, 1001).unwrap_err(), TokenError::Invalid);
        assert_eq!(signer.verify("garbage", 1001).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn a_verified_token_is_still_checked_for_expiry_and_a_changed_one_is_refused() {
        let signer = TokenSigner::new(b"k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1");
        let (token, exp) = signer.issue("c", "t", "NAME", 1, 1000);
        assert!(signer.verify(&token, 1001).is_ok());
        assert!(signer.verify(&token, 1002).is_ok(), "known now");
        assert_eq!(signer.verify(&token, exp).unwrap_err(), TokenError::Expired);
        // The same claims under a signature whose first character differs.
        let at = token.rfind('.').unwrap() + 1;
        let first = if token[at..].starts_with('A') { "B" } else { "A" };
        let forged = format!("{}{first}{}", &token[..at], &token[at + 1..]);
        assert_eq!(signer.verify(&forged, 1001).unwrap_err(), TokenError::Invalid);
        // Another signer (another key) shares nothing with this one.
        let other = TokenSigner::new(b"k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2");
        assert_eq!(other.verify(&token, 1001).unwrap_err(), TokenError::Invalid);
        // Past the limit the set starts again, and tokens still verify.
        for n in 0..(VERIFIED_LIMIT + 5) {
            let (t, _) = signer.issue("c", "t", "NAME", 1, 1000 + n as i64);
            assert!(signer.verify(&t, 1000 + n as i64 + 1).is_ok());
        }
        assert!(signer.verified.lock().unwrap().len() <= VERIFIED_LIMIT);
        assert!(signer.verify(&token, 1001).is_ok());
    }
}
