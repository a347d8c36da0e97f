//! Management bodies read by hand from one parsed `Value` rather than through a derived
//! deserializer per body (each costs the wasm kilobytes): the fields an endpoint knows, each
//! of the type it must have; any other field is refused, so a typo is never silently ignored.

use serde_json::{Map, Value};

/// The fields of one body.
pub struct Fields<'a>(&'a Map<String, Value>);

/// Reads a body type from its fields; the error reads after "The body is not valid JSON for
/// this endpoint: ".
pub trait FromFields: Sized {
    /// The body's field names.
    const KNOWN: &'static [&'static str];
    /// Reads the body.
    fn from_fields(fields: &Fields<'_>) -> Result<Self, String>;
}

impl<'a> Fields<'a> {
    /// The fields of `value`, refusing a field the endpoint does not know.
    pub fn of(value: &'a Value, known: &[&str]) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err("invalid type: expected a JSON object".into());
        };
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            return Err(format!(
                "unknown field `{unknown}`, expected one of {}",
                expected.join(", ")
            ));
        }
        Ok(Self(map))
    }

    /// The field's value unless it is absent or null.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn wrong(name: &str, expected: &str) -> String {
        format!("invalid type for `{name}`: expected {expected}")
    }

    /// A string.
    pub fn text(&self, name: &str) -> Result<Option<String>, String> {
        self.get(name)
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Self::wrong(name, "a string"))
            })
            .transpose()
    }

    /// A number.
    pub fn number(&self, name: &str) -> Result<Option<f64>, String> {
        self.get(name)
            .map(|v| v.as_f64().ok_or_else(|| Self::wrong(name, "a number")))
            .transpose()
    }

    /// A number that may be set to `null`: absent `None`, `null` `Some(None)`.
    pub fn nullable_number(&self, name: &str) -> Result<Option<Option<f64>>, String> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(_) => self.number(name).map(Some),
        }
    }

    /// An integer.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, String> {
        self.get(name)
            .map(|v| v.as_i64().ok_or_else(|| Self::wrong(name, "an integer")))
            .transpose()
    }

    /// A whole number from 0 to 2³²-1.
    pub fn count(&self, name: &str) -> Result<Option<u32>, String> {
        self.get(name)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| Self::wrong(name, "a whole number from 0 to 4294967295"))
            })
            .transpose()
    }

    /// A boolean.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, String> {
        self.get(name)
            .map(|v| v.as_bool().ok_or_else(|| Self::wrong(name, "a boolean")))
            .transpose()
    }

    /// A list of strings.
    pub fn texts(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let wrong = || Self::wrong(name, "a list of strings");
        value
            .as_array()
            .ok_or_else(wrong)?
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(wrong))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Any JSON, as sent (`null` when absent).
    pub fn value(&self, name: &str) -> Value {
        self.0.get(name).cloned().unwrap_or(Value::Null)
    }

    /// A required string.
    pub fn required_text(&self, name: &str) -> Result<String, String> {
        self.text(name)?
            .ok_or_else(|| format!("missing field `{name}`"))
    }
}

/// Lets `read_json` (and tests' `serde_json::from_value`) read these bodies through
/// `FromFields`.
macro_rules! read_by_fields {
    ($($body:ty),*) => {$(
        impl<'de> serde::Deserialize<'de> for $body {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = <Value as serde::Deserialize>::deserialize(d)?;
                let fields = Fields::of(&value, <$body as FromFields>::KNOWN)
                    .map_err(serde::de::Error::custom)?;
                <$body as FromFields>::from_fields(&fields).map_err(serde::de::Error::custom)
            }
        }
    )*};
}
pub(crate) use read_by_fields;

#[cfg(test)]
mod tests {
    use super::super::{NewKey, TenantPatch};
    use serde_json::json;

    fn read<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> Result<T, String> {
        serde_json::from_str(&body.to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused_by_name() {
        let error = read::<NewKey>(json!({"kind": "api", "scope": 1})).expect_err("unknown");
        assert!(
            error.starts_with("unknown field `scope`, expected one of `kind`"),
            "{error}"
        );
        let error = read::<NewKey>(json!({"kind": "api", "perMinute": -1})).expect_err("sign");
        assert!(error.contains("`perMinute`"), "{error}");
        let error = read::<NewKey>(json!({"kind": 3})).expect_err("type");
        assert!(error.contains("`kind`: expected a string"), "{error}");
        let error = read::<NewKey>(json!({})).expect_err("required");
        assert!(error.contains("missing field `kind`"), "{error}");
        assert!(read::<NewKey>(json!([])).is_err());
        let key: NewKey =
            read(json!({"kind": "api", "agentIds": ["a"], "perMinute": 5})).expect("key");
        assert_eq!(
            (
                key.agent_ids,
                key.per_minute,
                key.browser,
                key.name.as_str()
            ),
            (Some(vec!["a".to_owned()]), Some(5), false, "")
        );
    }

    #[test]
    fn a_null_spend_cap_removes_it_and_an_absent_one_keeps_it() {
        let cleared: TenantPatch = read(json!({"monthlySpendCap": null})).expect("patch");
        assert_eq!(cleared.monthly_spend_cap, Some(None));
        let kept: TenantPatch = read(json!({"name": "N"})).expect("patch");
        assert_eq!(kept.monthly_spend_cap, None);
        let set: TenantPatch = read(json!({"monthlySpendCap": 5})).expect("patch");
        assert_eq!(set.monthly_spend_cap, Some(Some(5.0)));
    }
}
