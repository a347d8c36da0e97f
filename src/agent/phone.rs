//! An agent's phone settings (`config.phone`): whether it answers calls, how it sounds, how
//! callers interrupt it, and where a caller who asks for a person is sent.

use serde::{Deserialize, Serialize};

/// Longest call, in seconds, any agent may allow.
pub const MAX_CALL_SECONDS_CEILING: u32 = 4 * 60 * 60;

/// How an agent answers the phone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PhoneConfig {
    /// Whether the agent answers calls at all.
    pub enabled: bool,
    /// What it says when it picks up (spoken by Twilio before the caller speaks).
    pub greeting: String,
    /// BCP-47 language of speech recognition and voice, such as `en-US`.
    pub language: String,
    /// Text-to-speech provider (`Google`, `Amazon`, `ElevenLabs`); Twilio's default when unset.
    pub tts_provider: Option<String>,
    /// The provider's voice name; the provider's default when unset.
    pub voice: Option<String>,
    /// Speech-recognition provider (`Google`, `Deepgram`); Twilio's default when unset.
    pub transcription_provider: Option<String>,
    /// Recognition model of that provider, such as `nova-3-general`.
    pub speech_model: Option<String>,
    /// What may interrupt the agent while it speaks: `any`, `speech`, `dtmf` or `none`.
    pub interruptible: String,
    /// Whether key presses reach the agent.
    pub dtmf: bool,
    /// The key that asks for a person at any time (`0`); none when unset.
    pub human_digit: Option<String>,
    /// Where a caller who asks for a person is transferred (E.164, `+15551234567`); with none,
    /// the agent takes a message instead.
    pub handoff_number: Option<String>,
    /// The caller id shown on the transferred call (a number of the Twilio account).
    pub handoff_caller_id: Option<String>,
    /// When people answer the handoff number; transfers only happen inside these hours.
    pub handoff_hours: Option<Hours>,
    /// What the agent says while a tool runs.
    pub filler: String,
    /// The longest call, in seconds; a spoken goodbye ends it.
    pub max_call_seconds: u32,
}

impl Default for PhoneConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            greeting: "Hello! How can I help you today?".into(),
            language: "en-US".into(),
            tts_provider: None,
            voice: None,
            transcription_provider: None,
            speech_model: None,
            interruptible: "any".into(),
            dtmf: true,
            human_digit: None,
            handoff_number: None,
            handoff_caller_id: None,
            handoff_hours: None,
            filler: "One moment while I check that.".into(),
            max_call_seconds: 600,
        }
    }
}

/// Opening hours of the handoff line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hours {
    /// IANA time zone, such as `Europe/Paris`.
    pub timezone: String,
    /// Days open, 1 (Monday) to 7 (Sunday).
    pub days: Vec<u8>,
    /// Opening time, `HH:MM`.
    pub open: String,
    /// Closing time, `HH:MM` (after `open`).
    pub close: String,
}

impl Hours {
    /// Whether a local weekday (English name, as `Intl` prints it) and `HH:MM` time are inside.
    pub fn contains(&self, weekday: &str, time: &str) -> bool {
        let day = match weekday {
            "Monday" => 1,
            "Tuesday" => 2,
            "Wednesday" => 3,
            "Thursday" => 4,
            "Friday" => 5,
            "Saturday" => 6,
            "Sunday" => 7,
            _ => return false,
        };
        let time = time.get(..5).unwrap_or(time);
        self.days.contains(&day) && self.open.as_str() <= time && time < self.close.as_str()
    }
}

impl PhoneConfig {
    /// Whether a caller can be transferred to a person (a number is set); hours are checked
    /// by the caller, which knows the local time.
    pub fn can_hand_off(&self) -> bool {
        self.handoff_number.is_some()
    }
}

fn is_e164(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or_default();
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_hhmm(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && text[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && text[3..].parse::<u8>().is_ok_and(|m| m < 60)
}

/// A provider or voice name: letters, digits and `-_.:` only (they end up in TwiML attributes).
fn is_name(text: &str) -> bool {
    (1..=100).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Checks the phone settings; `Err((field, message))` names the first wrong field.
pub fn validate(phone: &PhoneConfig) -> Result<(), (&'static str, String)> {
    let fail = |field, message: &str| Err((field, message.to_owned()));
    if phone.greeting.chars().count() > 500 {
        return fail(
            "phone.greeting",
            "The greeting may have at most 500 characters.",
        );
    }
    if !is_name(&phone.language) {
        return fail("phone.language", "The language is a code such as en-US.");
    }
    for (field, value) in [
        ("phone.ttsProvider", &phone.tts_provider),
        ("phone.voice", &phone.voice),
        ("phone.transcriptionProvider", &phone.transcription_provider),
        ("phone.speechModel", &phone.speech_model),
    ] {
        if value.as_deref().is_some_and(|v| !is_name(v)) {
            return fail(
                field,
                "Use the provider's name as Twilio lists it (letters, digits, - _ . :).",
            );
        }
    }
    if !["any", "speech", "dtmf", "none"].contains(&phone.interruptible.as_str()) {
        return fail(
            "phone.interruptible",
            "interruptible is any, speech, dtmf or none.",
        );
    }
    let digit_ok = |d: &str| d.len() == 1 && "0123456789*#".contains(d);
    if phone.human_digit.as_deref().is_some_and(|d| !digit_ok(d)) {
        return fail("phone.humanDigit", "The key is one of 0-9, * or #.");
    }
    for (field, number) in [
        ("phone.handoffNumber", &phone.handoff_number),
        ("phone.handoffCallerId", &phone.handoff_caller_id),
    ] {
        if number.as_deref().is_some_and(|n| !is_e164(n)) {
            return fail(
                field,
                "Write the number in E.164 form, such as +15551234567.",
            );
        }
    }
    if let Some(hours) = &phone.handoff_hours {
        if hours.timezone.is_empty() || !is_name(&hours.timezone.replace('/', "_")) {
            return fail(
                "phone.handoffHours.timezone",
                "Use an IANA time zone such as Europe/Paris.",
            );
        }
        if hours.days.is_empty() || hours.days.iter().any(|d| !(1..=7).contains(d)) {
            return fail(
                "phone.handoffHours.days",
                "Days are 1 (Monday) to 7 (Sunday).",
            );
        }
        if !is_hhmm(&hours.open) || !is_hhmm(&hours.close) || hours.open >= hours.close {
            return fail(
                "phone.handoffHours.open",
                "Opening and closing times are HH:MM, opening first.",
            );
        }
    }
    if phone.filler.chars().count() > 200 {
        return fail(
            "phone.filler",
            "The filler may have at most 200 characters.",
        );
    }
    if !(5..=MAX_CALL_SECONDS_CEILING).contains(&phone.max_call_seconds) {
        return fail(
            "phone.maxCallSeconds",
            "maxCallSeconds must be between 5 and 14400.",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_off() {
        let phone = PhoneConfig::default();
        assert!(!phone.enabled);
        assert_eq!(validate(&phone), Ok(()));
        let parsed: PhoneConfig =
            serde_json::from_str(r#"{"enabled":true,"handoffNumber":"+15551234567"}"#)
                .expect("parses");
        assert!(parsed.enabled && parsed.can_hand_off());
        assert_eq!(parsed.max_call_seconds, 600);
    }

    #[test]
    fn wrong_fields_are_named() {
        let field = |phone: PhoneConfig| validate(&phone).map_err(|(f, _)| f);
        let base = PhoneConfig::default;
        assert_eq!(
            field(PhoneConfig {
                handoff_number: Some("555-1234".into()),
                ..base()
            }),
            Err("phone.handoffNumber")
        );
        assert_eq!(
            field(PhoneConfig {
                voice: Some("a\" onload=\"x".into()),
                ..base()
            }),
            Err("phone.voice")
        );
        assert_eq!(
            field(PhoneConfig {
                interruptible: "sometimes".into(),
                ..base()
            }),
            Err("phone.interruptible")
        );
        assert_eq!(
            field(PhoneConfig {
                human_digit: Some("10".into()),
                ..base()
            }),
            Err("phone.humanDigit")
        );
        assert_eq!(
            field(PhoneConfig {
                max_call_seconds: 4,
                ..base()
            }),
            Err("phone.maxCallSeconds")
        );
        let hours = Hours {
            timezone: "Europe/Paris".into(),
            days: vec![1, 2, 3, 4, 5],
            open: "17:00".into(),
            close: "09:00".into(),
        };
        assert_eq!(
            field(PhoneConfig {
                handoff_hours: Some(hours),
                ..base()
            }),
            Err("phone.handoffHours.open")
        );
    }

    #[test]
    fn hours_contain_open_weekday_times() {
        let hours = Hours {
            timezone: "Europe/Paris".into(),
            days: vec![1, 2, 3, 4, 5],
            open: "09:00".into(),
            close: "17:30".into(),
        };
        assert!(hours.contains("Monday", "09:00:00"));
        assert!(hours.contains("Friday", "17:29"));
        assert!(!hours.contains("Friday", "17:30"));
        assert!(!hours.contains("Saturday", "12:00"));
        assert!(!hours.contains("Mittwoch", "12:00"));
        assert!(!hours.contains("Tuesday", "08:59"));
    }
}
