//! Where traces go: the operator's defaults from the environment (the names Langfuse and
//! OpenTelemetry users already know) and a tenant's own `langfuse` / `otlp` integrations.

use serde_json::Value;

use super::sampler::{parse_rate, sampled};

/// Langfuse Cloud (EU), the host of a `langfuse` integration that names none.
pub const LANGFUSE_CLOUD: &str = "https://cloud.langfuse.com";
/// Langfuse's OpenTelemetry endpoint, under its host.
pub const LANGFUSE_OTEL_PATH: &str = "/api/public/otel/v1/traces";
/// The OTLP/HTTP traces path under a base `OTEL_EXPORTER_OTLP_ENDPOINT`.
pub const OTLP_TRACES_PATH: &str = "/v1/traces";
/// Most headers an OTLP integration may carry.
pub const MAX_HEADERS: usize = 16;

/// Time allowed for one export attempt, in ms, when `OTEL_EXPORTER_OTLP_TIMEOUT` is not set.
pub const DEFAULT_EXPORT_TIMEOUT_MS: u32 = 5_000;
/// Attempts per target: a first try and bounded retries.
pub const EXPORT_ATTEMPTS: u32 = 3;

/// `OTEL_EXPORTER_OTLP_TIMEOUT` (ms, as the spec names it), bounded to 1 ms ..= 20 s so the
/// retries stay inside the 30 s `wait_until` allows.
pub fn export_timeout_ms(get: impl Fn(&str) -> Option<String>) -> u32 {
    get("OTEL_EXPORTER_OTLP_TIMEOUT")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|ms| *ms > 0)
        .map_or(DEFAULT_EXPORT_TIMEOUT_MS, |ms| ms.min(20_000))
}

/// Whether an export that ended with `status` is worth another attempt (the OTLP spec's
/// retryable codes); `None` is a connection failure or a timeout.
pub fn retryable(status: Option<u16>) -> bool {
    status.is_none_or(|s| matches!(s, 408 | 429 | 502 | 503 | 504 | 500))
}

/// The pause before retry `attempt` (from 1): 200 ms, then 800 ms.
pub fn retry_pause_ms(attempt: u32) -> u64 {
    200 * 4u64.pow(attempt.saturating_sub(1).min(4))
}

/// What a turn records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capture {
    /// Build the spans (the trace is exported somewhere).
    pub spans: bool,
    /// Include inputs and outputs (prompts, answers, tool arguments and results).
    pub content: bool,
}

/// The kind of backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Langfuse's OTel endpoint, Basic auth.
    Langfuse,
    /// Any OTLP/HTTP endpoint with configured headers.
    Otlp,
}

/// One place traces are sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportTarget {
    /// Backend kind.
    pub kind: TargetKind,
    /// Full traces URL.
    pub endpoint: String,
    /// Headers sent with each export (credentials: never exported, never shown back).
    pub headers: Vec<(String, String)>,
    /// Share of turns exported, 0..=1.
    pub sample_rate: f64,
    /// Whether inputs and outputs are exported.
    pub capture_content: bool,
    /// Whether the operator configured it (their endpoint may be a private collector).
    pub operator: bool,
    /// Credentials in raw form (the Langfuse key pair), removed from exports like header values.
    pub credentials: Vec<String>,
}

/// Why an integration's settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Standard (padded) base64, for Basic auth.
pub fn base64(bytes: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl ExportTarget {
    /// Langfuse at `host` with its key pair.
    pub fn langfuse(host: &str, public_key: &str, secret_key: &str) -> Self {
        let auth = base64(format!("{public_key}:{secret_key}").as_bytes());
        Self {
            kind: TargetKind::Langfuse,
            endpoint: format!("{}{LANGFUSE_OTEL_PATH}", host.trim_end_matches('/')),
            headers: vec![
                ("authorization".into(), format!("Basic {auth}")),
                ("x-langfuse-ingestion-version".into(), "4".into()),
            ],
            sample_rate: 1.0,
            capture_content: true,
            operator: false,
            credentials: vec![public_key.to_owned(), secret_key.to_owned()],
        }
    }

    /// Whether this target takes the trace with `trace_id`.
    pub fn takes(&self, trace_id: &[u8; 16]) -> bool {
        sampled(trace_id, self.sample_rate)
    }

    /// The header values and credentials, which are secrets for the redactor.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .map(|(_, v)| v.as_str())
            .chain(self.credentials.iter().map(String::as_str))
    }

    /// The host the target sends to, for logs (never the path, which may hold a key).
    pub fn host(&self) -> &str {
        let rest = self
            .endpoint
            .split_once("://")
            .map_or(self.endpoint.as_str(), |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        authority.rsplit('@').next().unwrap_or_default()
    }
}

/// Decodes `%XX` escapes (OTEL_EXPORTER_OTLP_HEADERS values are URL-encoded).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `OTEL_EXPORTER_OTLP_HEADERS`: `key=value` pairs separated by commas, values
/// URL-encoded. Malformed pairs are skipped.
pub fn parse_otlp_headers(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            let key = percent_decode(key.trim()).to_ascii_lowercase();
            let value = percent_decode(value.trim());
            valid_header(&key, &value).then_some((key, value))
        })
        .take(MAX_HEADERS)
        .collect()
}

fn valid_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && !value.chars().any(|c| c.is_control())
}

/// The operator's targets from the environment, read through `get`.
pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Vec<ExportTarget> {
    let get = |name: &str| {
        get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let rate = get("OTEL_TRACES_SAMPLER_ARG")
        .and_then(|r| parse_rate(&r))
        .unwrap_or(1.0);
    let content = !matches!(
        get("TRACE_CAPTURE_CONTENT").as_deref(),
        Some("false" | "0" | "off" | "no")
    );
    let mut targets = Vec::new();
    let host = get("LANGFUSE_HOST").or_else(|| get("LANGFUSE_BASE_URL"));
    if let (Some(host), Some(public), Some(secret)) =
        (host, get("LANGFUSE_PUBLIC_KEY"), get("LANGFUSE_SECRET_KEY"))
    {
        targets.push(ExportTarget::langfuse(&host, &public, &secret));
    }
    let endpoint = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
        get("OTEL_EXPORTER_OTLP_ENDPOINT")
            .map(|base| format!("{}{OTLP_TRACES_PATH}", base.trim_end_matches('/')))
    });
    if let Some(endpoint) = endpoint {
        let mut headers =
            parse_otlp_headers(&get("OTEL_EXPORTER_OTLP_HEADERS").unwrap_or_default());
        for (k, v) in
            parse_otlp_headers(&get("OTEL_EXPORTER_OTLP_TRACES_HEADERS").unwrap_or_default())
        {
            headers.retain(|(name, _)| *name != k);
            headers.push((k, v));
        }
        targets.push(ExportTarget {
            kind: TargetKind::Otlp,
            endpoint,
            headers,
            sample_rate: 1.0,
            capture_content: true,
            operator: true,
            credentials: Vec::new(),
        });
    }
    for target in &mut targets {
        target.sample_rate = rate;
        target.capture_content = content;
        target.operator = true;
    }
    targets
}

/// What a turn records given the targets that take its trace: spans when any does, content
/// only when every one of them captures content (the most private setting wins).
pub fn capture_for(targets: &[&ExportTarget]) -> Capture {
    Capture {
        spans: !targets.is_empty(),
        content: !targets.is_empty() && targets.iter().all(|t| t.capture_content),
    }
}

/// The target a stored tenant integration describes, `None` for another integration name or
/// settings that no longer parse.
pub fn target_from_integration(name: &str, public: &Value, secret: &Value) -> Option<ExportTarget> {
    let rate = public
        .get("sampleRate")
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    let content = public
        .get("captureContent")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut target = match name {
        "langfuse" => ExportTarget::langfuse(
            public
                .get("host")
                .and_then(Value::as_str)
                .unwrap_or(LANGFUSE_CLOUD),
            public.get("publicKey")?.as_str()?,
            secret.get("secretKey")?.as_str()?,
        ),
        "otlp" => ExportTarget {
            kind: TargetKind::Otlp,
            endpoint: public.get("endpoint")?.as_str()?.to_owned(),
            headers: secret
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| {
                    h.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
            sample_rate: 1.0,
            capture_content: true,
            operator: false,
            credentials: Vec::new(),
        },
        _ => return None,
    };
    target.sample_rate = rate.clamp(0.0, 1.0);
    target.capture_content = content;
    Some(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> Vec<ExportTarget> {
        from_env(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn langfuse_from_the_names_people_use() {
        assert!(env(&[]).is_empty());
        assert!(env(&[("LANGFUSE_PUBLIC_KEY", "pk-lf-1")]).is_empty());
        let t = env(&[
            ("LANGFUSE_BASE_URL", "https://lf.example/"),
            ("LANGFUSE_PUBLIC_KEY", "pk-lf-1"),
            ("LANGFUSE_SECRET_KEY", "sk-lf-2"),
        ]);
        assert_eq!(
            t[0].endpoint,
            "https://lf.example/api/public/otel/v1/traces"
        );
        assert_eq!(
            t[0].headers[0],
            (
                "authorization".into(),
                format!("Basic {}", base64(b"pk-lf-1:sk-lf-2"))
            )
        );
        assert_eq!(base64(b"pk-lf-1:sk-lf-2"), "cGstbGYtMTpzay1sZi0y");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        // LANGFUSE_HOST wins over LANGFUSE_BASE_URL.
        let t = env(&[
            ("LANGFUSE_HOST", "http://127.0.0.1:3000"),
            ("LANGFUSE_BASE_URL", "https://other"),
            ("LANGFUSE_PUBLIC_KEY", "p"),
            ("LANGFUSE_SECRET_KEY", "s"),
        ]);
        assert_eq!(
            t[0].endpoint,
            "http://127.0.0.1:3000/api/public/otel/v1/traces"
        );
        assert!(t[0].operator);
    }

    #[test]
    fn otlp_endpoint_and_headers_as_the_spec_names_them() {
        let t = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-honeycomb-team=abc%3D%3D, Api-Key = k ,broken",
            ),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("TRACE_CAPTURE_CONTENT", "false"),
        ]);
        assert_eq!(t[0].endpoint, "http://collector:4318/v1/traces");
        assert_eq!(
            t[0].headers,
            vec![
                ("x-honeycomb-team".into(), "abc==".into()),
                ("api-key".into(), "k".into())
            ]
        );
        assert_eq!(t[0].sample_rate, 0.25);
        assert!(!t[0].capture_content);
        let t = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:4318/custom"),
        ]);
        assert_eq!(t[0].endpoint, "http://b:4318/custom");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn the_most_private_target_decides_content() {
        let mut a = ExportTarget::langfuse("https://x", "p", "s");
        let b = a.clone();
        assert_eq!(capture_for(&[]), Capture::default());
        assert_eq!(
            capture_for(&[&a, &b]),
            Capture {
                spans: true,
                content: true
            }
        );
        a.capture_content = false;
        assert_eq!(
            capture_for(&[&a, &b]),
            Capture {
                spans: true,
                content: false
            }
        );
    }

    #[test]
    fn stored_integrations_become_targets() {
        use crate::app::integrations::apply;
        let lf = apply(
            "langfuse",
            json!({"host": "https://lf.example/", "publicKey": "pk-lf-1", "secretKey": "sk-lf-2", "sampleRate": 0.5, "captureContent": false}),
            None,
            "t1",
            1,
        )
        .expect("valid");
        assert!(!lf.settings.to_string().contains("sk-lf-2"));
        let target =
            target_from_integration("langfuse", &lf.settings, &lf.secrets).expect("target");
        assert_eq!(
            target.endpoint,
            "https://lf.example/api/public/otel/v1/traces"
        );
        assert_eq!(
            (target.sample_rate, target.capture_content, target.operator),
            (0.5, false, false)
        );
        // The host defaults to Langfuse Cloud.
        let cloud = apply(
            "langfuse",
            json!({"publicKey": "pk-lf-1", "secretKey": "sk-lf-2"}),
            None,
            "t1",
            1,
        )
        .expect("valid");
        let target =
            target_from_integration("langfuse", &cloud.settings, &cloud.secrets).expect("target");
        assert_eq!(
            target.endpoint,
            "https://cloud.langfuse.com/api/public/otel/v1/traces"
        );
        assert!(apply(
            "langfuse",
            json!({"publicKey": "pk", "secretKey": "sk-lf-2"}),
            None,
            "t1",
            1
        )
        .is_err());
        assert!(apply(
            "langfuse",
            json!({"publicKey": "pk-lf-1", "secretKey": "sk-lf-2", "sampleRate": 2}),
            None,
            "t1",
            1
        )
        .is_err());
        assert!(apply(
            "langfuse",
            json!({"host": "ftp://x", "publicKey": "pk-lf-1", "secretKey": "sk-lf-2"}),
            None,
            "t1",
            1
        )
        .is_err());

        let otlp = apply(
            "otlp",
            json!({"endpoint": "https://api.honeycomb.io/v1/traces", "headers": {"X-Honeycomb-Team": "hc-secret-123"}}),
            None,
            "t1",
            1,
        )
        .expect("valid");
        let shown = crate::app::integrations::view(&otlp).to_string();
        assert!(
            !shown.contains("hc-secret-123") && shown.contains("x-honeycomb-team"),
            "{shown}"
        );
        let target =
            target_from_integration("otlp", &otlp.settings, &otlp.secrets).expect("target");
        assert_eq!(
            target.headers,
            vec![("x-honeycomb-team".into(), "hc-secret-123".into())]
        );
        // A later PUT without headers keeps them; a header sent empty keeps its value.
        let kept = apply("otlp", json!({"sampleRate": 0.1}), Some(&otlp), "t1", 2).expect("valid");
        assert_eq!(kept.secrets, otlp.secrets);
        let renamed = apply(
            "otlp",
            json!({"headers": {"x-honeycomb-team": "", "x-new": "v2"}}),
            Some(&otlp),
            "t1",
            3,
        )
        .expect("valid");
        assert_eq!(
            renamed.secrets,
            json!({"headers": {"x-honeycomb-team": "hc-secret-123", "x-new": "v2"}})
        );
        assert!(apply(
            "otlp",
            json!({"headers": {"x-unknown": ""}}),
            Some(&otlp),
            "t1",
            3
        )
        .is_err());
        for bad in [
            json!({"bad name": "v"}),
            json!({"a": "line\nbreak"}),
            json!(["a"]),
            json!({"a": 1}),
        ] {
            assert!(apply(
                "otlp",
                json!({"endpoint": "https://x", "headers": bad}),
                None,
                "t1",
                1
            )
            .is_err());
        }
        assert!(target_from_integration("twilio", &json!({}), &json!({})).is_none());
    }
}
