//! The INI dialect of `~/.aws/config` and `~/.aws/credentials`, read as botocore reads it:
//! Python's `configparser.RawConfigParser` with its defaults (the reference is
//! `RawConfigParser._read` of the Python that runs the AWS CLI), so that a file that works
//! there works here and one it refuses is refused here, naming the line:
//!
//! - `#` and `;` start comment lines (also indented ones); text after a value is part of it.
//! - A setting is `key = value` or `key: value`, split at the first `=` or `:`; keys are
//!   lowercased; the same key twice in one section, or the same section twice in one file, is
//!   an error (configparser's strict mode).
//! - A line indented deeper than the line that started the current setting continues its
//!   value (joined with a newline); blank lines inside a value are kept, trailing ones
//!   dropped. A value that starts on the next line (`s3 =` then indented `k = v` lines) is a
//!   nested block, each of whose lines must hold `=`.
//! - A header is `[` up to the last `]` of the line, untrimmed; text after it is ignored.
//!   `[DEFAULT]` gives every section of the file its settings as defaults.
//! - Lines end at `\n`, `\r\n` or `\r`.
//!
//! One difference, on purpose: a UTF-8 byte order mark is skipped (botocore refuses such a
//! file; Windows editors write one).

/// One `[section]` with its settings, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The text between the brackets, as written (botocore does not trim it).
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Lowercased key.
    pub key: String,
    /// The value, continuation lines joined with `\n`. A nested block starts with `\n`.
    pub value: String,
    pub line: usize,
}

/// A syntax error at a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// What configparser strips: Python's `str.isspace` (Unicode White_Space and the four
/// information separators U+001C..U+001F).
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn strip(s: &str) -> &str {
    // Most lines are plain ASCII: trim those bytewise, the rest as Python does.
    let ascii = s.trim_ascii();
    match (ascii.chars().next(), ascii.chars().next_back()) {
        (Some(a), Some(z)) if !is_space(a) && !is_space(z) => ascii,
        _ => ascii.trim_matches(is_space),
    }
}

/// Lines as Python's universal newlines split them.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        // A byte search: both are ASCII, and char-by-char pattern search was a fifth of
        // a cached run's instructions.
        let end = rest
            .bytes()
            .position(|b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        let line = &rest[..end];
        let skip = if rest[end..].starts_with("\r\n") {
            2
        } else {
            usize::from(end < rest.len())
        };
        rest = &rest[end + skip..];
        Some(line)
    })
}

/// The state of one file's reading, as configparser keeps it.
struct Reader {
    sections: Vec<Section>,
    /// `[DEFAULT]`'s settings.
    defaults: Vec<Entry>,
    /// Which section the following settings go to: `Some(i)` a section, `None` DEFAULT.
    current: Option<Option<usize>>,
    /// The setting that continuation lines extend: its index in the current section.
    option: Option<usize>,
    /// The indentation of the line that started the current setting or section.
    indent: usize,
}

/// Parses a whole file.
pub fn parse(text: &str) -> Result<Vec<Section>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut r = Reader {
        sections: Vec::new(),
        defaults: Vec::new(),
        current: None,
        option: None,
        indent: 0,
    };
    for (i, raw) in lines(text).enumerate() {
        r.line(raw, i + 1)?;
    }
    r.finish()
}

impl Reader {
    fn entries(&mut self, at: Option<usize>) -> &mut Vec<Entry> {
        match at {
            Some(i) => &mut self.sections[i].entries,
            None => &mut self.defaults,
        }
    }

    fn line(&mut self, raw: &str, line: usize) -> Result<(), SyntaxError> {
        let error = |message: String| Err(SyntaxError { line, message });
        let value = strip(raw);
        if value.starts_with(['#', ';']) {
            return Ok(());
        }
        if value.is_empty() {
            // A blank line inside a value is kept (configparser's empty_lines_in_values).
            if let (Some(at), Some(o)) = (self.current, self.option) {
                self.entries(at)[o].value.push('\n');
            }
            return Ok(());
        }
        let indent = raw.chars().take_while(|&c| is_space(c)).count();
        if let (Some(at), Some(o)) = (self.current, self.option)
            && indent > self.indent
        {
            // Lines are joined with a newline (configparser joins its list of lines last).
            let joined = &mut self.entries(at)[o].value;
            joined.push('\n');
            joined.push_str(value);
            return Ok(());
        }
        self.indent = indent;
        if let Some(name) = header(value) {
            return self.section(name, line);
        }
        let Some(at) = self.current else {
            return error(match value.split_once(['=', ':']) {
                Some((k, _)) => format!("'{}' comes before any [section]", clean_key(strip(k))),
                None => "expected '[section]' or 'key = value'".into(),
            });
        };
        let Some(split) = value.bytes().position(|b| b == b'=' || b == b':') else {
            return error(if value.starts_with('[') {
                "section header has no closing ']'".into()
            } else {
                "expected '[section]' or 'key = value'".into()
            });
        };
        let key = strip(&value[..split]).to_lowercase();
        if key.is_empty() {
            return error("a setting has no name before '=' or ':'".into());
        }
        let section = match at {
            Some(i) => format!("[{}]", crate::error::clean(&self.sections[i].name, 60)),
            None => "[DEFAULT]".into(),
        };
        if self.entries(at).iter().any(|e| e.key == key) {
            return error(format!(
                "{} is set twice in {section}; keep one (the AWS CLI refuses this file too)",
                clean_key(&key)
            ));
        }
        let entries = self.entries(at);
        entries.push(Entry {
            key,
            value: strip(&value[split + 1..]).to_string(),
            line,
        });
        self.option = Some(entries.len() - 1);
        Ok(())
    }

    fn section(&mut self, name: &str, line: usize) -> Result<(), SyntaxError> {
        self.option = None;
        if name == "DEFAULT" {
            self.current = Some(None);
            return Ok(());
        }
        if let Some(first) = self.sections.iter().find(|s| s.name == name) {
            return Err(SyntaxError {
                line,
                message: format!(
                    "[{}] appears again (first at line {}); merge the two (the AWS CLI refuses this file too)",
                    crate::error::clean(name, 60),
                    first.line
                ),
            });
        }
        self.sections.push(Section {
            name: name.to_string(),
            line,
            entries: Vec::new(),
        });
        self.current = Some(Some(self.sections.len() - 1));
        Ok(())
    }

    /// Ends every value, checks nested blocks, and gives each section the `[DEFAULT]`
    /// settings it does not set itself.
    fn finish(mut self) -> Result<Vec<Section>, SyntaxError> {
        let join = |e: &mut Entry| -> Result<(), SyntaxError> {
            // Trailing blank lines go, as configparser's `rstrip` after the join.
            let kept = e.value.trim_end_matches(is_space).len();
            e.value.truncate(kept);
            if e.value.starts_with('\n') && nested(&e.value).is_none() {
                return Err(SyntaxError {
                    line: e.line,
                    message: format!(
                        "the nested settings of {} need 'key = value' on every line",
                        clean_key(&e.key)
                    ),
                });
            }
            Ok(())
        };
        for e in &mut self.defaults {
            join(e)?;
        }
        for section in &mut self.sections {
            for e in &mut section.entries {
                join(e)?;
            }
            for d in &self.defaults {
                if !section.entries.iter().any(|e| e.key == d.key) {
                    section.entries.push(d.clone());
                }
            }
        }
        Ok(self.sections)
    }
}

/// The header of a `[...]` line: from the first `[` to the last `]`, at least one character
/// (configparser's `\[(?P<header>.+)\]`, matched at the start, greedy).
fn header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

/// The settings of a nested block (`s3 =` then `k = v` lines), as botocore's
/// `_parse_nested` reads them; `None` when a line has no `=`.
pub fn nested(value: &str) -> Option<Vec<(String, String)>> {
    value
        .lines()
        .map(strip)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((strip(k).to_string(), strip(v).to_string()))
        })
        .collect()
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
    fn headers_as_configparser_reads_them() {
        assert_eq!(parse("[profile a\n").unwrap_err().line, 1);
        assert_eq!(parse("[a]\n[]\n").unwrap_err().line, 2);
        assert_eq!(parse("[a]\n = v\n").unwrap_err().line, 2);
        // `\[(.+)\]` matched at the start, greedy: text after the last `]` is ignored, and
        // the name is not trimmed.
        assert_eq!(one("[a] junk\n").name, "a");
        assert_eq!(one("[a] b] c\n").name, "a] b");
        assert_eq!(one("[ profile x ]\n").name, " profile x ");
        assert_eq!(one("\n[ ]\n").name, " ");
    }

    #[test]
    fn indentation_as_configparser_reads_it() {
        // Indented settings under an indented header are settings, not continuations.
        let s = one("  [profile ind]\n    role_arn = r\n    source_profile = b\n    region = x\n");
        let keys: Vec<_> = s.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["role_arn", "source_profile", "region"]);
        // Deeper than the setting's own line continues it; comments inside are skipped,
        // blank lines kept inside and dropped at the end.
        let s = one("[a]\n  k = one\n    two\n  # c\n\n    three\n\n  j = x\n");
        assert_eq!(s.entries[0].value, "one\ntwo\n\nthree");
        assert_eq!(s.entries[1].value, "x");
        // `:` is a delimiter too, the first of `=` and `:` wins.
        let s = one("[a]\nsso_start_url: https://x/start\nk = a:b\n");
        assert_eq!(s.entries[0].value, "https://x/start");
        assert_eq!(s.entries[1].value, "a:b");
    }

    #[test]
    fn duplicates_and_default_section() {
        assert!(
            parse("[a]\nk = 1\nK = 2\n")
                .unwrap_err()
                .message
                .contains("set twice")
        );
        assert!(
            parse("[a]\n[b]\n[a]\n")
                .unwrap_err()
                .message
                .contains("appears again")
        );
        let s = parse("[DEFAULT]\nregion = r\n[a]\n[b]\nregion = s\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].entries[0].value, "r");
        assert_eq!(s[1].entries[0].value, "s");
    }

    #[test]
    fn nested_blocks_need_equals() {
        assert!(parse("[a]\ns3 =\n  x = 1\n").is_ok());
        let e = parse("[a]\ns3 =\n  not a setting\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(
            nested("\nx = 1\n y= 2 "),
            Some(vec![("x".into(), "1".into()), ("y".into(), "2".into())])
        );
    }

    #[test]
    fn lone_carriage_returns_end_lines() {
        let s = one("[a]\rk = v\rj = w");
        assert_eq!(s.entries.len(), 2);
    }

    #[test]
    fn crlf_files_parse() {
        let s = one("[a]\r\nk = v\r\n");
        assert_eq!(s.entries[0].value, "v");
    }
}
