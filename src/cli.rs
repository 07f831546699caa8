//! The command line: syntax only, no I/O. `-h` and `-V` come back as commands of their own,
//! so that they answer before anything can fail.
//!
//! Everything after `exec PROFILE`'s COMMAND is handed to the child untouched, through
//! `lexopt`'s `raw_args`: `mfarole exec p -- terraform plan -out x` never parses `-out`.

use std::ffi::OsString;

use lexopt::prelude::*;

use crate::error::{Error, Result};
use crate::units::parse_duration;

/// Options shared by `exec` and `env`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub mfa_token: Option<String>,
    pub duration: Option<u32>,
    pub region: Option<String>,
    pub no_session: bool,
    pub refresh: bool,
    pub verbose: bool,
    /// `exec --server`: stay as the parent and serve refreshing credentials to COMMAND.
    pub server: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Sh,
    Fish,
    Dotenv,
    Json,
    Process,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// A profile named on the command line: `PROFILE`, or `--profile PROFILE` as the AWS CLI
/// takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    /// Given as `--profile NAME` rather than as the positional PROFILE.
    pub flag: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Exec {
        opts: Options,
        /// `None`: `AWS_DEFAULT_PROFILE` or `AWS_PROFILE` (the settings stage decides).
        profile: Option<Named>,
        /// `None`: start the user's shell.
        program: Option<OsString>,
        args: Vec<OsString>,
    },
    Env {
        opts: Options,
        /// `None`: as for `Exec`.
        profile: Option<Named>,
        format: Format,
    },
    List {
        verbose: bool,
        /// One profile's chain and sessions, in detail.
        profile: Option<String>,
        /// Only the names, one a line (for completion scripts).
        names: bool,
        /// What mfarole read, as JSON (for scripts and the differential test).
        json: bool,
    },
    Clear {
        profile: Option<String>,
        verbose: bool,
    },
    /// `console`: the AWS console signed in as PROFILE.
    Console {
        opts: Options,
        /// `None`: as for `Exec`.
        profile: Option<Named>,
        console: ConsoleArgs,
    },
    Completions(Shell),
    /// Help for the program, or for one subcommand.
    Help(Option<&'static str>),
    Version,
}

pub const SUBCOMMANDS: &[&str] = &[
    "exec",
    "env",
    "console",
    "list",
    "clear",
    "completions",
    "help",
];

pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command> {
    let mut p = lexopt::Parser::from_iter(std::iter::once(OsString::from("mfarole")).chain(args));
    let mut verbose = false;
    loop {
        match p.next().map_err(usage)? {
            Some(Short('h') | Long("help")) => return Ok(Command::Help(None)),
            Some(Short('V') | Long("version")) => return Ok(Command::Version),
            Some(Short('v') | Long("verbose")) => verbose = true,
            Some(Value(v)) => {
                let sub = v.string().map_err(usage)?;
                return match sub.as_str() {
                    "exec" => parse_exec(&mut p, verbose).map_err(|e| e.for_command("exec")),
                    "env" => parse_env(&mut p, verbose).map_err(|e| e.for_command("env")),
                    "console" => {
                        parse_console(&mut p, verbose).map_err(|e| e.for_command("console"))
                    }
                    "list" | "ls" => parse_list(&mut p, verbose).map_err(|e| e.for_command("list")),
                    "clear" => parse_clear(&mut p, verbose).map_err(|e| e.for_command("clear")),
                    "completions" => {
                        parse_completions(&mut p).map_err(|e| e.for_command("completions"))
                    }
                    "help" => parse_help(&mut p),
                    other => Err(Error::Usage(format!(
                        "unknown command '{}'; commands: {}{}",
                        crate::error::clean(other, 40),
                        SUBCOMMANDS.join(", "),
                        match other {
                            // aws-vault's and granted's names for opening the console.
                            "login" | "open" =>
                                " (the AWS console as a profile: mfarole console PROFILE; the AWS CLI's 'aws login' session is read by exec itself)",
                            _ => "",
                        }
                    ))),
                };
            }
            Some(arg) => return Err(usage(arg.unexpected())),
            None => {
                return Err(Error::Usage(
                    "missing command; try 'mfarole exec PROFILE -- COMMAND'".into(),
                ));
            }
        }
    }
}

fn os_string(v: OsString) -> Result<String> {
    v.into_string()
        .map_err(|v| Error::Usage(format!("'{}' is not valid UTF-8", v.to_string_lossy())))
}

fn usage(e: lexopt::Error) -> Error {
    Error::Usage(crate::error::clean(&e.to_string(), 200))
}

/// An argument that no longer borrows the parser, so that the parser can take its value.
enum Owned {
    Short(char),
    Long(String),
    Value(OsString),
}

impl Owned {
    fn from(arg: lexopt::Arg) -> Owned {
        match arg {
            Short(c) => Owned::Short(c),
            Long(l) => Owned::Long(l.to_string()),
            Value(v) => Owned::Value(v),
        }
    }

    fn unexpected(&self) -> Error {
        match self {
            Owned::Short(c) => Error::Usage(format!("unknown option '-{c}'")),
            Owned::Long(l) => {
                Error::Usage(format!("unknown option '--{}'", crate::error::clean(l, 40)))
            }
            Owned::Value(v) => Error::Usage(format!(
                "unexpected argument '{}'",
                crate::error::clean(&v.to_string_lossy(), 40)
            )),
        }
    }

    fn is_long(&self, long: &str) -> bool {
        matches!(self, Owned::Long(l) if l == long)
    }

    fn is(&self, short: char, long: &str) -> bool {
        match self {
            Owned::Short(c) => *c == short,
            Owned::Long(l) => l == long,
            Owned::Value(_) => false,
        }
    }
}

/// Applies one of the shared options. `Ok(false)`: not one of them.
fn shared_option(p: &mut lexopt::Parser, arg: &Owned, opts: &mut Options) -> Result<bool> {
    let long = match arg {
        Owned::Short('t') => "mfa-token",
        Owned::Short('d') => "duration",
        Owned::Short('r') => "region",
        Owned::Short('v') => "verbose",
        Owned::Long(l) => l.as_str(),
        _ => return Ok(false),
    };
    match long {
        "mfa-token" => opts.mfa_token = Some(p.value().map_err(usage)?.string().map_err(usage)?),
        "duration" => {
            let text = p.value().map_err(usage)?.string().map_err(usage)?;
            opts.duration = Some(parse_duration(&text).ok_or_else(|| {
                Error::Usage(format!(
                    "--duration {} is not a duration like 3600, 45m, 1h or 12h",
                    crate::error::clean(&text, 20)
                ))
            })?);
        }
        "region" => opts.region = Some(p.value().map_err(usage)?.string().map_err(usage)?),
        "no-session" => opts.no_session = true,
        "refresh" => opts.refresh = true,
        "verbose" => opts.verbose = true,
        _ => return Ok(false),
    }
    Ok(true)
}

/// `--profile NAME`, or the positional PROFILE (`value`), into `profile`: once only.
fn name_profile(profile: &mut Option<Named>, name: String, flag: bool) -> Result<()> {
    if let Some(first) = profile {
        let show = |n: &Named| {
            let name = crate::error::clean(&n.name, 40);
            if n.flag {
                format!("--profile '{name}'")
            } else {
                format!("'{name}'")
            }
        };
        return Err(Error::Usage(format!(
            "the profile is named twice ({} and {}); name it once",
            show(first),
            show(&Named { name, flag })
        )));
    }
    *profile = Some(Named { name, flag });
    Ok(())
}

/// `--profile NAME`'s value.
fn profile_value(p: &mut lexopt::Parser) -> Result<String> {
    os_string(p.value().map_err(usage)?)
}

fn parse_exec(p: &mut lexopt::Parser, verbose: bool) -> Result<Command> {
    let mut opts = Options {
        verbose,
        ..Options::default()
    };
    let mut profile = None;
    loop {
        // `--` ends mfarole's options and starts COMMAND; without a PROFILE before it, the
        // profile comes from AWS_PROFILE. What follows is the command's, untouched.
        if let Some(mut raw) = p.try_raw_args()
            && raw.peek().is_some_and(|a| a == "--")
        {
            raw.next();
            let program = raw.next();
            return Ok(Command::Exec {
                opts,
                profile,
                program,
                args: raw.collect(),
            });
        }
        let Some(arg) = p.next().map_err(usage)?.map(Owned::from) else {
            break;
        };
        if arg.is('h', "help") {
            return Ok(Command::Help(Some("exec")));
        }
        if shared_option(p, &arg, &mut opts)? {
            continue;
        }
        if arg.is_long("server") {
            opts.server = true;
            continue;
        }
        if arg.is_long("profile") {
            name_profile(&mut profile, profile_value(p)?, true)?;
            continue;
        }
        match arg {
            Owned::Value(v) if profile.is_none() => {
                name_profile(&mut profile, os_string(v)?, false)?;
            }
            Owned::Value(program) => {
                let args = p.raw_args().map_err(usage)?.collect();
                return Ok(Command::Exec {
                    opts,
                    profile,
                    program: Some(program),
                    args,
                });
            }
            other => return Err(other.unexpected()),
        }
    }
    Ok(Command::Exec {
        opts,
        profile,
        program: None,
        args: Vec::new(),
    })
}

fn parse_env(p: &mut lexopt::Parser, verbose: bool) -> Result<Command> {
    let mut opts = Options {
        verbose,
        ..Options::default()
    };
    let mut profile = None;
    let mut format = Format::Sh;
    while let Some(arg) = p.next().map_err(usage)?.map(Owned::from) {
        if arg.is('h', "help") {
            return Ok(Command::Help(Some("env")));
        }
        if shared_option(p, &arg, &mut opts)? {
            continue;
        }
        match arg {
            ref f if f.is('f', "format") => {
                let text = p.value().map_err(usage)?.string().map_err(usage)?;
                format = match text.as_str() {
                    "sh" | "bash" | "zsh" => Format::Sh,
                    "fish" => Format::Fish,
                    "dotenv" => Format::Dotenv,
                    "json" => Format::Json,
                    "process" => Format::Process,
                    other => {
                        return Err(Error::Usage(format!(
                            "--format {} is not one of sh, fish, dotenv, json, process",
                            crate::error::clean(other, 20)
                        )));
                    }
                };
            }
            ref f if f.is_long("profile") => {
                name_profile(&mut profile, profile_value(p)?, true)?;
            }
            Owned::Value(v) if profile.as_ref().is_none_or(|n| n.flag) => {
                name_profile(&mut profile, os_string(v)?, false)?;
            }
            Owned::Value(v) => {
                return Err(Error::Usage(format!(
                    "env takes one PROFILE; unexpected '{}'",
                    crate::error::clean(&v.to_string_lossy(), 40)
                )));
            }
            other => return Err(other.unexpected()),
        }
    }
    Ok(Command::Env {
        opts,
        profile,
        format,
    })
}

fn parse_console(p: &mut lexopt::Parser, verbose: bool) -> Result<Command> {
    let mut opts = Options {
        verbose,
        ..Options::default()
    };
    let mut profile = None;
    let mut console = ConsoleArgs::default();
    while let Some(arg) = p.next().map_err(usage)?.map(Owned::from) {
        if arg.is('h', "help") {
            return Ok(Command::Help(Some("console")));
        }
        if shared_option(p, &arg, &mut opts)? {
            continue;
        }
        match arg {
            ref a if a.is('s', "service") => console.service = Some(profile_value(p)?),
            ref a if a.is_long("print") => console.print = true,
            ref a if a.is_long("logout-first") => console.logout_first = true,
            ref a if a.is_long("profile") => {
                name_profile(&mut profile, profile_value(p)?, true)?;
            }
            Owned::Value(v) if profile.as_ref().is_none_or(|n| n.flag) => {
                name_profile(&mut profile, os_string(v)?, false)?;
            }
            Owned::Value(v) => {
                return Err(Error::Usage(format!(
                    "console takes one PROFILE; unexpected '{}'",
                    crate::error::clean(&v.to_string_lossy(), 40)
                )));
            }
            other => return Err(other.unexpected()),
        }
    }
    Ok(Command::Console {
        opts,
        profile,
        console,
    })
}

fn parse_list(p: &mut lexopt::Parser, mut verbose: bool) -> Result<Command> {
    let (mut names, mut json, mut named) = (false, false, None);
    while let Some(arg) = p.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(Some("list"))),
            Short('v') | Long("verbose") => verbose = true,
            Long("names") => names = true,
            Long("json") => json = true,
            Long("profile") => name_profile(&mut named, profile_value(p)?, true)?,
            Value(v) if named.as_ref().is_none_or(|n| n.flag) => {
                name_profile(&mut named, os_string(v)?, false)?;
            }
            other => return Err(usage(other.unexpected())),
        }
    }
    if [names, json, named.is_some()]
        .iter()
        .filter(|b| **b)
        .count()
        > 1
    {
        return Err(Error::Usage(
            "list takes one of PROFILE, --names and --json".into(),
        ));
    }
    Ok(Command::List {
        verbose,
        profile: named.map(|n| n.name),
        names,
        json,
    })
}

fn parse_clear(p: &mut lexopt::Parser, mut verbose: bool) -> Result<Command> {
    let mut named = None;
    while let Some(arg) = p.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(Some("clear"))),
            Short('v') | Long("verbose") => verbose = true,
            Long("profile") => {
                name_profile(&mut named, profile_value(p)?, true)?;
            }
            Value(v) if named.as_ref().is_none_or(|n| n.flag) => {
                name_profile(&mut named, os_string(v)?, false)?;
            }
            other => return Err(usage(other.unexpected())),
        }
    }
    // No default from AWS_PROFILE: `clear` without a profile clears everything.
    let profile = named.map(|n| n.name);
    Ok(Command::Clear { profile, verbose })
}

fn parse_completions(p: &mut lexopt::Parser) -> Result<Command> {
    let mut shell = None;
    while let Some(arg) = p.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(Some("completions"))),
            Value(v) if shell.is_none() => {
                shell = Some(match v.to_str() {
                    Some("bash") => Shell::Bash,
                    Some("zsh") => Shell::Zsh,
                    Some("fish") => Shell::Fish,
                    _ => {
                        return Err(Error::Usage(format!(
                            "completions for '{}' are not available; choose bash, zsh or fish",
                            crate::error::clean(&v.to_string_lossy(), 20)
                        )));
                    }
                })
            }
            other => return Err(usage(other.unexpected())),
        }
    }
    shell
        .map(Command::Completions)
        .ok_or_else(|| Error::Usage("completions needs a SHELL: bash, zsh or fish".into()))
}

fn parse_help(p: &mut lexopt::Parser) -> Result<Command> {
    let Some(arg) = p.next().map_err(usage)? else {
        return Ok(Command::Help(None));
    };
    let Value(v) = arg else {
        return Err(usage(arg.unexpected()));
    };
    let name = v.to_string_lossy();
    let found = SUBCOMMANDS.iter().find(|s| **s == name).copied();
    match found {
        Some(s) => Ok(Command::Help(Some(s))),
        None => Err(Error::Usage(format!(
            "no help for '{}'; commands: {}",
            crate::error::clean(&name, 40),
            SUBCOMMANDS.join(", ")
        ))),
    }
}

/// The help text, for the program or a subcommand. The README and the man page say the same,
/// and a test checks that every option named here appears in both.
pub fn help(sub: Option<&str>) -> String {
    render(match sub {
        None => HELP,
        Some("exec") => EXEC_HELP,
        Some("env") => ENV_HELP,
        Some("console") => CONSOLE_HELP,
        Some("list") => LIST_HELP,
        Some("clear") => CLEAR_HELP,
        Some("completions") => COMPLETIONS_HELP,
        Some(_) => HELP,
    })
}

const SHARED: &str =
    "      --profile NAME    the profile, instead of PROFILE (the AWS CLI's habit); with
                        neither, AWS_DEFAULT_PROFILE, else AWS_PROFILE (COMMAND after --)
  -t, --mfa-token CODE  the 6-digit MFA code, as 123456, 123 456 or 123-456 (else mfa_process,
                        else a prompt on the terminal)
  -d, --duration D      how long the credentials last: 3600, 45m, 1h, 12h
  -r, --region REGION   the region for STS and for the command (AWS_REGION, AWS_DEFAULT_REGION)
      --no-session      no GetSessionToken: assume the role with the MFA code directly,
                        or pass a profile's own keys through
      --refresh         ignore cached credentials for this run (and cache the new ones)
  -v, --verbose         say each decision and request on stderr (never a secret)
  -h, --help            print this help";

const HELP: &str = "\
mfarole: run a command with temporary AWS credentials from STS, with MFA and roles, in one step

Usage:
  mfarole exec [OPTIONS] [--server] PROFILE [--] [COMMAND [ARGS...]]
  mfarole env [OPTIONS] [--format FORMAT] PROFILE
  mfarole console [OPTIONS] [--service NAME|PATH] [--print] [--logout-first] PROFILE
  mfarole list [PROFILE | --names | --json]
  mfarole clear [PROFILE]
  mfarole completions bash|zsh|fish
  mfarole help [COMMAND]

Commands:
  exec         get credentials for PROFILE and replace mfarole with COMMAND (default: $SHELL)
  env          print the credentials for PROFILE (sh, fish, dotenv, json, process)
  console      open the AWS console signed in as PROFILE (or print its sign-in URL)
  list         list the profiles, what each needs, and their cached sessions
  clear        remove cached sessions (of PROFILE, or all)
  completions  print a shell completion script
  help         print the help of a command

Options of exec, env and console:
@SHARED@

Other options:
      --server          exec only: stay as COMMAND's parent and serve it renewed credentials
  -V, --version         print the version

First credentials come from keys, credential_process, credential_source (Environment,
EcsContainer, Ec2InstanceMetadata), web_identity_token_file, an `aws sso login`
(sso_session), or an `aws login` session (login_session: passkeys welcome); roles chain on
top of any of them.

Exit status: the command's own; 125 when mfarole fails; 126 when COMMAND cannot run;
127 when it is not found; 130 on Ctrl-C at the prompt. See mfarole(1).
";

const EXEC_HELP: &str = "\
mfarole exec: run COMMAND with temporary credentials for PROFILE

Usage: mfarole exec [OPTIONS] [--server] PROFILE [--] [COMMAND [ARGS...]]
       mfarole exec [OPTIONS] [--server] --profile NAME [--] [COMMAND [ARGS...]]
       AWS_PROFILE=PROFILE mfarole exec [OPTIONS] [--server] [-- COMMAND [ARGS...]]

Everything after COMMAND is passed to it untouched. Without COMMAND, $SHELL (else /bin/sh)
is started. The command gets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
AWS_CREDENTIAL_EXPIRATION, AWS_ACCOUNT_ID (when known), AWS_REGION/AWS_DEFAULT_REGION and
MFAROLE_PROFILE; AWS_PROFILE and stale credential variables are removed.

Options:
      --server          stay as COMMAND's parent and serve it credentials that are renewed
                        for as long as it runs (a local container credentials endpoint)
@SHARED@
";

const ENV_HELP: &str = "\
mfarole env: print temporary credentials for PROFILE

Usage: mfarole env [OPTIONS] [--format FORMAT] PROFILE

  eval \"$(mfarole env PROFILE)\" && next          sh, bash, zsh
  mfarole env -f fish PROFILE | source; and next  fish
  c=$(mfarole env PROFILE) && eval \"$c\"           scripts: nothing evaluated on failure

The output sets what exec gives a command (MFAROLE_PROFILE too); when env fails, the sh and
fish formats evaluate to `false`, so that next does not run.

  -f, --format FORMAT   sh (default: export lines for eval in sh, bash or zsh; also named
                        bash and zsh), fish, dotenv, json, or process (the credential_process
                        JSON: credential_process = mfarole env --format process PROFILE)
@SHARED@
";

const CONSOLE_HELP: &str = "\
mfarole console: open the AWS console signed in as PROFILE, with the same credentials (cache,
one MFA prompt) as exec

Usage: mfarole console [OPTIONS] [--service NAME|PATH] [--print] [--logout-first] PROFILE

A role's credentials sign in as they are; an IAM user's long-term keys (no role) first get a
federated session (GetFederationToken, with the user's own permissions). The sign-in URL is a
credential: it goes to the browser (BROWSER, else xdg-open; open on macOS) or, with --print,
to stdout, and nowhere else.

  -s, --service NAME    open this service's console (s3, ec2, iam), a PATH under the
                        console host (cloudwatch/home#logsV2:) or a full https URL on it,
                        not the console home
      --print           print the sign-in URL on stdout instead of starting a browser
      --logout-first    go through the console's logout first, so that a browser signed in
                        as someone else switches (one browser launch)
      --profile NAME    the profile, instead of PROFILE (the AWS CLI's habit); with
                        neither, AWS_DEFAULT_PROFILE, else AWS_PROFILE
  -t, --mfa-token CODE  the 6-digit MFA code, as 123456, 123 456 or 123-456 (else mfa_process,
                        else a prompt on the terminal); a profile without a role needs none
  -d, --duration D      how long the console session lasts: 3600, 45m, 1h, 12h (see below)
  -r, --region REGION   the region for STS and the console's region (AWS_REGION,
                        AWS_DEFAULT_REGION)
      --no-session      no GetSessionToken: assume the role with the MFA code directly
      --refresh         ignore cached credentials for this run (and cache the new ones)
  -v, --verbose         say each decision and request on stderr (never a secret or the URL)
  -h, --help            print this help

Here -d is the console session: 15m to 12h for a role assumed with an IAM user's long-term
keys (SessionDuration), 15m to 36h for a federation token. Other credentials cannot set it:
a role assumed through an MFA session or another role (chained), and temporary credentials
(SSO, web identity, a session token) last as long as they do.
";

const LIST_HELP: &str = "\
mfarole list: list the profiles, what each needs (keys, MFA, role via which source), and
whether a cached session is fresh, until when (local time) and how long is left. No secret
is printed; a credentials file that others can read is flagged.

Usage: mfarole list [PROFILE | --names | --json]

  PROFILE               that profile's chain, each step of its plan and what the cache holds
                        for it, and the sessions made with another -d

      --names           print only the profile names, one a line
      --json            print what was read, per profile: its settings (secrets as
                        \"<secret>\", key ids masked), its source, roles and region, or its error
";

const CLEAR_HELP: &str = "\
mfarole clear: remove cached credentials, of PROFILE's steps or all of them

Usage: mfarole clear [PROFILE | --profile NAME]

Without a profile, every cached session goes (AWS_PROFILE is not read here).
";

const COMPLETIONS_HELP: &str = "\
mfarole completions: print a completion script (profile names come from the config)

Usage: mfarole completions bash|zsh|fish

  bash: eval \"$(mfarole completions bash)\"    in ~/.bashrc
  zsh:  eval \"$(mfarole completions zsh)\"     in ~/.zshrc
  fish: mfarole completions fish > ~/.config/fish/completions/mfarole.fish
";

/// Fills the shared option block into a help text.
pub fn render(text: &str) -> String {
    text.replace("@SHARED@", SHARED)
}

/// What `console` adds to the options of `exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleArgs {
    /// `--service NAME|PATH`: the console page to open instead of the console home.
    pub service: Option<String>,
    /// `--print`: the URL to stdout, no browser.
    pub print: bool,
    /// `--logout-first`: through the console's logout URL, so that a signed-in browser
    /// switches identity.
    pub logout_first: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Command> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn every_option_line_of_every_help_lines_up() {
        for sub in [
            None,
            Some("exec"),
            Some("env"),
            Some("console"),
            Some("list"),
            Some("clear"),
            Some("completions"),
        ] {
            let text = help(sub);
            for line in text.lines().filter(|l| l.trim_start().starts_with('-')) {
                // `  -x, --long ARG` or `      --long`, the text from column 24; a
                // continuation of the text starts at column 24 itself.
                let indent = line.len() - line.trim_start().len();
                if indent == 24 {
                    continue;
                }
                let want = if line.trim_start().starts_with("--") {
                    6
                } else {
                    2
                };
                assert_eq!(indent, want, "{sub:?}: {line:?}");
                let (head, _) = line.split_at(24);
                assert!(head.ends_with("  "), "{sub:?}: {line:?}");
                assert!(!line[24..].starts_with(' '), "{sub:?}: {line:?}");
            }
        }
        assert!(help(None).contains("mfarole list [PROFILE | --names | --json]"));
    }

    #[test]
    fn console_help_speaks_of_the_console_not_of_a_command() {
        let text = help(Some("console"));
        for exec_words in [
            "COMMAND after --",
            "for the command",
            "how long the credentials last",
        ] {
            assert!(
                !text.contains(exec_words),
                "{exec_words:?} in console --help"
            );
        }
        for flag in [
            "--profile",
            "--mfa-token",
            "--duration",
            "--region",
            "--no-session",
        ] {
            assert!(text.contains(flag), "{flag} missing");
        }
    }

    #[test]
    fn exec_hands_everything_after_command_to_the_child() {
        let c = parse_str(&[
            "exec",
            "-v",
            "prod",
            "--",
            "terraform",
            "plan",
            "-out",
            "x",
            "--",
            "-t",
        ])
        .unwrap();
        let Command::Exec {
            opts,
            profile,
            program,
            args,
        } = c
        else {
            panic!()
        };
        assert!(opts.verbose);
        assert_eq!(
            profile,
            Some(Named {
                name: "prod".into(),
                flag: false
            })
        );
        assert_eq!(program.unwrap(), "terraform");
        assert_eq!(args, ["plan", "-out", "x", "--", "-t"]);
    }

    #[test]
    fn exec_without_double_dash_stops_at_command() {
        let c = parse_str(&["exec", "prod", "-t", "123456", "aws", "-h"]).unwrap();
        let Command::Exec {
            opts,
            program,
            args,
            ..
        } = c
        else {
            panic!()
        };
        assert_eq!(opts.mfa_token.as_deref(), Some("123456"));
        assert_eq!(program.unwrap(), "aws");
        assert_eq!(args, ["-h"]);
    }

    #[test]
    fn exec_options() {
        let c = parse_str(&[
            "exec",
            "--duration=45m",
            "-r",
            "eu-west-1",
            "--no-session",
            "--refresh",
            "p",
        ])
        .unwrap();
        let Command::Exec { opts, program, .. } = c else {
            panic!()
        };
        assert_eq!(opts.duration, Some(2700));
        assert_eq!(opts.region.as_deref(), Some("eu-west-1"));
        assert!(opts.no_session && opts.refresh);
        assert_eq!(program, None);
    }

    fn exec_parts(args: &[&str]) -> (Option<Named>, Option<OsString>, Vec<OsString>) {
        match parse_str(args).unwrap() {
            Command::Exec {
                profile,
                program,
                args,
                ..
            } => (profile, program, args),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_profile_can_be_named_by_flag_or_left_to_the_environment() {
        let named = |name: &str, flag| {
            Some(Named {
                name: name.into(),
                flag,
            })
        };
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        // --profile stands where PROFILE does: the first word after it is COMMAND.
        let (p, prog, args) = exec_parts(&["exec", "--profile", "a", "aws", "--profile", "b"]);
        assert_eq!((p, prog), (named("a", true), Some("aws".into())));
        assert_eq!(args, os(&["--profile", "b"]));
        let (p, prog, _) = exec_parts(&["exec", "--profile=a", "--", "aws"]);
        assert_eq!((p, prog), (named("a", true), Some("aws".into())));
        // No PROFILE before `--`: the environment's, later. After `--` all is the command's.
        let (p, prog, args) = exec_parts(&["exec", "-v", "--", "aws", "--", "-v"]);
        assert_eq!((p, prog), (None, Some("aws".into())));
        assert_eq!(args, os(&["--", "-v"]));
        let (p, prog, args) = exec_parts(&["exec", "--"]);
        assert_eq!((p, prog, args), (None, None, vec![]));
        assert_eq!(exec_parts(&["exec"]).0, None);
        let (p, prog, args) = exec_parts(&["exec", "a", "--", "--profile", "b"]);
        assert_eq!((p, prog), (named("a", false), Some("--profile".into())));
        assert_eq!(args, os(&["b"]));
        let env = parse_str(&["env", "-f", "fish", "--profile", "a"]).unwrap();
        assert!(
            matches!(env, Command::Env { profile: Some(Named { ref name, flag: true }), .. } if name == "a")
        );
        assert!(matches!(
            parse_str(&["env"]).unwrap(),
            Command::Env { profile: None, .. }
        ));
        let clear = parse_str(&["clear", "--profile", "a"]).unwrap();
        assert!(matches!(clear, Command::Clear { profile: Some(ref p), .. } if p == "a"));
    }

    #[test]
    fn help_and_version_come_first() {
        assert_eq!(parse_str(&["-h"]).unwrap(), Command::Help(None));
        assert_eq!(parse_str(&["--version"]).unwrap(), Command::Version);
        assert_eq!(
            parse_str(&["exec", "--help"]).unwrap(),
            Command::Help(Some("exec"))
        );
        assert_eq!(
            parse_str(&["help", "env"]).unwrap(),
            Command::Help(Some("env"))
        );
    }

    #[test]
    fn usage_errors() {
        let msg = |a: &[&str]| parse_str(a).unwrap_err().to_string();
        assert!(msg(&[]).contains("missing command"));
        assert!(
            msg(&["exec", "a", "--profile", "b"]).contains("named twice ('a' and --profile 'b')")
        );
        assert!(
            msg(&["env", "--profile", "a", "b"]).contains("named twice (--profile 'a' and 'b')")
        );
        assert!(msg(&["clear", "a", "--profile=b"]).contains("named twice"));
        assert!(msg(&["exec", "--profile"]).contains("--profile"));
        assert!(msg(&["exec", "-d", "1y", "p"]).contains("--duration 1y"));
        assert!(msg(&["exec", "--bogus", "p"]).contains("--bogus"));
        assert!(msg(&["frobnicate"]).contains("unknown command 'frobnicate'"));
        assert!(msg(&["login"]).contains("mfarole console PROFILE"));
        assert!(msg(&["env", "-f", "xml", "p"]).contains("--format xml"));
        assert!(msg(&["completions", "tcsh"]).contains("bash, zsh or fish"));
        assert!(msg(&["exec", "-t"]).contains("-t"));
    }

    #[test]
    fn env_formats() {
        let c = parse_str(&["env", "--format", "process", "p"]).unwrap();
        assert!(matches!(
            c,
            Command::Env {
                format: Format::Process,
                ..
            }
        ));
        let c = parse_str(&["env", "p"]).unwrap();
        assert!(matches!(
            c,
            Command::Env {
                format: Format::Sh,
                ..
            }
        ));
    }

    #[test]
    fn help_texts_expand_shared_options() {
        for sub in [None, Some("exec"), Some("env")] {
            let h = help(sub);
            assert!(h.contains("--mfa-token"), "{sub:?}");
            assert!(!h.contains("@SHARED@"));
        }
    }
}
