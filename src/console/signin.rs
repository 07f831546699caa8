//! The AWS sign-in service's federation endpoint, as AWS documents it ("Enable custom identity
//! broker access to the AWS console"): `GET <base>/federation?Action=getSigninToken&Session=…`
//! turns temporary credentials into a sign-in token, and `<base>/federation?Action=login&…`
//! is the URL that spends it. Also the console destination and the logout URL.
//!
//! Nothing here logs or returns in an error the Session JSON, the token or a URL that holds
//! either: errors name `<base>/federation` and the HTTP status only.

use crate::creds::Credentials;
use crate::error::{Error, Result, clean};
use crate::log::Log;
use crate::partition::Partition;
use crate::settings::EndpointSettings;
use crate::sts::form_encode;

/// Where sign-in and the console are for one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts {
    /// The sign-in base URL, no trailing slash: `https://signin.aws.amazon.com`, or
    /// `AWS_ENDPOINT_URL_SIGNIN` as given.
    pub signin: String,
    /// The console's host name without a region: `console.aws.amazon.com`.
    pub console: &'static str,
}

impl Hosts {
    /// The region's partition's hosts ([`crate::partition`]); `AWS_ENDPOINT_URL_SIGNIN`
    /// replaces the sign-in base (unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`). Not
    /// `AWS_ENDPOINT_URL`: that names an emulator of the service APIs, which has no
    /// federation endpoint, and the session keys would go there.
    pub fn pick(endpoints: &EndpointSettings, region: Option<&str>) -> Result<Hosts> {
        let partition = Partition::of_region(region);
        let Some(known) = partition.console_hosts() else {
            return Err(Error::Setting(format!(
                "the region {} is in the partition {}, whose console mfarole knows no sign-in host for; pass --region of a partition with a public console (aws, aws-cn, aws-us-gov)",
                clean(region.unwrap_or("-"), 40),
                partition.id()
            )));
        };
        let configured = endpoints
            .signin_endpoint
            .as_deref()
            .filter(|_| !endpoints.ignore_configured);
        let signin = match configured {
            Some(url) => checked_base(url)?,
            None => known.signin.to_string(),
        };
        Ok(Hosts {
            signin,
            console: known.console,
        })
    }

    /// `<base>/federation`, as messages and `-v` may show it (no query).
    pub fn federation(&self) -> String {
        format!("{}/federation", self.signin)
    }
}

/// `AWS_ENDPOINT_URL_SIGNIN`: it receives the session keys, so it is judged as every URL that
/// gets a secret ([`crate::url`]: https, or http to loopback only); no query string.
fn checked_base(url: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::Setting(format!(
            "AWS_ENDPOINT_URL_SIGNIN={} {why}",
            crate::url::shown(url)
        ))
    };
    let uri = crate::url::judge(url, crate::url::PlainHttp::Loopback).map_err(bad)?;
    if uri.query().is_some() {
        return Err(bad("must not have a query string; give the base URL"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// The console page to land on: the console home of `region` on the partition's console
/// host, or `--service NAME` (`s3` → `s3/home`) or a path (`cloudwatch/home#logsV2:`), with
/// `?region=` as the console takes it (aws-vault's `login` builds the same). A path copied
/// from the address bar that has its own `region=` keeps it (and its host says that region);
/// a full URL is taken as it is when its host is the partition's console ([`console_url`]).
pub fn destination(hosts: &Hosts, region: Option<&str>, service: Option<&str>) -> Result<String> {
    if let Some(url) = service.and_then(|s| console_url(hosts, s).transpose()) {
        return url;
    }
    let path = match service {
        None => "console/home".to_string(),
        Some(s) => service_path(s)?,
    };
    // `?region=` goes before a fragment, after a query the path has.
    let (before, fragment) = match path.split_once('#') {
        Some((b, f)) => (b, format!("#{f}")),
        None => (path.as_str(), String::new()),
    };
    let own = before
        .split_once('?')
        .and_then(|(_, query)| query.split('&').find_map(|kv| kv.strip_prefix("region=")));
    if let Some(own) = own {
        let host = match is_region(own) {
            true => format!("{own}.{}", hosts.console),
            false => hosts.console.to_string(),
        };
        return Ok(format!("https://{host}/{path}"));
    }
    let Some(region) = region else {
        return Ok(format!("https://{}/{path}", hosts.console));
    };
    let join = if before.contains('?') { '&' } else { '?' };
    Ok(format!(
        "https://{region}.{}/{before}{join}region={region}{fragment}",
        hosts.console
    ))
}

/// A region name as it may stand in a host name: `eu-west-1`.
fn is_region(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `--service` given as a full URL: `Ok(None)` when it is not one (no scheme); the URL as it
/// is when it is `https://` on the partition's console host or a region's form of it
/// (`eu-west-1.console.aws.amazon.com`); else an error, since the sign-in service would send
/// the signed-in browser anywhere the destination says.
fn console_url(hosts: &Hosts, service: &str) -> Result<Option<String>> {
    let Some((scheme, rest)) = service.split_once("://") else {
        return Ok(None);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, path) = rest.split_at(end);
    let host = host.to_ascii_lowercase();
    let ours = host == hosts.console
        || host
            .strip_suffix(hosts.console)
            .and_then(|r| r.strip_suffix('.'))
            .is_some_and(is_region);
    let fine = |c: char| c.is_ascii_alphanumeric() || "-_./#?=&:%~+,;@!$*()'".contains(c);
    if !scheme.eq_ignore_ascii_case("https") || !ours || !path.chars().all(fine) {
        return Err(Error::Usage(format!(
            "--service {} is not a page of the console: a URL must be https://{} or https://REGION.{} (else give a service name like s3 or a path like ec2/home#Instances:)",
            clean(service, 80),
            hosts.console,
            hosts.console
        ))
        .for_command("console"));
    }
    Ok(Some(format!("https://{host}{path}")))
}

/// `--service`: a name (`ec2`) or a path under the console host (`ec2/home#Instances:`).
fn service_path(service: &str) -> Result<String> {
    let path = service.trim_start_matches('/');
    let fine = |c: char| c.is_ascii_alphanumeric() || "-_./#?=&:%~+,;@!$*()'".contains(c);
    if path.is_empty() || !path.chars().all(fine) {
        return Err(Error::Usage(format!(
            "--service '{}' is not a console service name like s3 or a path like ec2/home#Instances:",
            clean(service, 60)
        ))
        .for_command("console"));
    }
    if path.contains('/') || path.contains('#') || path.contains('?') {
        Ok(path.to_string())
    } else {
        Ok(format!("{}/home", path.to_ascii_lowercase()))
    }
}

/// The `Session` parameter: the three keys AWS documents, as JSON.
fn session_json(credentials: &Credentials) -> String {
    serde_json::json!({
        "sessionId": credentials.access_key_id,
        "sessionKey": credentials.secret_access_key,
        "sessionToken": credentials.session_token.as_deref().unwrap_or_default(),
    })
    .to_string()
}

/// `getSigninToken`: the sign-in token for `credentials`, with `SessionDuration` when given
/// (the caller decides when AWS allows it). `Err` names the endpoint and the status, never
/// the request.
pub fn signin_token(
    agent: &ureq::Agent,
    hosts: &Hosts,
    profile: &str,
    credentials: &Credentials,
    session_duration: Option<u32>,
    log: &Log,
) -> Result<String> {
    let federation = hosts.federation();
    let duration = session_duration.map(|d| d.to_string());
    let session = session_json(credentials);
    let mut query = vec![("Action", "getSigninToken")];
    if let Some(d) = &duration {
        query.push(("SessionDuration", d));
    }
    query.push(("Session", &session));
    log.verbose(format_args!(
        "getSigninToken for '{profile}' → {federation} (key {}, {})",
        credentials.masked_id(),
        match &duration {
            Some(d) => format!("SessionDuration {d}"),
            None => "no SessionDuration".to_string(),
        }
    ));
    let url = format!("{federation}?{}", form_encode(query.into_iter()));
    let transport = |message: String| Error::Transport {
        action: "getSigninToken",
        profile: profile.to_string(),
        endpoint: federation.clone(),
        message,
    };
    let mut response = agent
        .get(&url)
        .call()
        .map_err(|e| transport(crate::net::transport_text(&e)))?;
    let status = response.status().as_u16();
    let body = crate::net::read_body(&mut response, 64 * 1024).map_err(|e| {
        transport(format!(
            "the answer broke off: {}",
            crate::error::io_text(&e)
        ))
    })?;
    log.verbose(format_args!("getSigninToken answered HTTP {status}"));
    if status != 200 {
        return Err(Error::profile(
            profile,
            format!(
                "the AWS sign-in service ({federation}) refused its credentials with HTTP {status}"
            ),
        ));
    }
    parse_token(&body).ok_or_else(|| {
        Error::profile(
            profile,
            format!(
                "the AWS sign-in service ({federation}) answered HTTP 200 without a SigninToken"
            ),
        )
    })
}

/// `{"SigninToken": "…"}`; `None` for anything else, or a token with characters no token has.
fn parse_token(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let token = value.get("SigninToken")?.as_str()?;
    let printable = !token.is_empty() && token.chars().all(|c| c.is_ascii_graphic());
    printable.then(|| token.to_string())
}

/// The login URL: `<base>/federation?Action=login&Issuer=mfarole&Destination=…&SigninToken=…`.
pub fn login_url(hosts: &Hosts, destination: &str, token: &str) -> String {
    let query = form_encode(
        [
            ("Action", "login"),
            ("Issuer", "mfarole"),
            ("Destination", destination),
            ("SigninToken", token),
        ]
        .into_iter(),
    );
    format!("{}?{query}", hosts.federation())
}

/// The console's logout URL that then goes on to `login` (ByteNess aws-vault's
/// `--auto-logout`): `<base>/oauth?Action=logout&redirect_uri=<login URL>`, so that one
/// browser launch signs the old identity out and the new one in.
pub fn logout_then(hosts: &Hosts, login: &str) -> String {
    let query = form_encode([("Action", "logout"), ("redirect_uri", login)].into_iter());
    format!("{}/oauth?{query}", hosts.signin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(region: Option<&str>) -> Hosts {
        Hosts::pick(&EndpointSettings::default(), region).unwrap()
    }

    #[test]
    fn partitions_pick_their_hosts() {
        let aws = hosts(Some("eu-west-1"));
        assert_eq!(aws.federation(), "https://signin.aws.amazon.com/federation");
        assert_eq!(
            destination(&aws, Some("eu-west-1"), None).unwrap(),
            "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"
        );
        let cn = hosts(Some("cn-north-1"));
        assert_eq!(cn.federation(), "https://signin.amazonaws.cn/federation");
        assert_eq!(
            destination(&cn, Some("cn-north-1"), Some("s3")).unwrap(),
            "https://cn-north-1.console.amazonaws.cn/s3/home?region=cn-north-1"
        );
        let gov = hosts(Some("us-gov-west-1"));
        assert_eq!(
            gov.federation(),
            "https://signin.amazonaws-us-gov.com/federation"
        );
        assert!(
            destination(&gov, Some("us-gov-west-1"), None)
                .unwrap()
                .starts_with("https://us-gov-west-1.console.amazonaws-us-gov.com/")
        );
        assert_eq!(
            destination(&hosts(None), None, None).unwrap(),
            "https://console.aws.amazon.com/console/home"
        );
        let iso = Hosts::pick(&EndpointSettings::default(), Some("us-iso-east-1"));
        assert!(iso.unwrap_err().to_string().contains("aws-iso"));
    }

    #[test]
    fn services_and_paths() {
        let aws = hosts(Some("us-east-1"));
        let d = |s| destination(&aws, Some("us-east-1"), Some(s)).unwrap();
        assert_eq!(
            d("EC2"),
            "https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1"
        );
        assert_eq!(
            d("/cloudwatch/home#logsV2:"),
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:"
        );
        assert_eq!(
            d("ec2/home?x=1"),
            "https://us-east-1.console.aws.amazon.com/ec2/home?x=1&region=us-east-1"
        );
        for bad in ["", "a b", "s3\n", "\"x\""] {
            assert!(
                destination(&aws, None, Some(bad)).is_err(),
                "{bad:?} accepted"
            );
        }
        // One space between the words, also for an empty value.
        let e = destination(&aws, None, Some("")).unwrap_err().to_string();
        assert!(e.contains("--service '' is not"), "{e}");
        assert!(!e.contains("  "), "{e}");
    }

    #[test]
    fn an_address_bar_path_keeps_its_region_and_full_urls_stay_on_the_console() {
        let aws = hosts(Some("us-east-1"));
        let d = |s| destination(&aws, Some("us-east-1"), Some(s));
        assert_eq!(
            d("/ec2/home?region=eu-west-1#Instances:").unwrap(),
            "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:"
        );
        assert_eq!(
            d("ec2/home?x=1&region=eu-west-1").unwrap(),
            "https://eu-west-1.console.aws.amazon.com/ec2/home?x=1&region=eu-west-1"
        );
        // A region= that is no region name: the host is the console's own.
        assert_eq!(
            d("ec2/home?region=EVIL.example").unwrap(),
            "https://console.aws.amazon.com/ec2/home?region=EVIL.example"
        );
        for good in [
            "https://eu-west-1.console.aws.amazon.com/ec2/home",
            "https://console.aws.amazon.com/s3/home?region=us-east-1#",
            "HTTPS://EU-WEST-1.console.aws.amazon.com",
        ] {
            let got = d(good).unwrap();
            assert!(got.eq_ignore_ascii_case(good), "{good} became {got}");
        }
        for evil in [
            "https://evil.example/",
            "https://console.aws.amazon.com.evil.example/",
            "https://console.aws.amazon.com@evil.example/",
            "https://user@console.aws.amazon.com/",
            "https://console.aws.amazon.com:8443/",
            "https://evil.example\\@console.aws.amazon.com/",
            "https://x.y.console.aws.amazon.com/",
            "https://.console.aws.amazon.com/",
            "http://console.aws.amazon.com/",
            "javascript://console.aws.amazon.com/%0aalert(1)",
            "https://signin.aws.amazon.com/oauth",
            "https://eu-west-1.console.amazonaws.cn/",
        ] {
            let e = d(evil).unwrap_err().to_string();
            assert!(e.contains("is not a page of the console"), "{evil}: {e}");
        }
    }

    #[test]
    fn the_signin_override_is_judged_as_a_secret_url() {
        let env = |url: &str, ignore| EndpointSettings {
            signin_endpoint: Some(url.into()),
            ignore_configured: ignore,
            ..EndpointSettings::default()
        };
        let h = Hosts::pick(&env("http://127.0.0.1:9/", false), Some("eu-west-1")).unwrap();
        assert_eq!(h.federation(), "http://127.0.0.1:9/federation");
        let h = Hosts::pick(&env("http://127.0.0.1:9/", true), Some("eu-west-1")).unwrap();
        assert_eq!(h.signin, "https://signin.aws.amazon.com");
        let e = Hosts::pick(&env("http://example.com", false), None).unwrap_err();
        assert!(e.to_string().contains("plain http"), "{e}");
        assert!(Hosts::pick(&env("https://x/?a=1", false), None).is_err());
    }

    #[test]
    fn urls_carry_everything_encoded() {
        let aws = hosts(Some("eu-west-1"));
        let login = login_url(
            &aws,
            "https://eu-west-1.console.aws.amazon.com/?region=eu-west-1",
            "t/o+k=",
        );
        assert_eq!(
            login,
            "https://signin.aws.amazon.com/federation?Action=login&Issuer=mfarole&Destination=https%3A%2F%2Feu-west-1.console.aws.amazon.com%2F%3Fregion%3Deu-west-1&SigninToken=t%2Fo%2Bk%3D"
        );
        let out = logout_then(&aws, &login);
        assert!(out.starts_with("https://signin.aws.amazon.com/oauth?Action=logout&redirect_uri=https%3A%2F%2Fsignin.aws.amazon.com%2Ffederation%3FAction%3Dlogin"));
        let json = session_json(&Credentials {
            access_key_id: "ASIA".into(),
            secret_access_key: "s\"k".into(),
            session_token: Some("t".into()),
            expiration: None,
            account_id: None,
        });
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 3);
        assert_eq!(v["sessionKey"], "s\"k");
    }

    #[test]
    fn tokens_are_read_from_json_only() {
        assert_eq!(
            parse_token(br#"{"SigninToken":"abc-_"}"#).as_deref(),
            Some("abc-_")
        );
        assert_eq!(parse_token(br#"{"SigninToken":""}"#), None);
        assert_eq!(parse_token(br#"{"SigninToken":"a b"}"#), None);
        assert_eq!(parse_token(b"<html>"), None);
        assert_eq!(parse_token(br#"{"Other":"x"}"#), None);
    }
}
