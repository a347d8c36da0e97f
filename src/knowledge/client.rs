//! Knowledge's network glue: the embeddings endpoint (the operator's, like the model) and web
//! pages for ingestion (a tenant's URLs: always through the outbound policy).

use wasm_bindgen::JsValue;
use worker::{Fetch, Headers, Method, Request, RequestInit};

use std::cell::RefCell;

use super::embed::{parse_answer, EmbeddingSettings, QueryMemo};
use super::web::USER_AGENT;
use crate::app::knowledge::{Embedder, FetchError, Fetched, Fetcher, InputKind, Page};
use crate::http::fetch::Deadline;
use crate::outbound::fetch::{exchange, Outbound, OutboundError};
use crate::outbound::Policy;

/// How long one embeddings call may take.
const EMBED_TIMEOUT_MS: u32 = 30_000;
/// How long one page (redirects included) may take, unless `KNOWLEDGE_PAGE_TIMEOUT_MS` says.
pub const PAGE_TIMEOUT_MS: u32 = 20_000;

/// The embeddings settings of this deployment.
pub fn embedding_settings(env: &worker::Env) -> EmbeddingSettings {
    let model = crate::platform::settings(env);
    EmbeddingSettings::from_lookup(
        |name| crate::platform::config_value(env, name),
        &model.base_url,
        model.api_key.as_deref(),
    )
}

thread_local! {
    /// This isolate's query embeddings (`QueryMemo`).
    static QUERIES: RefCell<QueryMemo> = RefCell::new(QueryMemo::default());
}

/// An OpenAI-compatible `/embeddings` endpoint over `fetch`; a search query asked before in
/// this isolate is answered from memory (no request, no tokens).
pub struct HttpEmbedder(pub EmbeddingSettings);

impl Embedder for HttpEmbedder {
    fn enabled(&self) -> bool {
        self.0.enabled()
    }

    async fn embed(
        &self,
        texts: &[String],
        kind: InputKind,
    ) -> Result<(Vec<Vec<f32>>, u64), String> {
        let query = match texts {
            [one] if kind == InputKind::Query => Some(one.as_str()),
            _ => None,
        };
        if let Some(query) = query {
            if let Some(vector) = QUERIES.with(|memo| memo.borrow_mut().get(&self.0, query)) {
                return Ok((vec![vector], 0));
            }
        }
        let (vectors, tokens) = self.fetch(texts, kind).await?;
        if let (Some(query), [vector]) = (query, vectors.as_slice()) {
            QUERIES.with(|memo| memo.borrow_mut().put(&self.0, query, vector.clone()));
        }
        Ok((vectors, tokens))
    }
}

impl HttpEmbedder {
    /// One request to the endpoint.
    async fn fetch(
        &self,
        texts: &[String],
        kind: InputKind,
    ) -> Result<(Vec<Vec<f32>>, u64), String> {
        let failed = |e: worker::Error| format!("Could not reach the embeddings endpoint: {e}");
        let headers = Headers::new();
        headers
            .set("content-type", "application/json")
            .map_err(failed)?;
        if let Some(key) = &self.0.api_key {
            headers
                .set("authorization", &format!("Bearer {key}"))
                .map_err(failed)?;
        }
        let body = self.0.body(texts, kind == InputKind::Query).to_string();
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(JsValue::from_str(&body)));
        let url = format!("{}/embeddings", self.0.base_url);
        let request = Request::new_with_init(&url, &init).map_err(failed)?;
        let deadline = Deadline::new(EMBED_TIMEOUT_MS);
        let signal = deadline.signal();
        let exchange = async {
            let mut response = Fetch::Request(request).send_with_signal(&signal).await?;
            let status = response.status_code();
            Ok::<_, worker::Error>((status, response.text().await?))
        };
        match deadline.run(exchange).await {
            None => Err(format!(
                "The embeddings endpoint did not answer within {EMBED_TIMEOUT_MS} ms."
            )),
            Some(Err(e)) => Err(failed(e)),
            Some(Ok((status, text))) => parse_answer(status, &text, texts.len()),
        }
    }
}

/// Web pages under the outbound policy (https public hosts; the development allowlist aside),
/// each given the time limit (ms) the second field holds.
pub struct WebFetcher<'a>(pub &'a Policy, pub u32);

impl WebFetcher<'_> {
    fn request<'u>(&self, url: &'u str) -> Outbound<'u> {
        Outbound {
            method: "GET",
            url,
            headers: vec![
                (
                    "user-agent".into(),
                    format!("{USER_AGENT}/1.0 (knowledge sync)"),
                ),
                (
                    "accept".into(),
                    "text/html, text/plain, application/xml;q=0.9, */*;q=0.5".into(),
                ),
            ],
            credentials: Vec::new(),
            body: None,
            timeout_ms: self.1,
        }
    }
}

fn fetch_error(e: OutboundError) -> FetchError {
    match e {
        OutboundError::Refused(reason) => FetchError::Refused(reason),
        other => FetchError::Failed(other.to_string()),
    }
}

impl Fetcher for WebFetcher<'_> {
    async fn get(&self, url: &str) -> Fetched {
        let answer = exchange(self.0, self.request(url), &[])
            .await
            .map_err(fetch_error)?;
        Ok((answer.status, answer.text))
    }

    async fn page(&self, url: &str) -> Result<Page, FetchError> {
        let mut answer = exchange(self.0, self.request(url), &["content-type"])
            .await
            .map_err(fetch_error)?;
        Ok(Page {
            status: answer.status,
            content_type: answer.headers.pop().flatten(),
            body: answer.text,
            url: answer.url,
        })
    }
}
