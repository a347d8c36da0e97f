//! Built-in tools. Their pure parts live here; time zone data comes from the runtime's Intl.

use serde_json::{json, Value};

use crate::llm::ToolSpec;

/// A tool that runs inside the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Current date and time in an IANA time zone.
    CurrentTime,
}

impl Builtin {
    /// Every built-in, for listings.
    pub const ALL: [Builtin; 1] = [Builtin::CurrentTime];

    /// Looks a built-in up by name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The name the model sees.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::CurrentTime => "get_current_time",
        }
    }

    /// The tool offer sent to the model.
    pub fn spec(self) -> ToolSpec {
        match self {
            Builtin::CurrentTime => ToolSpec::function(
                self.name(),
                "Get the current date and time. Use it whenever the answer depends on today's date or the time somewhere.",
                json!({
                    "type": "object",
                    "properties": {
                        "timezone": {
                            "type": "string",
                            "description": "IANA time zone name, e.g. Europe/Paris or America/New_York. Defaults to UTC."
                        }
                    }
                }),
            ),
        }
    }
}

/// Reads the `timezone` argument: absent means UTC; only IANA-shaped names pass.
pub fn timezone_argument(input: &Value) -> Result<String, String> {
    let tz = match input.get("timezone") {
        None | Some(Value::Null) => return Ok("UTC".into()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok("UTC".into()),
        Some(Value::String(s)) => s.trim(),
        Some(_) => return Err("timezone must be a string such as Europe/Paris".into()),
    };
    let plausible = tz.len() <= 64
        && tz
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
    if plausible {
        Ok(tz.to_owned())
    } else {
        Err(unknown_timezone(tz))
    }
}

/// The error for a zone the runtime does not know.
pub fn unknown_timezone(tz: &str) -> String {
    format!("Unknown time zone '{tz}'. Use an IANA name such as Europe/Paris or America/New_York.")
}

/// Calendar fields of an instant in a zone, as `Intl.DateTimeFormat#formatToParts` gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalTime {
    /// Four-digit year.
    pub year: String,
    /// Two-digit month.
    pub month: String,
    /// Two-digit day.
    pub day: String,
    /// Two-digit hour, 00-23.
    pub hour: String,
    /// Two-digit minute.
    pub minute: String,
    /// Two-digit second.
    pub second: String,
    /// English weekday name.
    pub weekday: String,
    /// `GMT`, `GMT+01:00`, `GMT-03:30` (Intl's `longOffset`).
    pub offset: String,
}

/// The tool's result for a zone and its local fields.
pub fn current_time_result(timezone: &str, local: &LocalTime) -> Value {
    let offset = utc_offset(&local.offset);
    // Intl may print midnight as 24 with some hour cycles.
    let hour = if local.hour == "24" {
        "00"
    } else {
        local.hour.as_str()
    };
    let date = format!("{}-{}-{}", local.year, local.month, local.day);
    let time = format!("{hour}:{}:{}", local.minute, local.second);
    json!({
        "timezone": timezone,
        "iso": format!("{date}T{time}{offset}"),
        "date": date,
        "time": time,
        "weekday": local.weekday,
        "utcOffset": offset,
    })
}

fn utc_offset(long_offset: &str) -> String {
    let rest = long_offset
        .trim()
        .trim_start_matches("GMT")
        .trim_start_matches("UTC");
    if rest.is_empty() {
        return "+00:00".into();
    }
    let rest = rest.replace('\u{2212}', "-");
    let (sign, digits) = rest.split_at(1);
    let (hours, minutes) = digits.split_once(':').unwrap_or((digits, "00"));
    format!("{sign}{:0>2}:{:0>2}", hours, minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(hour: &str, offset: &str) -> LocalTime {
        LocalTime {
            year: "2026".into(),
            month: "11".into(),
            day: "26".into(),
            hour: hour.into(),
            minute: "05".into(),
            second: "09".into(),
            weekday: "Thursday".into(),
            offset: offset.into(),
        }
    }

    #[test]
    fn formats_iso_with_offsets() {
        assert_eq!(
            current_time_result("Europe/Paris", &local("04", "GMT+01:00"))["iso"],
            "2026-11-26T04:05:09+01:00"
        );
        assert_eq!(
            current_time_result("UTC", &local("24", "GMT"))["iso"],
            "2026-11-26T00:05:09+00:00"
        );
        assert_eq!(
            current_time_result("Asia/Kolkata", &local("08", "GMT+5:30"))["utcOffset"],
            "+05:30"
        );
        assert_eq!(
            current_time_result("America/St_Johns", &local("08", "GMT\u{2212}03:30"))["utcOffset"],
            "-03:30"
        );
    }

    #[test]
    fn timezone_argument_rules() {
        assert_eq!(timezone_argument(&json!({})).as_deref(), Ok("UTC"));
        assert_eq!(
            timezone_argument(&json!({"timezone": " America/New_York "})).as_deref(),
            Ok("America/New_York")
        );
        assert!(timezone_argument(&json!({"timezone": 5})).is_err());
        assert!(timezone_argument(&json!({"timezone": "<script>"})).is_err());
    }

    #[test]
    fn builtin_lookup() {
        assert_eq!(
            Builtin::from_name("get_current_time"),
            Some(Builtin::CurrentTime)
        );
        assert_eq!(Builtin::from_name("nope"), None);
    }
}
