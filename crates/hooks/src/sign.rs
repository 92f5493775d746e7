//! Standard Webhooks signatures (standardwebhooks.com): `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">`, keyed by the base64 bytes after `whsec_`.
//! During a rotation both secrets sign (space-separated), so a receiver that
//! knows either one verifies.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const PREFIX: &str = "whsec_";

/// A fresh secret: `whsec_` + 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// The key bytes of a secret; None when it is not `whsec_` + base64 of at
/// least 16 bytes (what the admin API accepts).
pub fn key_of(secret: &str) -> Option<Vec<u8>> {
    let b64 = secret.strip_prefix(PREFIX)?;
    STANDARD
        .decode(b64)
        .ok()
        .filter(|k| k.len() >= 16 && k.len() <= 128)
}

/// One `v1,<sig>` entry.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // A key of any length is valid for HMAC; the error arm cannot happen.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` value for every usable secret, or None.
pub fn header(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let sigs: Vec<String> = secrets
        .iter()
        .filter_map(|s| key_of(s))
        .map(|k| sign(&k, id, timestamp, body))
        .collect();
    (!sigs.is_empty()).then(|| sigs.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_test_vector() {
        // The example of the Standard Webhooks specification's libraries.
        let key = key_of("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid secret");
        let body = br#"{"test": 2432232314}"#;
        let got = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(got, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_signs_with_both_and_bad_secrets_are_refused() {
        let (a, b) = (new_secret(), new_secret());
        assert!(key_of(&a).is_some());
        let h = header(&[&a, &b], "id", 1, b"{}").expect("signed");
        assert_eq!(h.split(' ').count(), 2);
        assert!(key_of("nope").is_none());
        assert!(key_of("whsec_c2hvcnQ=").is_none(), "too short");
        assert!(header(&["bad"], "id", 1, b"{}").is_none());
    }
}
