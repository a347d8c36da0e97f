//! TwiML, the XML Twilio reads as the answer to a webhook: the `<Connect>` to ConversationRelay
//! with the agent's phone settings, a polite refusal, and the `<Dial>` of a handoff.

use crate::agent::phone::PhoneConfig;

/// `Content-Type` of every TwiML answer.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>";
const TAIL: &str = "</Response>";

/// Escapes text for an XML attribute or element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn attribute(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    out.push_str(&escape(value));
    out.push('"');
}

/// `<Connect action><ConversationRelay …><Parameter …/></ConversationRelay></Connect>`: hands
/// the call to the relay at `relay_url` with the agent's settings and `parameters` (which
/// reach the WebSocket as `setup.customParameters`).
pub fn connect(
    action_url: &str,
    relay_url: &str,
    phone: &PhoneConfig,
    parameters: &[(&str, &str)],
) -> String {
    let mut out = String::from(HEAD);
    out.push_str("<Connect");
    attribute(&mut out, "action", action_url);
    out.push_str("><ConversationRelay");
    attribute(&mut out, "url", relay_url);
    if !phone.greeting.trim().is_empty() {
        attribute(&mut out, "welcomeGreeting", phone.greeting.trim());
        attribute(
            &mut out,
            "welcomeGreetingInterruptible",
            &phone.interruptible,
        );
    }
    attribute(&mut out, "language", &phone.language);
    for (name, value) in [
        ("ttsProvider", &phone.tts_provider),
        ("voice", &phone.voice),
        ("transcriptionProvider", &phone.transcription_provider),
        ("speechModel", &phone.speech_model),
    ] {
        if let Some(value) = value.as_deref() {
            attribute(&mut out, name, value);
        }
    }
    attribute(&mut out, "interruptible", &phone.interruptible);
    attribute(
        &mut out,
        "dtmfDetection",
        if phone.dtmf { "true" } else { "false" },
    );
    out.push('>');
    for (name, value) in parameters {
        out.push_str("<Parameter");
        attribute(&mut out, "name", name);
        attribute(&mut out, "value", value);
        out.push_str("/>");
    }
    out.push_str("</ConversationRelay></Connect>");
    out.push_str(TAIL);
    out
}

/// `<Say>` the text in `language`, then `<Hangup/>`.
pub fn say_and_hang_up(text: &str, language: &str) -> String {
    let mut out = String::from(HEAD);
    out.push_str("<Say");
    attribute(&mut out, "language", language);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</Say><Hangup/>");
    out.push_str(TAIL);
    out
}

/// `<Dial>` the handoff number (with the caller id, when set), after a short `<Say>`.
pub fn dial(number: &str, caller_id: Option<&str>, say: &str, language: &str) -> String {
    let mut out = String::from(HEAD);
    if !say.is_empty() {
        out.push_str("<Say");
        attribute(&mut out, "language", language);
        out.push('>');
        out.push_str(&escape(say));
        out.push_str("</Say>");
    }
    out.push_str("<Dial");
    if let Some(caller_id) = caller_id {
        attribute(&mut out, "callerId", caller_id);
    }
    out.push('>');
    out.push_str(&escape(number));
    out.push_str("</Dial>");
    out.push_str(TAIL);
    out
}

/// `<Hangup/>` alone.
pub fn hang_up() -> String {
    format!("{HEAD}<Hangup/>{TAIL}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_carries_settings_and_parameters_escaped() {
        let phone = PhoneConfig {
            greeting: "Hi, this is \"Bob & Co\" <support>".into(),
            voice: Some("en-US-Journey-O".into()),
            tts_provider: Some("Google".into()),
            ..PhoneConfig::default()
        };
        let xml = connect(
            "https://x.test/voice/twilio/a1/ended?x=1&y=2",
            "wss://x.test/voice/twilio/a1/relay",
            &phone,
            &[("token", "v1.a&b")],
        );
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Connect action=\"https://x.test/voice/twilio/a1/ended?x=1&amp;y=2\">"), "{xml}");
        assert!(xml
            .contains("welcomeGreeting=\"Hi, this is &quot;Bob &amp; Co&quot; &lt;support&gt;\""));
        assert!(xml.contains("ttsProvider=\"Google\" voice=\"en-US-Journey-O\""));
        assert!(xml.contains("interruptible=\"any\" dtmfDetection=\"true\">"));
        assert!(xml.contains("<Parameter name=\"token\" value=\"v1.a&amp;b\"/>"));
        assert!(xml.ends_with("</ConversationRelay></Connect></Response>"));
        assert!(!xml.contains("transcriptionProvider"));
    }

    #[test]
    fn refusals_and_dials() {
        assert_eq!(
            say_and_hang_up("Sorry & bye", "en-US"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say language=\"en-US\">Sorry &amp; bye</Say><Hangup/></Response>"
        );
        let xml = dial(
            "+15551234567",
            Some("+15550000000"),
            "Connecting you.",
            "en-US",
        );
        assert!(xml.contains("<Dial callerId=\"+15550000000\">+15551234567</Dial>"));
        assert!(hang_up().contains("<Hangup/>"));
        assert_eq!(escape("a\u{1}b\n"), "ab\n");
    }
}
