//! Credentials: HS256 access tokens, bcrypt password hashes, opaque secrets.

use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Access tokens live 15 minutes; refresh tokens 7 days (semantics.md §13.1).
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
pub const REFRESH_TTL_SECS: i64 = 7 * 24 * 3600;

/// bcrypt cost used by the reference; its hashes must keep verifying.
pub const BCRYPT_COST: u32 = 10;

/// Clock skew tolerated between nodes for `nbf` and `iat`: a token may claim
/// to be issued, or to become valid, at most this far in the future.
pub const CLOCK_SKEW_SECS: i64 = 60;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    /// Not before; we never issue it but honour it when a token carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("token error: {0}")]
    Token(String),
    #[error("hash error: {0}")]
    Hash(String),
}

pub fn issue_access_token(secret: &str, user_id: &str, roles: &[String]) -> Result<String, AuthError> {
    let iat = Utc::now().timestamp();
    sign(
        secret,
        &Claims {
            sub: user_id.to_string(),
            roles: roles.to_vec(),
            iat,
            exp: iat + ACCESS_TTL_SECS,
            nbf: None,
        },
    )
}

/// HS256-signs any claims (tests forge tokens with it).
pub fn sign(secret: &str, claims: &Claims) -> Result<String, AuthError> {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| AuthError::Token(e.to_string()))
}

/// Verifies signature (HMAC only), expiry, `nbf` and `iat`. No leeway on
/// `exp`: an expired token is expired. `nbf` and `iat` get [`CLOCK_SKEW_SECS`],
/// so a token minted for later (or by a clock far ahead) is refused.
pub fn verify_access_token(secret: &str, token: &str) -> Option<Claims> {
    let mut v = Validation::new(Algorithm::HS256);
    v.algorithms = vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
    v.leeway = 0;
    // Checked below with the skew allowance (the library's leeway also widens `exp`).
    v.validate_nbf = false;
    v.set_required_spec_claims(&["exp", "sub"]);
    let claims = decode::<Claims>(token, &DecodingKey::from_secret(secret.as_bytes()), &v)
        .ok()?
        .claims;
    let latest = Utc::now().timestamp().saturating_add(CLOCK_SKEW_SECS);
    if claims.iat > latest || claims.nbf.is_some_and(|nbf| nbf > latest) {
        return None;
    }
    Some(claims)
}

/// Constant-time comparison for shared secrets (bearer tokens in config).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// New hashes are Argon2id (PHC string, `$argon2id$...`), the current
/// recommendation for password storage.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// An Argon2id hash made like [`hash_password`] (same parameters) of a random
/// password, computed once. Login verifies against it when the email is
/// unknown, so an unknown email costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        // The random password is never kept, so nothing verifies against it.
        // Hashing 32 ASCII characters with default parameters cannot fail.
        hash_password(&random_hex(16)).expect("argon2 hashes a short password")
    })
}

/// bcrypt hash as the reference makes them; kept for compatibility tests.
pub fn hash_password_bcrypt(password: &str) -> Result<String, AuthError> {
    bcrypt::hash(password, BCRYPT_COST).map_err(|e| AuthError::Hash(e.to_string()))
}

/// Checks a password against an Argon2 PHC hash or a bcrypt hash
/// (`$2a$`/`$2b$`/`$2y$`, as the reference stores them). Malformed hashes fail.
pub fn verify_password(password: &str, hash: &str) -> bool {
    if hash.starts_with("$argon2") {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        return PasswordHash::new(hash)
            .map(|h| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
    }
    bcrypt::verify(password, hash).unwrap_or(false)
}

/// SHA-256 hex digest: invite tokens are stored only in this form.
pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// `n` random bytes as lowercase hex (app JWT secrets: 32 bytes → 64 chars).
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("operating system random source unavailable");
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_roundtrip_and_wrong_secret() {
        let t = issue_access_token("s1", "u1", &["admin".into()]).unwrap();
        let c = verify_access_token("s1", &t).unwrap();
        assert_eq!(c.sub, "u1");
        assert_eq!(c.roles, vec!["admin".to_string()]);
        assert_eq!(c.exp - c.iat, ACCESS_TTL_SECS);
        assert!(verify_access_token("s2", &t).is_none());
        assert!(verify_access_token("s1", "garbage").is_none());
    }

    #[test]
    fn expired_token_is_rejected() {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: "u".into(),
            roles: vec![],
            iat: now - 100,
            exp: now - 10,
            nbf: None,
        };
        let t = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"s"),
        )
        .unwrap();
        assert!(verify_access_token("s", &t).is_none());
    }

    fn signed(claims: &Claims) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(b"s"),
        )
        .unwrap()
    }

    #[test]
    fn future_nbf_and_iat_are_rejected_beyond_the_skew() {
        let now = Utc::now().timestamp();
        let base = Claims {
            sub: "u".into(),
            roles: vec![],
            iat: now,
            exp: now + 3600,
            nbf: None,
        };
        let with = |iat: i64, nbf: Option<i64>| {
            signed(&Claims {
                iat,
                nbf,
                ..base.clone()
            })
        };
        assert!(verify_access_token("s", &with(now, None)).is_some());
        assert!(verify_access_token("s", &with(now, Some(now))).is_some());
        assert!(
            verify_access_token("s", &with(now, Some(now + 30))).is_some(),
            "within the skew"
        );
        assert!(
            verify_access_token("s", &with(now, Some(now + 600))).is_none(),
            "nbf ahead"
        );
        assert!(
            verify_access_token("s", &with(now + 600, None)).is_none(),
            "iat ahead"
        );
        assert!(
            verify_access_token("s", &with(now + 30, None)).is_some(),
            "within the skew"
        );
    }

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn dummy_hash_costs_what_a_real_hash_costs() {
        use argon2::password_hash::PasswordHash;
        let real = hash_password("changeme").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        let dummy = PasswordHash::new(dummy_hash()).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params, "same cost parameters");
        assert!(!verify_password("", dummy_hash()));
        assert_eq!(dummy_hash(), dummy_hash(), "computed once");
    }

    #[test]
    fn new_hashes_are_argon2id() {
        let h = hash_password("changeme").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("changeme", &h));
        assert!(!verify_password("wrong", &h));
    }

    #[test]
    fn verifies_reference_bcrypt_hashes() {
        // A $2a$ cost-10 hash of "changeme" as Go's bcrypt produces it.
        let h = hash_password_bcrypt("changeme").unwrap();
        assert!(verify_password("changeme", &h));
        assert!(!verify_password("wrong", &h));
        let go_style = h.replacen("$2b$", "$2a$", 1);
        assert!(verify_password("changeme", &go_style));
        assert!(!verify_password("changeme", "not-a-hash"));
    }

    #[test]
    fn random_hex_has_requested_length() {
        assert_eq!(random_hex(32).len(), 64);
        assert_ne!(random_hex(16), random_hex(16));
    }
}
