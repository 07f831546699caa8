//! What `mfarole env` and `mfarole completions` print.
//!
//! Shell output is quoted so that `eval "$(mfarole env P)"` can never run anything but the
//! assignments, whatever bytes a value holds. It sets and removes what `exec` sets and removes
//! in the command's environment ([`crate::exec`]), `MFAROLE_PROFILE` and `MFAROLE_NESTING`
//! included, so that a shell that evaluates it is an mfarole environment as a shell started by
//! `exec` is; and it ends with status 0 ([`FAILED`] is what it prints instead when there are no
//! credentials). The `process` format is the documented `credential_process` contract:
//! `Version` 1, the three credentials and an RFC 3339 `Expiration`, which the AWS CLI and SDKs
//! use to know when to call again.

use crate::cli::{Format, Shell};
use crate::creds::Credentials;
use crate::exec::{REMOVED, credential_vars};

/// What the shell formats print on stdout when `env` fails and stdout is not a terminal, so
/// that `eval "$(mfarole env P)" && next` (sh, bash, zsh) and `mfarole env -f fish P | source;
/// and next` (fish, where the pipeline's status is `source`'s) stop as they would with the
/// failed command itself: the error is on stderr and the evaluated text fails.
pub const FAILED: &str = "# mfarole: no credentials (its error is on stderr)\nfalse\n";

/// mfarole's own variables in an environment it made: the profile, and the nesting list.
pub struct Context<'a> {
    pub profile: &'a str,
    pub nesting: &'a str,
}

/// What the evaluating shell's environment gets: the credentials, the region and mfarole's
/// own variables, set; and what `exec` removes from a command's environment, unset (a stale
/// `AWS_PROFILE` or token must not win).
fn shell_vars(
    creds: &Credentials,
    region: Option<&str>,
    context: &Context,
) -> (Vec<(&'static str, String)>, Vec<&'static str>) {
    let mut vars = credential_vars(creds);
    if let Some(r) = region {
        vars.push(("AWS_REGION", r.to_string()));
        vars.push(("AWS_DEFAULT_REGION", r.to_string()));
    }
    vars.push(("MFAROLE_PROFILE", context.profile.to_string()));
    vars.push(("MFAROLE_NESTING", context.nesting.to_string()));
    let unset = REMOVED
        .iter()
        .copied()
        .filter(|name| !vars.iter().any(|(k, _)| k == name))
        .collect();
    (vars, unset)
}

pub fn render(
    format: Format,
    creds: &Credentials,
    region: Option<&str>,
    context: &Context,
) -> String {
    let (vars, unset) = shell_vars(creds, region, context);
    let mut out = String::new();
    match format {
        Format::Sh => {
            out.push_str(&format!("unset {}\n", unset.join(" ")));
            for (k, v) in vars {
                out.push_str(&format!("export {k}={}\n", sh_quote(&v)));
            }
        }
        Format::Fish => {
            for k in unset {
                out.push_str(&format!("set -e {k};\n"));
            }
            for (k, v) in vars {
                out.push_str(&format!("set -gx {k} {};\n", fish_quote(&v)));
            }
            // `set -e` of a variable that is not set fails with 4, and fish's `set` keeps the
            // status it found: without this, a sourced success would end with 4.
            out.push_str("true\n");
        }
        Format::Dotenv => {
            for (k, v) in vars {
                out.push_str(&format!("{k}={}\n", dotenv_quote(&v)));
            }
        }
        Format::Json | Format::Process => out = credentials_json(format, creds, region),
    }
    out
}

/// The `json` and `process` formats: the `credential_process` document (`json` adds the
/// region).
fn credentials_json(format: Format, creds: &Credentials, region: Option<&str>) -> String {
    let mut fields = vec![
        ("AccessKeyId", creds.access_key_id.clone()),
        ("SecretAccessKey", creds.secret_access_key.clone()),
    ];
    if let Some(t) = &creds.session_token {
        fields.push(("SessionToken", t.clone()));
    }
    if let Some(e) = creds.expiration_rfc3339() {
        fields.push(("Expiration", e));
    }
    // The process contract's optional account (botocore's `ProcessProvider`).
    if let Some(a) = &creds.account_id {
        fields.push(("AccountId", a.clone()));
    }
    if format == Format::Json
        && let Some(r) = region
    {
        fields.push(("Region", r.to_string()));
    }
    let mut out = String::from("{\"Version\":1");
    for (k, v) in fields {
        out.push_str(&format!(",\"{k}\":{}", json_string(&v)));
    }
    out.push_str("}\n");
    out
}

/// POSIX single quotes: nothing inside is special but `'`, written as `'\''`.
pub fn sh_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\\''"))
}

/// fish single quotes: `\` and `'` are escaped with a backslash.
fn fish_quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// dotenv: bare when safe, else double quotes with `\` `"` `$` and newlines escaped.
fn dotenv_quote(v: &str) -> String {
    if v.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/+=-_.:".contains(&b))
    {
        return v.to_string();
    }
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '\\' | '"' | '$' | '`' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn json_string(v: &str) -> String {
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Completion scripts. Profile names come from `mfarole list --names` at completion time,
/// so they follow the config as it is then.
pub fn completions(shell: Shell) -> String {
    match shell {
        Shell::Bash => BASH.to_string(),
        Shell::Zsh => ZSH.to_string(),
        Shell::Fish => FISH.to_string(),
    }
}

const BASH: &str = r#"# bash completion for mfarole: eval "$(mfarole completions bash)"
# Profile names are data: each is matched and quoted as it is and never expanded (compgen -W
# would run a $(...) or `...` that a name holds).
_mfarole_profiles() {
    local name quoted
    COMPREPLY=()
    while IFS= read -r name; do
        if [[ "$name" == "$1"* ]]; then
            printf -v quoted '%q' "$name"
            COMPREPLY+=("$quoted")
        fi
    done < <(command mfarole list --names 2>/dev/null)
}
_mfarole() {
    local cur prev words cword i sub="" profile_seen=0
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --)
                # After `--` the words are a command of their own.
                if declare -F _command_offset >/dev/null; then
                    _command_offset $((i + 1))
                else
                    COMPREPLY=($(compgen -c -- "$cur"))
                fi
                return 0 ;;
            -*) ;;
            *) if [[ -z "$sub" ]]; then sub="${COMP_WORDS[i]}"; fi ;;
        esac
    done
    case "$prev" in
        -t|--mfa-token|-d|--duration|-r|--region|-s|--service) return 0 ;;
        --profile) _mfarole_profiles "$cur"; return 0 ;;
        -f|--format) COMPREPLY=($(compgen -W "sh fish dotenv json process" -- "$cur")); return 0 ;;
    esac
    case "$sub" in
        "") COMPREPLY=($(compgen -W "exec env console list clear completions help -h --help -V --version -v --verbose" -- "$cur")) ;;
        exec|env|console|clear|list)
            if [[ "$cur" == -* ]]; then
                # Each command's own flags: those of exec, env and console, then its own.
                local flags="--profile -v --verbose -h --help"
                case "$sub" in
                    exec|env|console) flags+=" -t --mfa-token -d --duration -r --region --no-session --refresh" ;;
                esac
                case "$sub" in
                    exec) flags+=" --server" ;;
                    env) flags+=" -f --format" ;;
                    console) flags+=" -s --service --print --logout-first" ;;
                    list) flags+=" --names --json" ;;
                esac
                COMPREPLY=($(compgen -W "$flags" -- "$cur"))
            else
                _mfarole_profiles "$cur"
            fi ;;
        completions) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
        help) COMPREPLY=($(compgen -W "exec env console list clear completions" -- "$cur")) ;;
    esac
}
complete -o default -F _mfarole mfarole
"#;

const ZSH: &str = r#"#compdef mfarole
# zsh completion for mfarole: eval "$(mfarole completions zsh)" (after compinit)
_mfarole() {
    local -a profiles
    local i
    if (( CURRENT == 2 )); then
        compadd exec env console list clear completions help
        return
    fi
    # After `--` the words are a command of their own: complete them as one.
    for (( i = 3; i < CURRENT; i++ )); do
        if [[ "${words[i]}" == -- ]]; then
            shift $i words
            (( CURRENT -= i ))
            _normal
            return
        fi
    done
    case "${words[2]}" in
        exec|env|console|clear|list)
            # The value of an option is not a profile name.
            case "${words[CURRENT-1]}" in
                -f|--format) compadd sh fish dotenv json process; return ;;
                -t|--mfa-token|-d|--duration|-r|--region|-s|--service) return ;;
            esac
            if [[ "${words[CURRENT]}" == -* ]]; then
                # Each command's own flags: those of exec, env and console, then its own.
                local -a flags
                flags=(--profile -v --verbose -h --help)
                case "${words[2]}" in
                    exec|env|console) flags+=(-t --mfa-token -d --duration -r --region --no-session --refresh) ;;
                esac
                case "${words[2]}" in
                    exec) flags+=(--server) ;;
                    env) flags+=(-f --format) ;;
                    console) flags+=(-s --service --print --logout-first) ;;
                    list) flags+=(--names --json) ;;
                esac
                compadd -- $flags
            else
                # One name a line, taken as data: no word splitting, globbing or expansion,
                # and compadd quotes each when it inserts it.
                profiles=("${(@f)$(command mfarole list --names 2>/dev/null)}")
                compadd -a profiles
            fi ;;
        completions) compadd bash zsh fish ;;
        help) compadd exec env console list clear completions ;;
    esac
}
# Sourced (`source <(mfarole completions zsh)`) it registers itself; autoloaded from $fpath,
# as the .deb installs it, this file is the function's body, so it completes at once.
if [[ ${funcstack[1]} == _mfarole ]]; then _mfarole "$@"; else compdef _mfarole mfarole; fi
"#;

const FISH: &str = r#"# fish completion for mfarole: mfarole completions fish > ~/.config/fish/completions/mfarole.fish
complete -c mfarole -f
complete -c mfarole -n __fish_use_subcommand -a exec -d 'run a command with credentials'
complete -c mfarole -n __fish_use_subcommand -a env -d 'print credentials'
complete -c mfarole -n __fish_use_subcommand -a console -d 'open the AWS console'
complete -c mfarole -n __fish_use_subcommand -a list -d 'list profiles'
complete -c mfarole -n __fish_use_subcommand -a clear -d 'remove cached sessions'
complete -c mfarole -n __fish_use_subcommand -a completions -d 'print a completion script'
complete -c mfarole -n __fish_use_subcommand -a help -d 'print help'
complete -c mfarole -n '__fish_seen_subcommand_from exec env console clear list' -a '(mfarole list --names 2>/dev/null)'
complete -c mfarole -n '__fish_seen_subcommand_from exec env console clear list' -l profile -x -a '(mfarole list --names 2>/dev/null)' -d 'profile'
complete -c mfarole -n '__fish_seen_subcommand_from exec env console' -s t -l mfa-token -r -d 'MFA code'
complete -c mfarole -n '__fish_seen_subcommand_from exec env console' -s d -l duration -r -d 'duration'
complete -c mfarole -n '__fish_seen_subcommand_from exec env console' -s r -l region -r -d 'region'
complete -c mfarole -n '__fish_seen_subcommand_from exec env console' -l no-session -d 'no GetSessionToken'
complete -c mfarole -n '__fish_seen_subcommand_from exec env console' -l refresh -d 'ignore the cache'
complete -c mfarole -n '__fish_seen_subcommand_from exec' -l server -d 'serve renewed credentials'
complete -c mfarole -n '__fish_seen_subcommand_from list' -l names -d 'only the names'
complete -c mfarole -n '__fish_seen_subcommand_from list' -l json -d 'what was read, as JSON'
complete -c mfarole -n '__fish_seen_subcommand_from env' -s f -l format -r -a 'sh fish dotenv json process'
complete -c mfarole -n '__fish_seen_subcommand_from console' -s s -l service -r -d 'service or path'
complete -c mfarole -n '__fish_seen_subcommand_from console' -l print -d 'print the sign-in URL'
complete -c mfarole -n '__fish_seen_subcommand_from console' -l logout-first -d 'log out first'
complete -c mfarole -s v -l verbose -d 'say what happens'
complete -c mfarole -n '__fish_seen_subcommand_from completions' -a 'bash zsh fish'
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "ASIA1".into(),
            secret_access_key: "a'b\"c$d\\e".into(),
            session_token: Some("tok".into()),
            expiration: Some(time::macros::datetime!(2026-11-24 20:00:00.5 UTC)),
            account_id: None,
        }
    }

    const CONTEXT: Context = Context {
        profile: "admin",
        nesting: "outer,admin",
    };

    fn render(format: Format, creds: &Credentials, region: Option<&str>) -> String {
        super::render(format, creds, region, &CONTEXT)
    }

    #[test]
    fn a_known_account_is_in_every_format_and_an_unknown_one_is_unset() {
        let known = Credentials {
            account_id: Some("123456789012".into()),
            ..creds()
        };
        let has = |f, want: &str| {
            let out = render(f, &known, None);
            assert!(out.contains(want), "{out}");
        };
        has(Format::Sh, "export AWS_ACCOUNT_ID='123456789012'\n");
        has(Format::Fish, "set -gx AWS_ACCOUNT_ID '123456789012';\n");
        has(Format::Dotenv, "AWS_ACCOUNT_ID=123456789012\n");
        has(Format::Process, ",\"AccountId\":\"123456789012\"");
        has(Format::Json, ",\"AccountId\":\"123456789012\"");
        let out = render(Format::Sh, &creds(), None);
        assert!(
            out.lines().next().unwrap().contains(" AWS_ACCOUNT_ID "),
            "{out}"
        );
        assert!(!render(Format::Process, &creds(), None).contains("AccountId"));
    }

    #[test]
    fn sh_output_quotes_everything() {
        let out = render(Format::Sh, &creds(), Some("eu-west-1"));
        assert!(
            out.starts_with(
                "unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SECURITY_TOKEN AWS_ACCOUNT_ID AWS_CREDENTIAL_FILE AWS_SDK_LOAD_CONFIG\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("export AWS_SECRET_ACCESS_KEY='a'\\''b\"c$d\\e'\n"),
            "{out}"
        );
        assert!(out.contains("export AWS_CREDENTIAL_EXPIRATION='2026-11-24T20:00:00Z'\n"));
        assert!(out.contains("export AWS_DEFAULT_REGION='eu-west-1'\n"));
        assert!(
            out.ends_with("export MFAROLE_PROFILE='admin'\nexport MFAROLE_NESTING='outer,admin'\n")
        );
    }

    #[test]
    fn shell_formats_set_and_remove_what_exec_does() {
        let base = crate::environ::Environ::from_pairs(
            &REMOVED.iter().map(|k| (*k, "stale")).collect::<Vec<_>>(),
        );
        let child =
            crate::exec::child_env(&base, &creds(), Some("r"), "admin", "outer,admin").over(&base);
        let out = render(Format::Dotenv, &creds(), Some("r"));
        let mut printed: Vec<&str> = out.lines().map(|l| l.split_once('=').unwrap().0).collect();
        let mut expected: Vec<String> = child
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        printed.sort();
        expected.sort();
        assert_eq!(printed, expected);
        let sh = render(Format::Sh, &creds(), Some("r"));
        let fish = render(Format::Fish, &creds(), Some("r"));
        for name in REMOVED {
            let set = expected.iter().any(|k| k == name);
            assert_eq!(sh.contains(&format!("export {name}=")), set, "{name}");
            assert_eq!(!set, sh.lines().next().unwrap().contains(name), "{name}");
            assert_eq!(!set, fish.contains(&format!("set -e {name};")), "{name}");
        }
        assert!(fish.ends_with("true\n"), "{fish}");
    }

    #[test]
    fn fish_and_dotenv_quote() {
        let out = render(Format::Fish, &creds(), None);
        assert!(
            out.contains("set -gx AWS_SECRET_ACCESS_KEY 'a\\'b\"c$d\\\\e';"),
            "{out}"
        );
        let out = render(Format::Dotenv, &creds(), None);
        assert!(out.contains("AWS_ACCESS_KEY_ID=ASIA1\n"));
        assert!(
            out.contains("AWS_SECRET_ACCESS_KEY=\"a'b\\\"c\\$d\\\\e\"\n"),
            "{out}"
        );
    }

    #[test]
    fn process_json_follows_the_contract() {
        let out = render(Format::Process, &creds(), Some("r"));
        assert_eq!(
            out,
            "{\"Version\":1,\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":\"a'b\\\"c$d\\\\e\",\"SessionToken\":\"tok\",\"Expiration\":\"2026-11-24T20:00:00Z\"}\n"
        );
        assert!(render(Format::Json, &creds(), Some("r")).contains("\"Region\":\"r\""));
        let long = Credentials {
            session_token: None,
            expiration: None,
            ..creds()
        };
        let out = render(Format::Process, &long, None);
        assert!(!out.contains("SessionToken") && !out.contains("Expiration"));
        let out = render(Format::Sh, &long, None);
        let unset = out.lines().next().unwrap();
        assert!(
            unset.contains(" AWS_SESSION_TOKEN ") && unset.contains(" AWS_CREDENTIAL_EXPIRATION ")
        );
    }

    #[test]
    fn json_escapes_control_characters() {
        assert_eq!(json_string("a\u{1}b\n"), "\"a\\u0001b\\n\"");
    }
}
