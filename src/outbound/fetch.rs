//! Sends a request under the outbound policy: the runtime's own URL parser confirms every hop
//! before it is fetched, and redirects are followed by hand (`redirect: "manual"`), each one
//! checked again, so no hop reaches a host the rules did not see.

use wasm_bindgen::prelude::*;
use worker::{Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

use super::{is_redirect, next_hop, Parsed, Policy, Target};
use crate::http::fetch::Deadline;

#[wasm_bindgen]
extern "C" {
    /// The runtime's WHATWG `URL`: the parser `fetch` itself uses.
    #[wasm_bindgen(js_name = URL)]
    type JsUrl;

    #[wasm_bindgen(catch, constructor, js_class = "URL")]
    fn new(url: &str) -> Result<JsUrl, JsValue>;

    #[wasm_bindgen(catch, constructor, js_class = "URL")]
    fn new_with_base(url: &str, base: &str) -> Result<JsUrl, JsValue>;

    #[wasm_bindgen(method, getter, js_class = "URL")]
    fn href(this: &JsUrl) -> String;
    #[wasm_bindgen(method, getter, js_class = "URL")]
    fn protocol(this: &JsUrl) -> String;
    #[wasm_bindgen(method, getter, js_class = "URL")]
    fn username(this: &JsUrl) -> String;
    #[wasm_bindgen(method, getter, js_class = "URL")]
    fn password(this: &JsUrl) -> String;
    #[wasm_bindgen(method, getter, js_class = "URL")]
    fn hostname(this: &JsUrl) -> String;
    #[wasm_bindgen(method, getter, js_class = "URL")]
    fn port(this: &JsUrl) -> String;
}

/// A request made on a tenant's behalf.
pub struct Outbound<'a> {
    /// Upper-case method.
    pub method: &'a str,
    /// The URL as configured.
    pub url: &'a str,
    /// Headers that may go to any hop (`content-type`).
    pub headers: Vec<(String, String)>,
    /// The tenant's configured headers and our signature: sent only to the first URL's origin.
    pub credentials: Vec<(String, String)>,
    /// Body, for methods that carry one.
    pub body: Option<&'a str>,
    /// Time allowed for the whole exchange, redirects included.
    pub timeout_ms: u32,
}

/// Why an outbound request produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The policy refused a hop; nothing was sent to it.
    #[error("{0}")]
    Refused(String),
    /// The connection failed.
    #[error("Could not reach the endpoint: {0}")]
    Unreachable(String),
    /// The whole exchange took longer than allowed.
    #[error("The endpoint did not answer within {0} ms.")]
    Timeout(u32),
}

fn parse(url: &str, base: Option<&str>) -> Result<Parsed, OutboundError> {
    let parsed = match base {
        None => JsUrl::new(url),
        Some(base) => JsUrl::new_with_base(url, base),
    }
    .map_err(|_| OutboundError::Refused(format!("{url} is not a valid URL")))?;
    Ok(Parsed {
        href: parsed.href(),
        protocol: parsed.protocol(),
        username: parsed.username(),
        password: parsed.password(),
        hostname: parsed.hostname(),
        port: parsed.port(),
    })
}

/// Checks `url` (relative to `base` for a redirect) and confirms it with the runtime's parser;
/// returns the target and the exact href that will be fetched.
fn admit(
    policy: &Policy,
    url: &str,
    base: Option<&str>,
) -> Result<(Target, String), OutboundError> {
    let refused = |e: super::Refused| OutboundError::Refused(e.0);
    // One parse: a redirect's location resolved against the hop that sent it, or the URL as
    // configured. The rules judge the configured text itself (so a spelling the parser would
    // rewrite is refused) or, for a redirect, the absolute href the runtime resolved; the
    // parse then confirms the host they judged is the one that will be reached.
    let parsed = parse(url, base)?;
    let checked = if base.is_some() {
        parsed.href.as_str()
    } else {
        url
    };
    let target = policy.check(checked).map_err(refused)?;
    policy.confirm(&target, &parsed).map_err(refused)?;
    Ok((target, parsed.href))
}

/// The final answer of an exchange.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body as text.
    pub text: String,
    /// The values of the response headers the caller asked for, in the order it named them.
    pub headers: Vec<Option<String>>,
    /// The address that gave it (the last hop of the redirects).
    pub url: String,
}

/// Sends `request`, following at most `MAX_REDIRECTS` checked redirects; the status and text
/// of the final answer.
pub async fn send(policy: &Policy, request: Outbound<'_>) -> Result<(u16, String), OutboundError> {
    let answer = exchange(policy, request, &[]).await?;
    Ok((answer.status, answer.text))
}

/// `send`, also reading the final answer's headers named in `keep` (lower case).
pub async fn exchange(
    policy: &Policy,
    request: Outbound<'_>,
    keep: &[&str],
) -> Result<Answer, OutboundError> {
    let deadline = Deadline::new(request.timeout_ms);
    let signal = deadline.signal();
    let exchange = async {
        let (origin, mut href) = admit(policy, request.url, None)?;
        let mut current = origin.clone();
        let mut method = request.method.to_owned();
        let mut body = request.body;
        let mut credentials = true;
        let mut hops = 0;
        loop {
            let headers = Headers::new();
            let extra: &[(String, String)] = if credentials {
                &request.credentials
            } else {
                &[]
            };
            for (name, value) in request.headers.iter().chain(extra) {
                headers.set(name, value).map_err(|_| {
                    OutboundError::Refused(format!("The header {name} is not valid"))
                })?;
            }
            let mut init = RequestInit::new();
            init.with_method(Method::from(method.clone()))
                .with_headers(headers)
                .with_redirect(RequestRedirect::Manual);
            if let Some(body) = body {
                init.with_body(Some(JsValue::from_str(body)));
            }
            let unreachable = |e: worker::Error| OutboundError::Unreachable(e.to_string());
            let outgoing = Request::new_with_init(&href, &init).map_err(unreachable)?;
            let mut response = Fetch::Request(outgoing)
                .send_with_signal(&signal)
                .await
                .map_err(unreachable)?;
            let status = response.status_code();
            let location = response.headers().get("location").ok().flatten();
            let (true, Some(location)) = (is_redirect(status), location) else {
                let headers = keep
                    .iter()
                    .map(|name| response.headers().get(name).ok().flatten())
                    .collect();
                let text = response.text().await.map_err(unreachable)?;
                return Ok(Answer {
                    status,
                    text,
                    headers,
                    url: href,
                });
            };
            let (next, next_href) = admit(policy, &location, Some(&href))?;
            let hop = next_hop(&origin, &current, &method, status, &next, hops)
                .map_err(|e| OutboundError::Refused(e.0))?;
            method = hop.method;
            body = body.filter(|_| hop.keep_body);
            credentials = hop.keep_credentials;
            current = next;
            href = next_href;
            hops += 1;
        }
    };
    match deadline.run(exchange).await {
        Some(result) => result,
        None => Err(OutboundError::Timeout(request.timeout_ms)),
    }
}
