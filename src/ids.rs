//! Identifiers: generated ones and the rules for ones clients send.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Builds `prefix_` plus one base62 character per random byte (about 5.95 bits each).
pub fn from_random(prefix: &str, random: &[u8]) -> String {
    let mut id = String::with_capacity(prefix.len() + 1 + random.len());
    id.push_str(prefix);
    id.push('_');
    // The slight modulo bias is harmless: ids need uniqueness, not a uniform distribution.
    id.extend(random.iter().map(|b| ALPHABET[(*b as usize) % 62] as char));
    id
}

/// Whether a client-chosen id is acceptable: 1-128 chars of `A-Z a-z 0-9 _ -`.
pub fn is_valid_client_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether a channel label (where a chat runs: `widget`, `inline`, `api`) is acceptable: 1-32
/// chars of `a-z` and `-`. Chat bodies and inbox filters take the same labels.
pub fn is_channel_name(name: &str) -> bool {
    (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_short_lowercase_labels() {
        assert!(is_channel_name("widget") && is_channel_name("web-site"));
        for bad in ["", "Web", "web site", "web_site", &"a".repeat(33)] {
            assert!(!is_channel_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_have_prefix_and_length() {
        let id = from_random("msg", &[0, 61, 62, 255]);
        assert_eq!(id, "msg_0z07");
        assert!(is_valid_client_id(&id));
    }

    #[test]
    fn client_ids_are_checked() {
        assert!(is_valid_client_id("Vj3kS9aQ-x_1"));
        assert!(!is_valid_client_id(""));
        assert!(!is_valid_client_id("a/b"));
        assert!(!is_valid_client_id("<script>"));
        assert!(!is_valid_client_id(&"a".repeat(129)));
    }
}
