//! Visitor tokens: signed statements "this browser is visitor V of tenant T", issued by the
//! worker on first contact, and verified end users whose id the tenant's backend signed.

use serde::{Deserialize, Serialize};

use super::crypto::{base64url, constant_time_eq, from_base64url, from_hex, hmac_sha256};

/// Token format marker; a new format gets a new marker.
const VERSION: &str = "vt1";
/// How long a token lives, in seconds (renewed on use, see `Visitor::needs_renewal`).
pub const TOKEN_TTL_SECS: i64 = 90 * 24 * 3600;
/// Age after which a used token is replaced by a fresh one.
pub const RENEW_AFTER_SECS: i64 = 24 * 3600;
/// Longest accepted end-user id.
pub const MAX_USER_ID_LEN: usize = 256;

/// Who a token names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visitor {
    /// Tenant the visitor belongs to.
    #[serde(rename = "t")]
    pub tenant_id: String,
    /// Visitor id: `v_…` for anonymous visitors, `u:<userId>` for verified users.
    #[serde(rename = "v")]
    pub visitor_id: String,
    /// Whether the tenant's backend vouched for the user id.
    #[serde(rename = "u", default)]
    pub verified: bool,
    /// Issue time, seconds since the epoch.
    #[serde(rename = "iat")]
    pub issued_at: i64,
    /// Expiry time, seconds since the epoch.
    #[serde(rename = "exp")]
    pub expires_at: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token, or the signature does not match.
    #[error("The visitor token is invalid.")]
    Invalid,
    /// Genuine but too old.
    #[error("The visitor token has expired.")]
    Expired,
}

impl Visitor {
    /// A new anonymous visitor.
    pub fn anonymous(tenant_id: &str, visitor_id: String, now_secs: i64) -> Self {
        Self::new(tenant_id, visitor_id, false, now_secs)
    }

    /// A verified end user of the tenant.
    pub fn verified_user(tenant_id: &str, user_id: &str, now_secs: i64) -> Self {
        Self::new(tenant_id, format!("u:{user_id}"), true, now_secs)
    }

    fn new(tenant_id: &str, visitor_id: String, verified: bool, now_secs: i64) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            visitor_id,
            verified,
            issued_at: now_secs,
            expires_at: now_secs + TOKEN_TTL_SECS,
        }
    }

    /// The same visitor with a fresh lifetime.
    pub fn renewed(&self, now_secs: i64) -> Self {
        Self::new(
            &self.tenant_id,
            self.visitor_id.clone(),
            self.verified,
            now_secs,
        )
    }

    /// Whether a client should get a fresh token for this one.
    pub fn needs_renewal(&self, now_secs: i64) -> bool {
        now_secs - self.issued_at >= RENEW_AFTER_SECS
    }

    /// `vt1.<payload>.<signature>`, both unpadded base64url.
    pub fn sign(&self, secret: &str) -> String {
        // Serializing a struct of strings, bools and integers cannot fail.
        let payload = serde_json::to_vec(self).unwrap_or_default();
        let signed = format!("{VERSION}.{}", base64url(&payload));
        let signature = hmac_sha256(secret.as_bytes(), signed.as_bytes());
        format!("{signed}.{}", base64url(&signature))
    }

    /// Checks a token's signature and age.
    pub fn verify(token: &str, secret: &str, now_secs: i64) -> Result<Self, TokenError> {
        let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let (version, payload) = signed.split_once('.').ok_or(TokenError::Invalid)?;
        if version != VERSION {
            return Err(TokenError::Invalid);
        }
        let signature = from_base64url(signature).ok_or(TokenError::Invalid)?;
        let expected = hmac_sha256(secret.as_bytes(), signed.as_bytes());
        if !constant_time_eq(&signature, &expected) {
            return Err(TokenError::Invalid);
        }
        let payload = from_base64url(payload).ok_or(TokenError::Invalid)?;
        let payload = String::from_utf8(payload).map_err(|_| TokenError::Invalid)?;
        let visitor: Visitor = serde_json::from_str(&payload).map_err(|_| TokenError::Invalid)?;
        if visitor.expires_at <= now_secs {
            return Err(TokenError::Expired);
        }
        Ok(visitor)
    }
}

/// Whether `user_hash` is the hex `HMAC-SHA256(identity_secret, user_id)`; constant time.
pub fn user_hash_matches(user_id: &str, user_hash: &str, identity_secret: &str) -> bool {
    let Some(given) = from_hex(user_hash.trim()) else {
        return false;
    };
    let expected = hmac_sha256(identity_secret.as_bytes(), user_id.as_bytes());
    constant_time_eq(&given, &expected)
}

/// Whether an end-user id is acceptable: 1 to `MAX_USER_ID_LEN` bytes, no control characters.
pub fn is_valid_user_id(user_id: &str) -> bool {
    (1..=MAX_USER_ID_LEN).contains(&user_id.len()) && !user_id.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::crypto::hex;

    const SECRET: &str = "test-visitor-secret";

    #[test]
    fn tokens_round_trip_and_expire() {
        let visitor = Visitor::anonymous("t1", "v_abc".into(), 1_000);
        let token = visitor.sign(SECRET);
        assert!(token.starts_with("vt1."));
        assert_eq!(Visitor::verify(&token, SECRET, 2_000), Ok(visitor.clone()));
        assert_eq!(
            Visitor::verify(&token, SECRET, 1_000 + TOKEN_TTL_SECS),
            Err(TokenError::Expired)
        );
        assert!(!visitor.needs_renewal(1_000 + RENEW_AFTER_SECS - 1));
        assert!(visitor.needs_renewal(1_000 + RENEW_AFTER_SECS));
        assert_eq!(visitor.renewed(5_000).issued_at, 5_000);
    }

    #[test]
    fn forged_tokens_are_invalid() {
        let token = Visitor::anonymous("t1", "v_abc".into(), 1_000).sign(SECRET);
        assert_eq!(
            Visitor::verify(&token, "other-secret", 2_000),
            Err(TokenError::Invalid)
        );
        // Another tenant's name in the payload, with the original signature.
        let forged_payload =
            base64url(br#"{"t":"t2","v":"v_abc","u":false,"iat":1000,"exp":99999999999}"#);
        let signature = token.rsplit_once('.').map(|(_, s)| s).unwrap_or_default();
        let forged = format!("vt1.{forged_payload}.{signature}");
        assert_eq!(
            Visitor::verify(&forged, SECRET, 2_000),
            Err(TokenError::Invalid)
        );
        for junk in ["", "vt1", "vt1..", "vt2.a.b", "vt1.!!.??", "a.b.c.d"] {
            assert_eq!(Visitor::verify(junk, SECRET, 0), Err(TokenError::Invalid));
        }
    }

    #[test]
    fn user_hashes() {
        let hash = hex(&hmac_sha256(b"identity-secret", b"user-42"));
        assert!(user_hash_matches("user-42", &hash, "identity-secret"));
        assert!(user_hash_matches(
            "user-42",
            &hash.to_uppercase(),
            "identity-secret"
        ));
        assert!(!user_hash_matches("user-43", &hash, "identity-secret"));
        assert!(!user_hash_matches("user-42", &hash, "other"));
        assert!(!user_hash_matches("user-42", "not hex", "identity-secret"));
        let user = Visitor::verified_user("t1", "user-42", 0);
        assert_eq!(user.visitor_id, "u:user-42");
        assert!(user.verified);
        assert!(is_valid_user_id("a@b.c"));
        assert!(!is_valid_user_id(""));
        assert!(!is_valid_user_id("a\nb"));
    }
}
