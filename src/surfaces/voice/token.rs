//! The call token: minted with the TwiML answer, carried back by Twilio in
//! `setup.customParameters.token`, it binds the relay session to one tenant, agent and call
//! and expires shortly after the call was answered. Signed with a key derived from the
//! platform's token secret, so no other token of the platform (a visitor's) is ever one.

use serde_json::{json, Value};

use crate::auth::crypto::{base64url, constant_time_eq, from_base64url, hmac_sha256};

const VERSION: &str = "ct1";

/// How long after the webhook the relay may connect, in seconds.
pub const LIFETIME_SECS: i64 = 120;

/// What a call token binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallToken {
    /// The agent's tenant.
    pub tenant_id: String,
    /// The agent the call reached.
    pub agent_id: String,
    /// Twilio's call SID.
    pub call_sid: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
}

fn key(secret: &str) -> [u8; 32] {
    hmac_sha256(secret.as_bytes(), b"voice call token v1")
}

impl CallToken {
    /// A token for this call, valid for `LIFETIME_SECS` from `now_secs`.
    pub fn new(tenant_id: &str, agent_id: &str, call_sid: &str, now_secs: i64) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            agent_id: agent_id.to_owned(),
            call_sid: call_sid.to_owned(),
            expires_at: now_secs + LIFETIME_SECS,
        }
    }

    /// `ct1.<payload>.<signature>`, both unpadded base64url.
    pub fn sign(&self, secret: &str) -> String {
        let payload = json!({
            "t": self.tenant_id, "a": self.agent_id, "c": self.call_sid, "exp": self.expires_at,
        })
        .to_string();
        let signed = format!("{VERSION}.{}", base64url(payload.as_bytes()));
        let signature = hmac_sha256(&key(secret), signed.as_bytes());
        format!("{signed}.{}", base64url(&signature))
    }

    /// The token's claims, when it is genuine and unexpired.
    pub fn verify(token: &str, secret: &str, now_secs: i64) -> Option<Self> {
        let (signed, signature) = token.rsplit_once('.')?;
        let payload = signed.strip_prefix(VERSION)?.strip_prefix('.')?;
        let expected = hmac_sha256(&key(secret), signed.as_bytes());
        if !constant_time_eq(&from_base64url(signature)?, &expected) {
            return None;
        }
        let claims: Value = serde_json::from_slice(&from_base64url(payload)?).ok()?;
        let text = |name: &str| claims.get(name)?.as_str().map(str::to_owned);
        let token = Self {
            tenant_id: text("t")?,
            agent_id: text("a")?,
            call_sid: text("c")?,
            expires_at: claims.get("exp")?.as_i64()?,
        };
        (token.expires_at > now_secs).then_some(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_binds_tenant_agent_and_call_until_it_expires() {
        let token = CallToken::new("t1", "a1", "CA1", 1_000);
        let signed = token.sign("secret");
        assert_eq!(
            CallToken::verify(&signed, "secret", 1_000),
            Some(token.clone())
        );
        assert_eq!(
            CallToken::verify(&signed, "secret", 1_000 + LIFETIME_SECS),
            None
        );
        assert_eq!(CallToken::verify(&signed, "other", 1_000), None);
        assert_eq!(CallToken::verify("ct1.x.y", "secret", 1_000), None);
        assert_eq!(CallToken::verify("", "secret", 1_000), None);
        // A changed claim breaks the signature.
        let (_, sig) = signed.rsplit_once('.').expect("dot");
        let forged_payload = base64url(br#"{"t":"t1","a":"a2","c":"CA1","exp":99999999999}"#);
        let forged = format!("ct1.{forged_payload}.{sig}");
        assert_eq!(CallToken::verify(&forged, "secret", 1_000), None);
    }

    #[test]
    fn a_visitor_token_signature_is_no_call_token() {
        let payload = base64url(br#"{"t":"t1","a":"a1","c":"CA1","exp":99999999999}"#);
        let signed = format!("ct1.{payload}");
        // Signed with the raw secret (as visitor tokens are), not the derived key.
        let signature = base64url(&hmac_sha256(b"secret", signed.as_bytes()));
        assert_eq!(
            CallToken::verify(&format!("{signed}.{signature}"), "secret", 0),
            None
        );
    }
}
