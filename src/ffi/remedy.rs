//! The C API's words for a remedy. The core's messages name a setting that would fix an
//! error in neutral words ("for a private CA, add it to the trusted CA certificates"); a C
//! host reads, after them, the function that changes that setting.

use crate::config::{Remedy, Setting};

/// The C function that changes `setting`.
fn c_setter(setting: Setting) -> &'static str {
    match setting {
        Setting::CaFile => "sse_config_set_ca_file",
        Setting::ClientCert => "sse_config_set_client_cert",
        Setting::LastEventId => "sse_config_set_last_event_id",
        Setting::RetryNonGet => "sse_config_set_retry_non_get",
    }
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
}
