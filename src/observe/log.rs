//! One JSON log line per request, instead of free text: what `wrangler tail --format json` and
//! Workers Logs can filter by (route, tenant, agent, status, duration, trace id).

use serde_json::json;

/// What the request log line says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestLog<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The route template (`/api/agents/{agentId}/chat`), or the path when none matched.
    pub route: &'a str,
    /// Response status.
    pub status: u16,
    /// Time until the response (its head, for a stream), ms.
    pub ms: i64,
    /// Tenant, when the request was for one.
    pub tenant: Option<&'a str>,
    /// Agent, when the request was for one.
    pub agent: Option<&'a str>,
    /// The turn's trace id, for a chat request.
    pub trace_id: Option<&'a str>,
    /// The isolate's wasm memory when the response left, KiB: it only ever grows, so a leak in
    /// the worker shows here request by request.
    pub memory_kb: Option<u64>,
}

impl RequestLog<'_> {
    /// The line: one JSON object.
    pub fn line(&self) -> String {
        json!({
            "level": if self.status >= 500 { "error" } else if self.status >= 400 { "warn" } else { "info" },
            "event": "request",
            "method": self.method,
            "route": self.route,
            "status": self.status,
            "ms": self.ms,
            "tenant": self.tenant,
            "agent": self.agent,
            "traceId": self.trace_id,
            "memoryKb": self.memory_kb,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn one_json_object_per_request() {
        let line = RequestLog {
            method: "POST",
            route: "/api/agents/{agentId}/chat",
            status: 200,
            ms: 12,
            tenant: Some("t1"),
            agent: Some("a1"),
            trace_id: Some("5b8e"),
            memory_kb: Some(2112),
        }
        .line();
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(
            (
                v["route"].as_str(),
                v["status"].as_u64(),
                v["tenant"].as_str(),
                v["traceId"].as_str(),
                v["level"].as_str(),
                v["memoryKb"].as_u64()
            ),
            (
                Some("/api/agents/{agentId}/chat"),
                Some(200),
                Some("t1"),
                Some("5b8e"),
                Some("info"),
                Some(2112)
            )
        );
        let failed = RequestLog {
            status: 503,
            ..RequestLog::default()
        }
        .line();
        assert!(failed.contains(r#""level":"error""#) && failed.contains(r#""tenant":null"#));
    }
}
