//! Signatures on outbound webhook calls, so a tenant can check a call came from us.
//!
//! Header `X-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`,
//! where the payload is the request body (for GET, the query string without `?`).

use super::crypto::{hex, hmac_sha256};

/// Name of the signature header.
pub const HEADER: &str = "x-webhook-signature";

/// The header value for `payload` signed at `timestamp_secs`.
pub fn sign(secret: &str, timestamp_secs: i64, payload: &str) -> String {
    let signed = format!("{timestamp_secs}.{payload}");
    let mac = hmac_sha256(secret.as_bytes(), signed.as_bytes());
    format!("t={timestamp_secs},v1={}", hex(&mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_timestamp_and_payload() {
        let header = sign("whsec_test", 1_700_000_000, r#"{"orderId":"A1"}"#);
        // Same value as Node: createHmac("sha256","whsec_test").update('1700000000.{"orderId":"A1"}').digest("hex")
        let expected = hex(&hmac_sha256(
            b"whsec_test",
            br#"1700000000.{"orderId":"A1"}"#,
        ));
        assert_eq!(header, format!("t=1700000000,v1={expected}"));
        assert_ne!(
            header,
            sign("whsec_test", 1_700_000_001, r#"{"orderId":"A1"}"#)
        );
    }
}
