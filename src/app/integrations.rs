//! A tenant's integrations: settings for an outside service, one record per name. Each name
//! lists its fields (public or secret, required or not, and how each is checked and masked), so
//! a new integration (`langfuse`, `otlp`) is one more entry in `spec`, with no schema change.
//! Secret fields are never shown back: `GET` answers them masked, and a `PUT` that leaves one
//! out keeps the stored value (the dashboard need not hold secrets to change a public field).

use serde_json::{json, Map, Value};

use super::management::Management;
use crate::error::ApiError;
use crate::store::scoped::ScopedStore;
use crate::store::{Integration, Store};

/// One field of an integration.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Its name in the API (camelCase).
    pub name: &'static str,
    /// Stored with the secrets: never returned, only masked.
    pub secret: bool,
    /// Whether the integration is incomplete without it.
    pub required: bool,
    /// Checks a value, returning what is stored or a sentence for the tenant.
    pub check: fn(&Value) -> Result<Value, String>,
}

/// The fields of the integration called `name`, or `None` for a name the platform does not know.
pub fn spec(name: &str) -> Option<&'static [Field]> {
    match name {
        "twilio" => Some(TWILIO),
        "langfuse" => Some(trace_fields::LANGFUSE),
        "otlp" => Some(trace_fields::OTLP),
        _ => None,
    }
}

const TWILIO: &[Field] = &[
    Field {
        name: "accountSid",
        secret: false,
        required: true,
        check: twilio_account_sid,
    },
    Field {
        name: "authToken",
        secret: true,
        required: true,
        check: twilio_auth_token,
    },
];

fn twilio_account_sid(value: &Value) -> Result<Value, String> {
    let sid = value.as_str().map(str::trim).unwrap_or_default();
    let hex = sid.strip_prefix("AC").unwrap_or_default();
    if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(json!(sid));
    }
    Err("The Account SID is AC followed by 32 hexadecimal characters (Twilio Console, Account Info).".into())
}

fn twilio_auth_token(value: &Value) -> Result<Value, String> {
    let token = value.as_str().map(str::trim).unwrap_or_default();
    if (16..=128).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(json!(token));
    }
    Err(
        "The Auth Token is the 32-character secret next to the Account SID in the Twilio Console."
            .into(),
    )
}

/// The fields of the trace integrations (`observe`): Langfuse's OpenTelemetry endpoint, and any
/// OTLP/HTTP endpoint with its headers, each with its privacy controls.
mod trace_fields {
    use serde_json::{json, Value};

    use super::Field;
    use crate::observe::config::MAX_HEADERS;

    pub const LANGFUSE: &[Field] = &[
        Field {
            name: "host",
            secret: false,
            required: false,
            check: base_url,
        },
        Field {
            name: "publicKey",
            secret: false,
            required: true,
            check: public_key,
        },
        Field {
            name: "secretKey",
            secret: true,
            required: true,
            check: secret_key,
        },
        Field {
            name: "sampleRate",
            secret: false,
            required: false,
            check: sample_rate,
        },
        Field {
            name: "captureContent",
            secret: false,
            required: false,
            check: flag,
        },
    ];

    pub const OTLP: &[Field] = &[
        Field {
            name: "endpoint",
            secret: false,
            required: true,
            check: endpoint,
        },
        Field {
            name: "headers",
            secret: true,
            required: false,
            check: headers,
        },
        Field {
            name: "sampleRate",
            secret: false,
            required: false,
            check: sample_rate,
        },
        Field {
            name: "captureContent",
            secret: false,
            required: false,
            check: flag,
        },
    ];

    fn url(value: &Value, what: &str) -> Result<Value, String> {
        let url = value.as_str().map(str::trim).unwrap_or_default();
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() <= 2048
            && !url.chars().any(|c| c.is_control() || c.is_whitespace());
        if ok {
            Ok(json!(url.trim_end_matches('/')))
        } else {
            Err(format!(
                "{what} must be an https URL (http only for hosts the operator allows)."
            ))
        }
    }

    fn base_url(value: &Value) -> Result<Value, String> {
        url(
            value,
            "The host (https://cloud.langfuse.com, https://us.cloud.langfuse.com or your own)",
        )
    }

    fn endpoint(value: &Value) -> Result<Value, String> {
        url(value, "The endpoint (the full OTLP/HTTP traces URL, such as https://api.honeycomb.io/v1/traces)")
    }

    fn key(value: &Value, prefix: &str, what: &str) -> Result<Value, String> {
        let key = value.as_str().map(str::trim).unwrap_or_default();
        if key.starts_with(prefix) && key.len() <= 200 && key.bytes().all(|b| b.is_ascii_graphic())
        {
            Ok(json!(key))
        } else {
            Err(format!(
                "The {what} starts with {prefix} (Langfuse, project settings, API keys)."
            ))
        }
    }

    fn public_key(value: &Value) -> Result<Value, String> {
        key(value, "pk-lf-", "public key")
    }

    fn secret_key(value: &Value) -> Result<Value, String> {
        key(value, "sk-lf-", "secret key")
    }

    fn sample_rate(value: &Value) -> Result<Value, String> {
        match value.as_f64() {
            Some(rate) if (0.0..=1.0).contains(&rate) => Ok(json!(rate)),
            _ => Err("The sample rate is a number from 0 (no turns) to 1 (every turn).".into()),
        }
    }

    fn flag(value: &Value) -> Result<Value, String> {
        value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| "captureContent is true or false.".into())
    }

    fn headers(value: &Value) -> Result<Value, String> {
        let refuse = || {
            format!("headers is an object of at most {MAX_HEADERS} header names and their values, such as {{\"x-honeycomb-team\": \"…\"}}.")
        };
        let given = value.as_object().ok_or_else(refuse)?;
        if given.len() > MAX_HEADERS {
            return Err(refuse());
        }
        let mut headers = serde_json::Map::new();
        for (name, value) in given {
            let name = name.trim().to_ascii_lowercase();
            let value = value.as_str().ok_or_else(refuse)?;
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !valid_name || value.len() > 4096 || value.chars().any(char::is_control) {
                return Err(format!("The header {name} is not a valid header."));
            }
            headers.insert(name, json!(value));
        }
        Ok(Value::Object(headers))
    }
}

/// What a secret looks like when shown: its last four characters only.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return "••••".into();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("••••{tail}")
}

/// An identifier shown in part: its first two and last four characters.
fn mask_identifier(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 12 {
        return mask(text);
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}••••{tail}")
}

/// The integration a `PUT` body makes of the stored one (`None` when there is none yet):
/// every field is checked, unknown fields are refused, and left-out fields keep their value.
pub fn apply(
    name: &str,
    body: Value,
    stored: Option<&Integration>,
    tenant_id: &str,
    now: i64,
) -> Result<Integration, ApiError> {
    let fields = spec(name).ok_or(ApiError::NotFound("Integration"))?;
    let Value::Object(body) = body else {
        return Err(ApiError::BadRequest(
            "The body must be a JSON object.".into(),
        ));
    };
    if let Some(unknown) = body.keys().find(|k| !fields.iter().any(|f| f.name == *k)) {
        let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
        return Err(ApiError::invalid(
            unknown.clone(),
            format!(
                "The {name} integration has the fields {}.",
                known.join(", ")
            ),
        ));
    }
    let mut settings = Map::new();
    let mut secrets = Map::new();
    for field in fields {
        let kept = stored.and_then(|s| {
            let part = if field.secret {
                &s.secrets
            } else {
                &s.settings
            };
            part.get(field.name).cloned()
        });
        let value = match body.get(field.name) {
            Some(Value::Null) | None => kept,
            Some(given) => {
                let checked = (field.check)(given)
                    .map_err(|message| ApiError::invalid(field.name, message))?;
                Some(keep_blank_secrets(field, checked, kept.as_ref())?)
            }
        };
        match value {
            Some(value) if field.secret => {
                secrets.insert(field.name.to_owned(), value);
            }
            Some(value) => {
                settings.insert(field.name.to_owned(), value);
            }
            None if field.required => {
                return Err(ApiError::invalid(
                    field.name,
                    format!("Send {} to set up the {name} integration.", field.name),
                ))
            }
            None => {}
        }
    }
    Ok(Integration {
        tenant_id: tenant_id.to_owned(),
        name: name.to_owned(),
        settings: Value::Object(settings),
        secrets: Value::Object(secrets),
        updated_at: now,
    })
}

/// In an object of secrets (an OTLP integration's headers), an entry sent empty keeps its
/// stored value: the dashboard, which never sees the values, lists the names only.
fn keep_blank_secrets(
    field: &Field,
    value: Value,
    kept: Option<&Value>,
) -> Result<Value, ApiError> {
    let mut entries = match value {
        Value::Object(entries) if field.secret => entries,
        other => return Ok(other),
    };
    for (name, entry) in entries.iter_mut() {
        if entry.as_str() == Some("") {
            *entry = kept
                .and_then(|k| k.get(name))
                .cloned()
                .ok_or_else(|| ApiError::invalid(field.name, format!("{name} needs a value.")))?;
        }
    }
    Ok(Value::Object(entries))
}

/// What the API shows of an integration: public fields (identifiers masked in part), secret
/// fields masked, never their values.
pub fn view(integration: &Integration) -> Value {
    let mut settings = Map::new();
    if let Value::Object(stored) = &integration.settings {
        for (name, value) in stored {
            let shown = match (name.as_str(), value.as_str()) {
                ("accountSid", Some(sid)) => json!(mask_identifier(sid)),
                _ => value.clone(),
            };
            settings.insert(name.clone(), shown);
        }
    }
    let mut secrets = Map::new();
    if let Value::Object(stored) = &integration.secrets {
        for (name, value) in stored {
            let shown = match value {
                Value::String(secret) => json!(mask(secret)),
                // An object of secrets (an OTLP integration's headers): names shown, values not.
                Value::Object(map) => Value::Object(
                    map.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                json!(v.as_str().map_or_else(|| "••••".to_owned(), mask)),
                            )
                        })
                        .collect(),
                ),
                _ => json!("••••"),
            };
            secrets.insert(name.clone(), shown);
        }
    }
    json!({
        "name": integration.name,
        "settings": settings,
        "secrets": secrets,
        "updatedAt": integration.updated_at,
    })
}

/// A text field of an integration (public or secret).
pub fn text<'a>(integration: &'a Integration, field: &str) -> Option<&'a str> {
    integration
        .settings
        .get(field)
        .or_else(|| integration.secrets.get(field))
        .and_then(Value::as_str)
}

impl<S: Store> Management<'_, S> {
    /// A tenant's integration, as shown (404 when it is not set up or the name is unknown).
    pub async fn integration(&self, tenant_id: &str, name: &str) -> Result<Integration, ApiError> {
        spec(name).ok_or(ApiError::NotFound("Integration"))?;
        self.store
            .tenant_scope(tenant_id)
            .integration(name)
            .await?
            .ok_or(ApiError::NotFound("Integration"))
    }

    /// Creates or changes a tenant's integration from a `PUT` body.
    pub async fn put_integration(
        &self,
        tenant_id: &str,
        name: &str,
        body: Value,
    ) -> Result<Integration, ApiError> {
        spec(name).ok_or(ApiError::NotFound("Integration"))?;
        let scope = self.store.tenant_scope(tenant_id);
        let stored = scope.integration(name).await?;
        let integration = apply(name, body, stored.as_ref(), tenant_id, self.now)?;
        scope.put_integration(&integration).await?;
        Ok(integration)
    }

    /// Removes a tenant's integration (404 when there was none).
    pub async fn delete_integration(&self, tenant_id: &str, name: &str) -> Result<(), ApiError> {
        spec(name).ok_or(ApiError::NotFound("Integration"))?;
        if self
            .store
            .tenant_scope(tenant_id)
            .delete_integration(name)
            .await?
        {
            Ok(())
        } else {
            Err(ApiError::NotFound("Integration"))
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::outbound::Policy;
    use crate::store::memory::MemoryStore;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    struct Fixed;
    impl crate::app::management::Entropy for Fixed {
        fn id(&self, prefix: &str) -> String {
            format!("{prefix}_1")
        }
        fn bytes(&self) -> [u8; 32] {
            [7; 32]
        }
    }

    #[test]
    fn a_first_put_needs_every_required_field_and_refuses_unknown_ones() {
        let missing = apply("twilio", json!({"accountSid": SID}), None, "t1", 1);
        assert!(matches!(missing, Err(ApiError::Invalid { field, .. }) if field == "authToken"));
        let unknown = apply(
            "twilio",
            json!({"accountSid": SID, "authToken": TOKEN, "x": 1}),
            None,
            "t1",
            1,
        );
        assert!(matches!(unknown, Err(ApiError::Invalid { field, .. }) if field == "x"));
        let bad_sid = apply(
            "twilio",
            json!({"accountSid": "AC12", "authToken": TOKEN}),
            None,
            "t1",
            1,
        );
        assert!(matches!(bad_sid, Err(ApiError::Invalid { field, .. }) if field == "accountSid"));
        let bad_token = apply(
            "twilio",
            json!({"accountSid": SID, "authToken": "short"}),
            None,
            "t1",
            1,
        );
        assert!(matches!(bad_token, Err(ApiError::Invalid { field, .. }) if field == "authToken"));
        assert!(matches!(
            apply("nothing", json!({}), None, "t1", 1),
            Err(ApiError::NotFound("Integration"))
        ));
        assert!(matches!(
            apply("twilio", json!([]), None, "t1", 1),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn secrets_are_kept_apart_never_shown_and_kept_when_left_out() {
        let first = apply(
            "twilio",
            json!({"accountSid": SID, "authToken": TOKEN}),
            None,
            "t1",
            1,
        )
        .expect("valid");
        assert_eq!(first.settings, json!({"accountSid": SID}));
        assert_eq!(first.secrets, json!({"authToken": TOKEN}));
        let shown = view(&first).to_string();
        assert!(!shown.contains(TOKEN) && !shown.contains(SID), "{shown}");
        assert!(shown.contains("••••cdef"), "{shown}");
        let other_sid = "ACffffffffffffffffffffffffffffffff";
        let second = apply(
            "twilio",
            json!({"accountSid": other_sid}),
            Some(&first),
            "t1",
            2,
        )
        .expect("keeps the token");
        assert_eq!(second.secrets, json!({"authToken": TOKEN}));
        assert_eq!(text(&second, "accountSid"), Some(other_sid));
        assert_eq!(text(&second, "authToken"), Some(TOKEN));
        assert_eq!(second.updated_at, 2);
    }

    #[test]
    fn integrations_belong_to_one_tenant() {
        let store = MemoryStore::new();
        let ops = Management {
            store: &store,
            entropy: &Fixed,
            outbound: &Policy::default(),
            now: 5,
        };
        let body = json!({"accountSid": SID, "authToken": TOKEN});
        block_on(ops.put_integration("t1", "twilio", body)).expect("saved");
        assert!(block_on(ops.integration("t1", "twilio")).is_ok());
        assert!(matches!(
            block_on(ops.integration("t2", "twilio")),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            block_on(ops.delete_integration("t2", "twilio")),
            Err(ApiError::NotFound(_))
        ));
        block_on(ops.delete_integration("t1", "twilio")).expect("removed");
        assert!(block_on(ops.integration("t1", "twilio")).is_err());
        assert!(matches!(
            block_on(ops.integration("t1", "unknown")),
            Err(ApiError::NotFound(_))
        ));
    }

    #[test]
    fn masks_show_only_a_tail() {
        assert_eq!(mask("short"), "••••");
        assert_eq!(mask(TOKEN), "••••cdef");
        assert_eq!(mask_identifier(SID), "AC••••cdef");
    }
}
