//! The INI dialect of `~/.aws/config` and `~/.aws/credentials`.
//!
//! It follows what the AWS CLI accepts, so that a file that works there works here: `#` and
//! `;` start comment lines, keys are case-insensitive, a value runs to the end of its line
//! (an inline `#` is part of it, as in the CLI), and indented lines under `key =` are
//! sub-settings (`s3 =` / `  max_concurrent_requests = 10`), which we keep out of the way.
//! A line that is none of these is an error naming its line number, because guessing what
//! a broken credentials file meant is how keys end up used for the wrong account.

/// One `[section]` with its settings, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The text between the brackets, trimmed.
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Lowercased key.
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// A syntax error at a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Parses a whole file. Sub-settings (indented lines) are dropped: none of the keys mfarole
/// reads is nested.
pub fn parse(text: &str) -> Result<Vec<Section>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sections: Vec<Section> = Vec::new();
    // Whether the last key had an empty value, which makes indented lines its sub-settings.
    let mut in_nested = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if indented && in_nested {
            if !trimmed.contains('=') {
                return Err(SyntaxError {
                    line,
                    message: "expected 'key = value' in a nested setting".into(),
                });
            }
            continue;
        }
        // An indented line after a setting with a value continues that value, joined with a
        // newline, as botocore reads it (`credential_process = tool` then `  --flag x`).
        if indented && let Some(entry) = sections.last_mut().and_then(|s| s.entries.last_mut()) {
            entry.value.push('\n');
            entry.value.push_str(trimmed);
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            sections.push(header(rest, line)?);
            in_nested = false;
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(SyntaxError {
                line,
                message: "expected '[section]' or 'key = value'".into(),
            });
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(SyntaxError {
                line,
                message: "a setting has no name before '='".into(),
            });
        }
        let Some(section) = sections.last_mut() else {
            return Err(SyntaxError {
                line,
                message: format!("'{}' comes before any [section]", clean_key(key)),
            });
        };
        let value = value.trim();
        in_nested = value.is_empty();
        section.entries.push(Entry {
            key: key.to_ascii_lowercase(),
            value: value.to_string(),
            line,
        });
    }
    Ok(sections)
}

/// A `[name]` line (`rest` is after the `[`): the name trimmed; a comment may follow.
fn header(rest: &str, line: usize) -> Result<Section, SyntaxError> {
    let error = |message: &str| SyntaxError {
        line,
        message: message.into(),
    };
    let end = rest
        .find(']')
        .ok_or_else(|| error("section header has no closing ']'"))?;
    let after = rest[end + 1..].trim();
    if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
        return Err(error("unexpected text after the section header"));
    }
    let name = rest[..end].trim();
    if name.is_empty() {
        return Err(error("empty section name"));
    }
    Ok(Section {
        name: name.to_string(),
        line,
        entries: Vec::new(),
    })
}

/// Keys are echoed in errors; keep that echo short and printable.
fn clean_key(key: &str) -> String {
    crate::error::clean(key, 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Section {
        let mut s = parse(text).unwrap();
        assert_eq!(s.len(), 1);
        s.remove(0)
    }

    #[test]
    fn keys_are_lowercased_and_values_trimmed() {
        let s = one("[profile a]\nAWS_Access_Key_ID =  AKIA1 \n");
        assert_eq!(s.name, "profile a");
        assert_eq!(s.entries[0].key, "aws_access_key_id");
        assert_eq!(s.entries[0].value, "AKIA1");
        assert_eq!(s.entries[0].line, 2);
    }

    #[test]
    fn comments_blank_lines_and_bom_are_skipped() {
        let s = one("\u{feff}# top\n; semi\n\n[default] # note\n  \nregion=eu-west-1\n");
        assert_eq!(s.name, "default");
        assert_eq!(s.entries.len(), 1);
    }

    #[test]
    fn inline_hash_is_part_of_the_value_like_the_cli() {
        let s = one("[default]\nmfa_process = mfa jones -q # totp\n");
        assert_eq!(s.entries[0].value, "mfa jones -q # totp");
    }

    #[test]
    fn nested_sub_settings_are_tolerated() {
        let s = one(
            "[default]\ns3 =\n  max_concurrent_requests = 10\n\tsignature_version = s3v4\nregion = us-east-1\n",
        );
        let keys: Vec<_> = s.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["s3", "region"]);
    }

    #[test]
    fn value_may_contain_equals_signs() {
        let s = one("[a]\nk = x=y==\n");
        assert_eq!(s.entries[0].value, "x=y==");
    }

    #[test]
    fn garbage_line_names_its_line() {
        let e = parse("[a]\nk = v\nthis is not ini\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("key = value"), "{}", e.message);
    }

    #[test]
    fn key_before_section_is_an_error() {
        let e = parse("region = x\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("before any [section]"));
    }

    #[test]
    fn unclosed_and_empty_headers_are_errors() {
        assert_eq!(parse("[profile a\n").unwrap_err().line, 1);
        assert_eq!(parse("\n[ ]\n").unwrap_err().line, 2);
        assert_eq!(parse("[a] junk\n").unwrap_err().line, 1);
        assert_eq!(parse("[a]\n = v\n").unwrap_err().line, 2);
    }

    #[test]
    fn crlf_files_parse() {
        let s = one("[a]\r\nk = v\r\n");
        assert_eq!(s.entries[0].value, "v");
    }
}
