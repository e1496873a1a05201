//! The C API's words for a remedy. The core's messages name a setting that would fix an
//! error in neutral words ("for a private CA, add it to the trusted CA certificates"); a C
//! host reads, after them, the function that changes that setting. A binding over the C
//! API (the Qt wrapper) reads the plain message and the remedies instead, as `sse_setting`
//! and `sse_remedy`, and adds its own words.

use crate::config::{Remedy, Setting};

/// A setting the host can change to fix what an error reports (`sse_error.remedies`).
///
/// Values are fixed and never reused; later versions append values. A host ignores a
/// setting it does not know: the plain message already says the remedy in words.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sse_setting {
    /// The trusted CA certificates: `sse_config_set_ca_file`.
    SSE_SETTING_CA_FILE = 1,
    /// The client certificate for mutual TLS: `sse_config_set_client_cert`.
    SSE_SETTING_CLIENT_CERT = 2,
    /// The last event ID sent when connecting: `sse_config_set_last_event_id`.
    SSE_SETTING_LAST_EVENT_ID = 3,
    /// Sending a non-GET request again after a failure: `sse_config_set_retry_non_get`.
    SSE_SETTING_RETRY_NON_GET = 4,
}

impl From<Setting> for sse_setting {
    fn from(setting: Setting) -> Self {
        match setting {
            Setting::CaFile => sse_setting::SSE_SETTING_CA_FILE,
            Setting::ClientCert => sse_setting::SSE_SETTING_CLIENT_CERT,
            Setting::LastEventId => sse_setting::SSE_SETTING_LAST_EVENT_ID,
            Setting::RetryNonGet => sse_setting::SSE_SETTING_RETRY_NON_GET,
        }
    }
}

/// Where `sse_error.plain_message` names, in plain words, a setting that would fix the
/// error.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct sse_remedy {
    pub setting: sse_setting,
    /// The byte offset in `plain_message` just after the words that name the setting
    /// (at most its length, on a UTF-8 character boundary): where a binding inserts its
    /// own name for it. `sse_error.message` is the plain message with
    /// " (sse_config_set_...)" inserted there.
    pub at: usize,
}

impl From<Remedy> for sse_remedy {
    fn from(remedy: Remedy) -> Self {
        sse_remedy {
            setting: remedy.setting.into(),
            at: remedy.at,
        }
    }
}

/// The C function that changes `setting`.
fn c_setter(setting: Setting) -> &'static str {
    match setting {
        Setting::CaFile => "sse_config_set_ca_file",
        Setting::ClientCert => "sse_config_set_client_cert",
        Setting::LastEventId => "sse_config_set_last_event_id",
        Setting::RetryNonGet => "sse_config_set_retry_non_get",
    }
}

/// `message` as a C string can hold it (without NUL bytes) and its remedies pointing into
/// that text: in the order of their offsets, each on a character boundary; one that
/// pointed outside the message, or inside a character, at its end. What a host reads as
/// the plain message and the remedies, so that inserting its own words at each `at`
/// gives what `in_c_words` gives with the C function names.
pub(crate) fn plain_text(message: &str, remedies: &[Remedy]) -> (String, Vec<Remedy>) {
    let text: String = message.chars().filter(|&c| c != '\0').collect();
    let mut remedies: Vec<Remedy> = remedies
        .iter()
        .map(|remedy| {
            let at = match message.is_char_boundary(remedy.at) {
                true => remedy.at - message[..remedy.at].matches('\0').count(),
                false => text.len(),
            };
            Remedy { at, ..*remedy }
        })
        .collect();
    remedies.sort_by_key(|r| r.at);
    (text, remedies)
}

/// `message` with each remedy's C function inserted, in parentheses, after the words that
/// name it: "... add it to the trusted CA certificates (sse_config_set_ca_file)". A remedy
/// that points outside the message, or inside a character, goes at its end.
pub(crate) fn in_c_words(message: &str, remedies: &[Remedy]) -> String {
    let mut remedies = remedies.to_vec();
    remedies.sort_by_key(|r| r.at);
    let mut text = String::with_capacity(message.len() + 32 * remedies.len());
    let mut copied = 0;
    for remedy in remedies {
        let at = match message.is_char_boundary(remedy.at) {
            true => remedy.at,
            false => message.len(),
        };
        text.push_str(&message[copied..at]);
        copied = at;
        text.push_str(&format!(" ({})", c_setter(remedy.setting)));
    }
    text.push_str(&message[copied..]);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remedy(setting: Setting, at: usize) -> Remedy {
        Remedy { setting, at }
    }

    #[test]
    fn each_remedy_is_followed_by_its_c_function() {
        let message = "x failed: add a CA; not reconnecting unless retries are allowed";
        let ca = remedy(Setting::CaFile, "x failed: add a CA".len());
        let retry = remedy(Setting::RetryNonGet, message.len());
        let expected = "x failed: add a CA (sse_config_set_ca_file); not reconnecting unless \
                        retries are allowed (sse_config_set_retry_non_get)";
        assert_eq!(in_c_words(message, &[ca, retry]), expected);
        assert_eq!(in_c_words(message, &[retry, ca]), expected, "any order");
    }

    #[test]
    fn a_message_without_remedies_is_unchanged() {
        assert_eq!(in_c_words("broke", &[]), "broke");
    }

    #[test]
    fn a_remedy_outside_the_message_or_inside_a_character_goes_at_its_end() {
        let outside = remedy(Setting::ClientCert, 99);
        assert_eq!(
            in_c_words("é", &[outside]),
            "é (sse_config_set_client_cert)"
        );
        let inside = remedy(Setting::LastEventId, 1);
        assert_eq!(
            in_c_words("é!", &[inside]),
            "é! (sse_config_set_last_event_id)"
        );
    }

    #[test]
    fn the_plain_text_has_its_remedies_sorted_and_inside_it() {
        let message = "add a CA; allow retries";
        let ca = remedy(Setting::CaFile, "add a CA".len());
        let retry = remedy(Setting::RetryNonGet, message.len());
        let (text, remedies) = plain_text(message, &[retry, ca]);
        assert_eq!(text, message);
        assert_eq!(remedies, [ca, retry]);

        let (text, remedies) = plain_text("é!", &[remedy(Setting::LastEventId, 1)]);
        assert_eq!((text.as_str(), remedies[0].at), ("é!", "é!".len()));
        let (_, remedies) = plain_text("é", &[remedy(Setting::ClientCert, 99)]);
        assert_eq!(remedies[0].at, "é".len());
    }

    #[test]
    fn nul_bytes_leave_the_plain_text_and_the_offsets_follow() {
        let message = "a\0b add a CA\0 then";
        let ca = remedy(Setting::CaFile, "a\0b add a CA".len());
        let (text, remedies) = plain_text(message, &[ca]);
        assert_eq!(text, "ab add a CA then");
        assert_eq!(&text[..remedies[0].at], "ab add a CA");
    }

    /// A binding inserting its own words at each `at` of the plain text, from the last,
    /// gets what the C API gives with its function names.
    #[test]
    fn inserting_at_the_plain_offsets_gives_the_c_words() {
        let message = "é\0 add a CA; allow retries";
        let ca = remedy(Setting::CaFile, "é\0 add a CA".len());
        let inside = remedy(Setting::RetryNonGet, 1);
        let (plain, remedies) = plain_text(message, &[inside, ca]);
        let mut by_hand = plain.clone();
        for r in remedies.iter().rev() {
            by_hand.insert_str(r.at, &format!(" ({})", c_setter(r.setting)));
        }
        assert_eq!(by_hand, in_c_words(&plain, &remedies));
        assert!(!by_hand.contains('\0'));
    }

    #[test]
    fn c_setting_values_are_fixed_from_one() {
        let values = [
            Setting::CaFile,
            Setting::ClientCert,
            Setting::LastEventId,
            Setting::RetryNonGet,
        ]
        .map(|s| sse_setting::from(s) as i32);
        assert_eq!(values, [1, 2, 3, 4]);
    }
}
