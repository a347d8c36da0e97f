//! Webhook tools: turning a model's call into an HTTP request to the tenant's endpoint, and
//! its answer into a tool result.

use serde_json::Value;

use crate::agent::WebhookTool;

/// Timeout when the tool sets none.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
/// Longest timeout a tool may set.
pub const MAX_TIMEOUT_MS: u32 = 30_000;

/// An outbound request, ready for any HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// Full URL, with the query string for GET.
    pub url: String,
    /// Upper-case method.
    pub method: String,
    /// Headers to send, tenant secrets included.
    pub headers: Vec<(String, String)>,
    /// JSON body, absent for GET.
    pub body: Option<String>,
    /// Time allowed for the whole call.
    pub timeout_ms: u32,
}

/// Builds the request for one call; arguments go in the query for GET, in a JSON body otherwise.
///
/// Whether the URL may be called at all is the outbound policy's decision (`outbound`).
impl WebhookRequest {
    /// What the signature covers: the body, or for a body-less call the query string.
    pub fn signed_payload(&self) -> &str {
        match &self.body {
            Some(body) => body,
            None => self.url.split_once('?').map_or("", |(_, query)| query),
        }
    }
}

/// Builds the HTTP call for a tool invocation.
pub fn build_request(tool: &WebhookTool, input: &Value) -> Result<WebhookRequest, String> {
    let url = tool.url.trim();
    let method = tool.method.trim().to_ascii_uppercase();
    if !matches!(method.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
        return Err(format!(
            "Tool {} has an unsupported HTTP method {}",
            tool.name, tool.method
        ));
    }
    let mut headers: Vec<(String, String)> = tool
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let timeout_ms = tool
        .timeout_ms
        .unwrap_or(DEFAULT_TIMEOUT_MS)
        .clamp(1, MAX_TIMEOUT_MS);
    if method == "GET" {
        return Ok(WebhookRequest {
            url: with_query(url, input),
            method,
            headers,
            body: None,
            timeout_ms,
        });
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), "application/json".into()));
    }
    Ok(WebhookRequest {
        url: url.to_owned(),
        method,
        headers,
        body: Some(input.to_string()),
        timeout_ms,
    })
}

/// Reads the endpoint's answer: JSON when it parses, text otherwise; non-2xx is an error.
pub fn read_response(status: u16, body: &str) -> Result<Value, String> {
    if !(200..300).contains(&status) {
        let detail: String = body.trim().chars().take(200).collect();
        return Err(if detail.is_empty() {
            format!("The tool's endpoint answered HTTP {status}")
        } else {
            format!("The tool's endpoint answered HTTP {status}: {detail}")
        });
    }
    if body.trim().is_empty() {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned())))
}

fn with_query(url: &str, input: &Value) -> String {
    let Some(map) = input.as_object() else {
        return url.to_owned();
    };
    let pairs: Vec<String> = map
        .iter()
        .filter_map(|(k, v)| {
            let value = match v {
                Value::Null => return None,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(format!("{}={}", percent_encode(k), percent_encode(&value)))
        })
        .collect();
    if pairs.is_empty() {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", pairs.join("&"))
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(method: &str) -> WebhookTool {
        serde_json::from_value(json!({
            "name": "lookup", "url": "https://api.shop.test/orders?v=2", "method": method,
            "headers": {"Authorization": "Bearer secret"}, "timeoutMs": 99_999
        }))
        .expect("tool")
    }

    #[test]
    fn post_sends_json_body_and_secret_headers() {
        let req = build_request(&tool("post"), &json!({"id": 7})).expect("builds");
        assert_eq!(req.method, "POST");
        assert_eq!(req.body.as_deref(), Some(r#"{"id":7}"#));
        assert!(req
            .headers
            .contains(&("Authorization".into(), "Bearer secret".into())));
        assert!(req
            .headers
            .contains(&("content-type".into(), "application/json".into())));
        assert_eq!(req.timeout_ms, MAX_TIMEOUT_MS);
    }

    #[test]
    fn get_puts_arguments_in_the_query() {
        let req = build_request(&tool("GET"), &json!({"id": 7, "q": "a b&c", "skip": null}))
            .expect("builds");
        assert_eq!(req.url, "https://api.shop.test/orders?v=2&id=7&q=a%20b%26c");
        assert_eq!(req.body, None);
    }

    #[test]
    fn rejects_unsupported_methods() {
        assert!(build_request(&tool("TRACE"), &json!({})).is_err());
    }

    #[test]
    fn responses() {
        assert_eq!(
            read_response(200, r#"{"ok":true}"#),
            Ok(json!({"ok": true}))
        );
        assert_eq!(read_response(200, "plain"), Ok(json!("plain")));
        assert_eq!(read_response(204, ""), Ok(Value::Null));
        assert_eq!(
            read_response(500, "oops"),
            Err("The tool's endpoint answered HTTP 500: oops".into())
        );
    }
}
