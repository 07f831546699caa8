//! A web identity token exchanged for a role with AssumeRoleWithWebIdentity (unsigned: the
//! token is the proof): GitHub Actions, GitLab CI, EKS service accounts. From the profile's
//! `web_identity_token_file` + `role_arn` (+ `role_session_name`), or, for the profile named
//! on the command line only, from `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`
//! (+ `AWS_ROLE_SESSION_NAME`), as botocore's default chain has it. The token file is read
//! each time the step runs, because whoever writes it rotates it.

use std::path::{Path, PathBuf};

use crate::creds::Issued;
use crate::error::{Error, Result};
use crate::profile::{Profile, check_arn, check_session_name};

use crate::token_file::{self, Owner, Problem};

use super::{Fetch, Lookup, Provider, Source};

/// STS takes a WebIdentityToken of at most 20,000 characters; the file may hold a line break.
const TOKEN_LIMIT: u64 = 20_000 + 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    pub token_file: PathBuf,
    pub role_arn: String,
    pub session_name: Option<String>,
}

/// The environment's token first (target profile only), then the profile's.
pub fn own(profile: &Profile, lookup: &Lookup) -> Result<Option<Source>> {
    let vars = &lookup.settings.web_identity;
    let from_env = |v: &Option<String>| v.clone().filter(|_| lookup.target);
    let get = |key: &str| profile.get(key).map(str::to_string);
    let Some(file) = from_env(&vars.token_file).or_else(|| get("web_identity_token_file")) else {
        return Ok(None);
    };
    let Some(role_arn) = from_env(&vars.role_arn).or_else(|| get("role_arn")) else {
        return Err(Error::profile(
            &profile.name,
            "has a web identity token file but no role_arn (or AWS_ROLE_ARN) to exchange it for",
        ));
    };
    check_arn(&profile.name, &role_arn)?;
    if file.chars().any(char::is_control) {
        return Err(Error::profile(
            &profile.name,
            "web_identity_token_file holds a line break or another control character; an indented line after it continues its value, so unindent the next setting",
        ));
    }
    let session_name = from_env(&vars.session_name).or_else(|| get("role_session_name"));
    check_session_name(&profile.name, session_name.as_deref())?;
    Ok(Some(Source::WebIdentity(WebIdentity {
        token_file: PathBuf::from(file),
        role_arn,
        session_name,
    })))
}

impl Provider for WebIdentity {
    fn kind(&self) -> &'static str {
        "web identity"
    }

    fn call(&self) -> &'static str {
        "AssumeRoleWithWebIdentity"
    }

    fn describe(&self) -> String {
        format!("AssumeRoleWithWebIdentity {}", self.role_arn)
    }

    fn reason(&self) -> String {
        "a web identity token exchanged for its role (unsigned)".into()
    }

    /// The session name is part of the key only when the profile sets it: a generated one
    /// changes every second.
    fn cache_key(&self, _: &str, endpoint: &str) -> String {
        format!(
            "v1 web role={} name={} file={} ep={endpoint}",
            self.role_arn,
            self.session_name.as_deref().unwrap_or("-"),
            self.token_file.display()
        )
    }

    fn fetch(&self, ctx: &Fetch) -> Result<Issued> {
        let fail = ctx.fail("web identity token file");
        let token = read_token(&self.token_file)
            .map_err(|why| fail(format!("{} {why}", token_file::shown(&self.token_file))))?;
        ctx.sts.call(&crate::sts::Request {
            action: "AssumeRoleWithWebIdentity",
            profile: ctx.profile,
            params: vec![
                ("RoleArn", self.role_arn.clone()),
                (
                    "RoleSessionName",
                    self.session_name
                        .clone()
                        .unwrap_or_else(|| ctx.session_name.to_string()),
                ),
                ("WebIdentityToken", token),
            ],
            numbered: &[],
            credentials: None,
            carries_mfa: false,
        })
    }
}

/// The token, read whenever the step runs (its writer rotates it): a regular file, not empty,
/// read once more when it is (a writer caught rewriting it).
fn read_token(path: &Path) -> Result<String, Problem> {
    token_file::read_parsed(path, TOKEN_LIMIT, Owner::Anyone, parse_token)
}

/// The token in a token file's bytes: text, trimmed as botocore's `FileWebIdentityTokenLoader`
/// does not (it sends the file as is) but STS would refuse the line break; never empty.
/// Errors are mfarole's words only, never the file's.
pub(crate) fn parse_token(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "is not text".to_string())?;
    match text.trim() {
        "" => Err("is empty".to_string()),
        token => Ok(token.to_string()),
    }
}
