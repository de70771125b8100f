//! How SMS and email providers sign the callbacks they send, and the checks of those
//! signatures. Pure functions: the caller hands in the secret, what was signed and the
//! time; the HTTP room reads them from the request.
//!
//! * Twilio: `X-Twilio-Signature` is base64(HMAC-SHA1(auth token, the full URL Twilio
//!   called, then every POST parameter's name followed by its value, sorted by name)).
//! * Mailgun: the form fields `timestamp` (Unix seconds), `token` and `signature` =
//!   hex(HMAC-SHA256(signing key, timestamp followed by token)). A timestamp more than
//!   five minutes from the server's clock is refused, so a captured request cannot be
//!   replayed later.
//!
//! Every comparison of a signature is constant-time (`Mac::verify_slice`).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// How far a Mailgun timestamp may be from the server's clock, either way.
pub const MAILGUN_MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// What Twilio signs: the URL, then each parameter's name and value, sorted by name (and
/// by value for a repeated name, as Twilio's own libraries do).
fn twilio_payload(url: &str, params: &[(String, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut payload = url.as_bytes().to_vec();
    for (name, value) in sorted {
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(value.as_bytes());
    }
    payload
}

fn twilio_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(&twilio_payload(url, params));
    mac
}

/// The `X-Twilio-Signature` Twilio sends for a POST of `params` to `url`.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    BASE64.encode(twilio_mac(auth_token, url, params).finalize().into_bytes())
}

/// Whether `given` (the header's value) is Twilio's signature of this request.
pub fn twilio_verify(auth_token: &str, url: &str, params: &[(String, String)], given: &str) -> bool {
    let Ok(given) = BASE64.decode(given.trim()) else { return false };
    twilio_mac(auth_token, url, params).verify_slice(&given).is_ok()
}

/// Why a Mailgun signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailgunRefusal {
    /// A field is absent or empty (`timestamp`, `token` or `signature`).
    Missing(&'static str),
    /// The signature does not match (or is not hex).
    Mismatch,
    /// The signature matches, but the timestamp is too far from now: a replay.
    Stale,
}

impl std::fmt::Display for MailgunRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailgunRefusal::Missing(field) => write!(f, "the form field {field} is missing"),
            MailgunRefusal::Mismatch => f.write_str("the signature does not match"),
            MailgunRefusal::Stale => f.write_str("the timestamp is more than 5 minutes from the server's time"),
        }
    }
}

/// Checks Mailgun's `timestamp`, `token` and `signature` against the signing key, at
/// `now_ms` (the server's clock).
pub fn mailgun_verify(
    signing_key: &str,
    timestamp: &str,
    token: &str,
    signature: &str,
    now_ms: i64,
) -> Result<(), MailgunRefusal> {
    for (field, value) in [("timestamp", timestamp), ("token", token), ("signature", signature)] {
        if value.trim().is_empty() {
            return Err(MailgunRefusal::Missing(field));
        }
    }
    let given = hex::decode(signature.trim()).map_err(|_| MailgunRefusal::Mismatch)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_key.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    mac.verify_slice(&given).map_err(|_| MailgunRefusal::Mismatch)?;
    // Checked once the signature holds, so that the answer to a forgery says only that.
    let seconds: i64 = timestamp.trim().parse().map_err(|_| MailgunRefusal::Stale)?;
    match seconds.checked_mul(1000).map(|ms| (now_ms - ms).abs()) {
        Some(skew) if skew <= MAILGUN_MAX_SKEW_MS => Ok(()),
        _ => Err(MailgunRefusal::Stale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The worked example of Twilio's request-validation documentation (auth token
    /// `12345`), with the signature it gives.
    #[test]
    fn twilio_signatures_match_twilios_documented_example() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(twilio_signature("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(twilio_verify("12345", url, &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    }

    #[test]
    fn twilio_signatures_cover_the_url_every_parameter_and_the_token() {
        let url = "https://care.example.org/t/sandbox/providers/sms/inbound";
        let params = pairs(&[("To", "+15550001111"), ("From", "+15552223333"), ("Body", "hi")]);
        let good = twilio_signature("secret", url, &params);
        let reordered = pairs(&[("Body", "hi"), ("From", "+15552223333"), ("To", "+15550001111")]);
        assert!(twilio_verify("secret", url, &reordered, &good), "the order of the form does not matter");
        assert!(!twilio_verify("other", url, &params, &good));
        assert!(!twilio_verify("secret", "http://care.example.org/t/sandbox/providers/sms/inbound", &params, &good));
        let altered = pairs(&[("To", "+15550001111"), ("From", "+15552223333"), ("Body", "hi!")]);
        assert!(!twilio_verify("secret", url, &altered, &good));
        let added = [params.clone(), pairs(&[("Extra", "")])].concat();
        assert!(!twilio_verify("secret", url, &added, &good));
        assert!(!twilio_verify("secret", url, &params, "not base64!"));
        assert!(!twilio_verify("secret", url, &params, ""));
    }

    fn mailgun_signature(key: &str, timestamp: &str, token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{timestamp}{token}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn mailgun_signatures_are_checked_and_then_their_age() {
        let now_ms = 1_700_000_000_000;
        let ts = "1700000000";
        let good = mailgun_signature("key-1", ts, "tok");
        assert_eq!(mailgun_verify("key-1", ts, "tok", &good, now_ms), Ok(()));
        assert_eq!(mailgun_verify("key-1", ts, "tok", &good.to_uppercase(), now_ms), Ok(()), "hex in either case");
        assert_eq!(mailgun_verify("key-2", ts, "tok", &good, now_ms), Err(MailgunRefusal::Mismatch));
        assert_eq!(mailgun_verify("key-1", ts, "tok2", &good, now_ms), Err(MailgunRefusal::Mismatch));
        assert_eq!(mailgun_verify("key-1", ts, "tok", "zz", now_ms), Err(MailgunRefusal::Mismatch));
        assert_eq!(mailgun_verify("key-1", ts, "", &good, now_ms), Err(MailgunRefusal::Missing("token")));
        assert_eq!(mailgun_verify("key-1", "", "tok", &good, now_ms), Err(MailgunRefusal::Missing("timestamp")));
        assert_eq!(mailgun_verify("key-1", ts, "tok", " ", now_ms), Err(MailgunRefusal::Missing("signature")));
        // Five minutes either way is accepted; a second more is not.
        assert_eq!(mailgun_verify("key-1", ts, "tok", &good, now_ms + MAILGUN_MAX_SKEW_MS), Ok(()));
        assert_eq!(mailgun_verify("key-1", ts, "tok", &good, now_ms - MAILGUN_MAX_SKEW_MS), Ok(()));
        assert_eq!(
            mailgun_verify("key-1", ts, "tok", &good, now_ms + MAILGUN_MAX_SKEW_MS + 1000),
            Err(MailgunRefusal::Stale)
        );
        assert_eq!(
            mailgun_verify("key-1", ts, "tok", &good, now_ms - MAILGUN_MAX_SKEW_MS - 1000),
            Err(MailgunRefusal::Stale)
        );
        let odd = mailgun_signature("key-1", "soon", "tok");
        assert_eq!(mailgun_verify("key-1", "soon", "tok", &odd, now_ms), Err(MailgunRefusal::Stale));
    }
}
