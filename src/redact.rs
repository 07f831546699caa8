//! What a server said, kept apart from what mfarole sent it. Every endpoint that gets a secret
//! (STS, the container endpoint, the SSO portal and OIDC, the sign-in service) may answer an
//! error that echoes the request: the signature, a session token, a bearer or refresh token, a
//! client secret, an MFA code. Its message is shown to the user (it often says what is wrong),
//! so it first passes [`shown`] with the request's secrets.
//!
//! Why a window of 8 characters and not the whole secret: an echo is often cut (`abcd1234…`)
//! or wrapped, and 8 random characters of a token do not occur in an honest message by chance.
//! A secret shorter than that (a 6-digit MFA code) cannot be told from other words by a
//! window: it is blanked where it stands alone.

/// The characters of a secret that, found in a row in a message, hide the message.
const WINDOW: usize = 8;

/// `text` fit to show beside `secrets` (the empty ones are ignored): `None` when it quotes
/// [`WINDOW`] characters in a row of a secret that long (the whole message is then withheld,
/// since what is around the quote may be more of it), else the text with each shorter secret
/// blanked (`…`) where it stands alone.
pub fn shown(text: &str, secrets: &[&str]) -> Option<String> {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if secret.len() >= WINDOW {
            if quotes(&out, secret) {
                return None;
            }
        } else {
            out = blank_word(&out, secret);
        }
    }
    Some(out)
}

/// Whether `text` holds [`WINDOW`] bytes of `secret` in a row.
fn quotes(text: &str, secret: &str) -> bool {
    let t = text.as_bytes();
    secret
        .as_bytes()
        .windows(WINDOW)
        .any(|w| t.windows(WINDOW).any(|x| x == w))
}

/// `text` with each occurrence of `word` that stands alone (not inside a longer word) blanked.
fn blank_word(text: &str, word: &str) -> String {
    let alone = |c: Option<char>| !c.is_some_and(|c| c.is_alphanumeric());
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let (before, after) = (&rest[..at], &rest[at + word.len()..]);
        out.push_str(before);
        let standalone = alone(before.chars().next_back()) && alone(after.chars().next());
        out.push_str(if standalone { "…" } else { word });
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_that_quotes_a_long_secret_is_withheld() {
        let token = "Bearer-0123456789abcdef";
        for text in [
            "token Bearer-0123456789abcdef is not valid",
            "token 0123456789ab… is not valid",
            "…cdefghij 89abcdef",
        ] {
            assert_eq!(shown(text, &["", "123456", token]), None, "{text}");
        }
        assert_eq!(
            shown("token 0123456 is short of a window", &[token]).as_deref(),
            Some("token 0123456 is short of a window")
        );
    }

    #[test]
    fn a_short_secret_is_blanked_where_it_stands_alone() {
        assert_eq!(
            shown("code 654321; not 6543210", &["654321"]).as_deref(),
            Some("code …; not 6543210")
        );
        assert_eq!(
            shown("abc wrong, abcd", &["abc"]).as_deref(),
            Some("… wrong, abcd")
        );
        assert_eq!(
            shown("bad token", &["tok", ""]).as_deref(),
            Some("bad token")
        );
    }
}
