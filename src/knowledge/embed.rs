//! The OpenAI-compatible `/embeddings` wire: settings, the request body and the answer.

use serde_json::{json, Value};

/// Where embeddings come from (`EMBEDDINGS_*`; base URL and key default to the model's).
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingSettings {
    /// Base URL without a trailing slash (`…/v1`); `/embeddings` is appended.
    pub base_url: String,
    /// Bearer key.
    pub api_key: Option<String>,
    /// The model; embeddings are off without one (retrieval is then lexical only).
    pub model: Option<String>,
    /// `dimensions` to ask for, when the model can shorten its vectors.
    pub dimensions: Option<u32>,
    /// Send `input_type` (`query` / `passage`), for e5-style servers that embed them apart.
    pub input_types: bool,
}

impl EmbeddingSettings {
    /// Reads the settings through `get` (a var or secret by name); `model_base_url` and
    /// `model_key` are the chat model's, the defaults.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        model_base_url: &str,
        model_key: Option<&str>,
    ) -> Self {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            base_url: get("EMBEDDINGS_BASE_URL")
                .unwrap_or_else(|| model_base_url.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            api_key: get("EMBEDDINGS_API_KEY").or_else(|| model_key.map(str::to_owned)),
            model: get("EMBEDDINGS_MODEL"),
            dimensions: get("EMBEDDINGS_DIMENSIONS")
                .and_then(|d| d.parse().ok())
                .filter(|d| *d > 0),
            input_types: get("EMBEDDINGS_INPUT_TYPE").is_some_and(|v| v == "true" || v == "1"),
        }
    }

    /// Whether embeddings are configured.
    pub fn enabled(&self) -> bool {
        self.model.is_some()
    }

    /// The request body for `texts`.
    pub fn body(&self, texts: &[String], query: bool) -> Value {
        let mut body = json!({
            "model": self.model,
            "input": texts,
            "encoding_format": "float",
        });
        if let Some(d) = self.dimensions {
            body["dimensions"] = json!(d);
        }
        if self.input_types {
            body["input_type"] = json!(if query { "query" } else { "passage" });
        }
        body
    }
}

/// Reads an answer: the vectors in input order and the tokens counted; a readable reason for
/// an error answer.
pub fn parse_answer(
    status: u16,
    body: &str,
    expected: usize,
) -> Result<(Vec<Vec<f32>>, u64), String> {
    if !(200..300).contains(&status) {
        let detail = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| body.chars().take(200).collect());
        return Err(format!(
            "The embeddings endpoint answered HTTP {status}: {detail}"
        ));
    }
    // Read as a JSON value (no derived deserializer: smaller wasm).
    let answer: Value = serde_json::from_str(body)
        .map_err(|e| format!("The embeddings endpoint's answer is not JSON: {e}"))?;
    let not_a_list = || "The embeddings endpoint's answer is not an embeddings list.".to_owned();
    let mut items: Vec<(u64, Vec<f32>)> = Vec::new();
    for item in answer["data"].as_array().ok_or_else(not_a_list)? {
        let vector = item["embedding"]
            .as_array()
            .ok_or_else(not_a_list)?
            .iter()
            .map(|x| x.as_f64().map(|f| f as f32))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(not_a_list)?;
        items.push((item["index"].as_u64().unwrap_or(items.len() as u64), vector));
    }
    items.sort_by_key(|(i, _)| *i);
    if items.len() != expected {
        return Err(format!(
            "The embeddings endpoint returned {} vectors for {expected} texts.",
            items.len()
        ));
    }
    let usage = &answer["usage"];
    let tokens = usage["prompt_tokens"]
        .as_u64()
        .filter(|t| *t > 0)
        .or_else(|| usage["total_tokens"].as_u64())
        .unwrap_or(0);
    Ok((items.into_iter().map(|(_, v)| v).collect(), tokens))
}

/// How many query embeddings an isolate remembers (at 1,536 dimensions, about 1.5 MB).
pub const QUERY_MEMO_ENTRIES: usize = 256;

/// The query embeddings an isolate has fetched, newest last: visitors ask the same questions,
/// and a question embedded once needs no second round trip to the endpoint (the largest part
/// of what retrieval adds to a turn) and costs no second time.
#[derive(Debug, Default)]
pub struct QueryMemo {
    /// Which endpoint and model the vectors are of; other settings start afresh.
    of: String,
    entries: Vec<(String, Vec<f32>)>,
}

impl QueryMemo {
    /// The vector remembered for `query` under `settings`, now the most recently used.
    pub fn get(&mut self, settings: &EmbeddingSettings, query: &str) -> Option<Vec<f32>> {
        if self.of != Self::key(settings) {
            return None;
        }
        let at = self.entries.iter().position(|(q, _)| q == query)?;
        let entry = self.entries.remove(at);
        let vector = entry.1.clone();
        self.entries.push(entry);
        Some(vector)
    }

    /// Remembers `vector` for `query`, forgetting the least recently used beyond the limit.
    pub fn put(&mut self, settings: &EmbeddingSettings, query: &str, vector: Vec<f32>) {
        let key = Self::key(settings);
        if self.of != key {
            self.of = key;
            self.entries.clear();
        }
        self.entries.retain(|(q, _)| q != query);
        if self.entries.len() >= QUERY_MEMO_ENTRIES {
            self.entries.remove(0);
        }
        self.entries.push((query.to_owned(), vector));
    }

    fn key(settings: &EmbeddingSettings) -> String {
        format!(
            "{} {} {:?} {}",
            settings.base_url,
            settings.model.as_deref().unwrap_or_default(),
            settings.dimensions,
            settings.input_types
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_memo_keeps_the_most_recent_questions_of_one_model() {
        let settings = EmbeddingSettings {
            base_url: "https://emb.example/v1".into(),
            api_key: None,
            model: Some("e5".into()),
            dimensions: None,
            input_types: true,
        };
        let mut memo = QueryMemo::default();
        assert_eq!(memo.get(&settings, "hours?"), None);
        memo.put(&settings, "hours?", vec![1.0]);
        assert_eq!(memo.get(&settings, "hours?"), Some(vec![1.0]));
        for i in 0..QUERY_MEMO_ENTRIES {
            memo.put(&settings, &format!("q{i}"), vec![i as f32]);
            if i == 0 {
                // Asked again, so q0 is now the least recently used.
                assert!(memo.get(&settings, "hours?").is_some());
            }
        }
        assert_eq!(
            memo.get(&settings, "q0"),
            None,
            "the least recently used went first"
        );
        memo.put(&settings, "one more", vec![0.5]);
        assert_eq!(
            memo.get(&settings, "hours?"),
            None,
            "then the next least recent"
        );
        assert_eq!(memo.get(&settings, "q1"), Some(vec![1.0]));
        let other = EmbeddingSettings {
            model: Some("another".into()),
            ..settings
        };
        assert_eq!(
            memo.get(&other, "q1"),
            None,
            "another model's vectors are not these"
        );
        memo.put(&other, "q1", vec![9.0]);
        assert_eq!(memo.get(&other, "q1"), Some(vec![9.0]));
    }

    #[test]
    fn settings_default_to_the_model_endpoint_and_are_off_without_a_model() {
        let none =
            EmbeddingSettings::from_lookup(|_| None, "https://openrouter.ai/api/v1", Some("k"));
        assert!(!none.enabled());
        assert_eq!(none.api_key.as_deref(), Some("k"));
        let set = EmbeddingSettings::from_lookup(
            |n| match n {
                "EMBEDDINGS_BASE_URL" => Some("http://127.0.0.1:9/v1/".into()),
                "EMBEDDINGS_MODEL" => Some("e5".into()),
                "EMBEDDINGS_DIMENSIONS" => Some("384".into()),
                "EMBEDDINGS_INPUT_TYPE" => Some("true".into()),
                _ => None,
            },
            "https://openrouter.ai/api/v1",
            None,
        );
        assert_eq!(set.base_url, "http://127.0.0.1:9/v1");
        assert!(set.enabled());
        let body = set.body(&["a".into()], true);
        assert_eq!(body["dimensions"], 384);
        assert_eq!(body["input_type"], "query");
        assert_eq!(body["encoding_format"], "float");
    }

    #[test]
    fn answers_are_put_in_input_order_and_errors_are_readable() {
        let body = r#"{"data":[{"embedding":[2.0],"index":1},{"embedding":[1.0],"index":0}],"usage":{"prompt_tokens":7}}"#;
        assert_eq!(
            parse_answer(200, body, 2),
            Ok((vec![vec![1.0], vec![2.0]], 7))
        );
        assert!(parse_answer(200, body, 3).is_err());
        assert_eq!(
            parse_answer(401, r#"{"error":{"message":"bad key"}}"#, 1),
            Err("The embeddings endpoint answered HTTP 401: bad key".into())
        );
        assert!(parse_answer(200, "<html>", 1).is_err());
    }
}
