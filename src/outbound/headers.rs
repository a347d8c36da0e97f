//! Header names and values a tenant may configure on an outbound request.

/// Headers the runtime or the platform sets itself; a tenant value would forge or break them.
const RESERVED: [&str; 6] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    crate::auth::signature::HEADER,
];

/// Refuses a header whose name is not an HTTP token, whose value holds a control character
/// (a CR or LF would start a new header), or which the platform sets itself.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!(
            "The header name {name:?} is not valid: use letters, digits and - only"
        ));
    }
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(format!(
            "The header {name} is set by the platform and cannot be configured"
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "The value of header {name} contains a control character (such as a line break)"
        ));
    }
    Ok(())
}
