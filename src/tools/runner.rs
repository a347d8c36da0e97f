//! Runs an agent's tools inside the worker: built-ins locally, webhooks over `fetch`.

use serde_json::Value;
use wasm_bindgen::prelude::*;
use worker::{AbortController, Fetch, Headers, Method, Request, RequestInit};

use super::builtin::{
    current_time_result, timezone_argument, unknown_timezone, Builtin, LocalTime,
};
use super::outbound::check_url;
use super::webhook::{build_request, read_response};
use super::{Registry, Tool, ToolRunner};
use crate::agent::{AgentConfig, WebhookTool};
use crate::auth::signature;
use crate::platform::{now_ms, with_timeout};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Intl)]
    type DateTimeFormat;

    #[wasm_bindgen(catch, constructor, js_namespace = Intl)]
    fn new(locale: &str, options: &js_sys::Object) -> Result<DateTimeFormat, JsValue>;

    #[wasm_bindgen(method, js_name = formatToParts)]
    fn format_to_parts(this: &DateTimeFormat, date: &js_sys::Date) -> js_sys::Array;
}

/// The tool runner for one agent.
pub struct WorkerTools<'a> {
    registry: Registry<'a>,
    allowed_hosts: &'a [String],
    signing_secret: Option<&'a str>,
}

impl<'a> WorkerTools<'a> {
    /// Resolves the agent's tools; `allowed_hosts` is the operator's `WEBHOOK_ALLOW_HOSTS`,
    /// `signing_secret` the tenant's webhook signing secret.
    pub fn new(
        config: &'a AgentConfig,
        allowed_hosts: &'a [String],
        signing_secret: Option<&'a str>,
    ) -> Self {
        Self {
            registry: Registry::for_agent(config),
            allowed_hosts,
            signing_secret,
        }
    }

    /// What the model is offered.
    pub fn specs(&self) -> Vec<crate::llm::ToolSpec> {
        self.registry.specs()
    }
}

impl ToolRunner for WorkerTools<'_> {
    async fn call(&self, name: &str, input: &Value) -> Result<Value, String> {
        match self.registry.get(name) {
            None => Err(format!("There is no tool named {name}.")),
            Some(Tool::Builtin(Builtin::CurrentTime)) => current_time(input),
            Some(Tool::Webhook(tool)) => {
                call_webhook(tool, input, self.allowed_hosts, self.signing_secret).await
            }
        }
    }
}

fn current_time(input: &Value) -> Result<Value, String> {
    let tz = timezone_argument(input)?;
    let options = js_sys::Object::new();
    for (key, value) in [
        ("timeZone", tz.as_str()),
        ("hourCycle", "h23"),
        ("year", "numeric"),
        ("month", "2-digit"),
        ("day", "2-digit"),
        ("hour", "2-digit"),
        ("minute", "2-digit"),
        ("second", "2-digit"),
        ("weekday", "long"),
        ("timeZoneName", "longOffset"),
    ] {
        js_sys::Reflect::set(&options, &JsValue::from_str(key), &JsValue::from_str(value))
            .map_err(|_| unknown_timezone(&tz))?;
    }
    let format = DateTimeFormat::new("en-US", &options).map_err(|_| unknown_timezone(&tz))?;
    let mut local = LocalTime::default();
    for part in format.format_to_parts(&js_sys::Date::new_0()).iter() {
        let field = |name: &str| {
            js_sys::Reflect::get(&part, &JsValue::from_str(name))
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default()
        };
        let value = field("value");
        match field("type").as_str() {
            "year" => local.year = value,
            "month" => local.month = value,
            "day" => local.day = value,
            "hour" => local.hour = value,
            "minute" => local.minute = value,
            "second" => local.second = value,
            "weekday" => local.weekday = value,
            "timeZoneName" => local.offset = value,
            _ => {}
        }
    }
    Ok(current_time_result(&tz, &local))
}

async fn call_webhook(
    tool: &WebhookTool,
    input: &Value,
    allowed_hosts: &[String],
    signing_secret: Option<&str>,
) -> Result<Value, String> {
    let call = build_request(tool, input)?;
    check_url(&call.url, allowed_hosts)?;
    let unreachable = |e: worker::Error| format!("Could not reach the tool's endpoint: {e}");
    let headers = Headers::new();
    for (name, value) in &call.headers {
        headers
            .set(name, value)
            .map_err(|_| format!("Tool {} has an invalid header {name}", tool.name))?;
    }
    if let Some(secret) = signing_secret {
        let value = signature::sign(secret, now_ms() / 1000, call.signed_payload());
        headers
            .set(signature::HEADER, &value)
            .map_err(|_| "Could not sign the tool call".to_owned())?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::from(call.method.clone()))
        .with_headers(headers);
    if let Some(body) = &call.body {
        init.with_body(Some(JsValue::from_str(body)));
    }
    let request = Request::new_with_init(&call.url, &init).map_err(unreachable)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async {
        let mut response = Fetch::Request(request).send_with_signal(&signal).await?;
        let status = response.status_code();
        let text = response.text().await?;
        Ok::<_, worker::Error>((status, text))
    };
    match with_timeout(exchange, call.timeout_ms).await {
        None => {
            controller.abort();
            Err(format!(
                "The tool did not answer within {} ms.",
                call.timeout_ms
            ))
        }
        Some(Err(e)) => Err(unreachable(e)),
        Some(Ok((status, text))) => read_response(status, &text),
    }
}
