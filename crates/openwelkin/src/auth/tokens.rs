//! Bearer tokens: HS256 JWTs bound to a tenant and an API client, valid one hour.
//! Expiry is checked against the server's clock (not the system's), so the emulator's
//! clock controls it.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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

#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenSigner {
    pub fn new(key: &[u8]) -> Self {
        TokenSigner { encoding: EncodingKey::from_secret(key), decoding: DecodingKey::from_secret(key) }
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
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let data = decode::<Claims>(token, &self.decoding, &validation).map_err(|_| TokenError::Invalid)?;
        if data.claims.exp <= now_secs {
            return Err(TokenError::Expired);
        }
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
}
