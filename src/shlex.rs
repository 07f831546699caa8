//! Words split as Python's `shlex.split` splits them (POSIX mode, no comments), which
//! botocore uses for two things mfarole reads: section headers (`[profile 'Foo Bar']` is the
//! profile `Foo Bar`) and `credential_process` command lines. A leaf.
//!
//! The rules (CPython `shlex.shlex` with `posix=True, whitespace_split=True`): whitespace is
//! space, tab, CR and LF; `'...'` is literal; inside `"..."` a backslash escapes only `"` and
//! `\`, else it stays; outside quotes a backslash makes the next character literal (a newline
//! too); quoted parts join the word around them; `''` is an empty word.

/// The words of `text`; `Err` says what is unclosed, as shlex's `ValueError` does.
pub fn split(text: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("has an unclosed ' quote"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("has an unclosed \" quote"),
                        },
                        Some(c) => word.push(c),
                        None => return Err("has an unclosed \" quote"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("ends with a lone backslash"),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each expected value is what `python3 -c 'import shlex; print(shlex.split(S))'` printed.
    #[test]
    fn splits_as_python_shlex() {
        let w = |s: &str| split(s).unwrap();
        assert_eq!(w("pass show aws/jones"), ["pass", "show", "aws/jones"]);
        assert_eq!(w(r#"sh -c 'echo "$X"'"#), ["sh", "-c", r#"echo "$X""#]);
        assert_eq!(w(r#"a "b c" d\ e"#), ["a", "b c", "d e"]);
        assert_eq!(w(r#""a\"b\\c\$d\n""#), [r#"a"b\c\$d\n"#]);
        assert_eq!(w("  a   b  "), ["a", "b"]);
        assert_eq!(w("''"), [""]);
        assert_eq!(w("profile 'Foo Bar'"), ["profile", "Foo Bar"]);
        assert_eq!(w("profile\t\"dev\""), ["profile", "dev"]);
        assert_eq!(w("a\\\nb"), ["a\nb"]);
        assert_eq!(w("x'y'\"z\""), ["xyz"]);
        assert!(w("").is_empty());
        assert!(split("a 'b").is_err());
        assert!(split("a \"b").is_err());
        assert!(split("a \\").is_err());
    }
}
