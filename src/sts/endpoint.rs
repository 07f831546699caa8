//! Where STS requests go: the endpoint URL and the SigV4 signing region, resolved the way the
//! AWS SDKs resolve them, with plain HTTP allowed only to loopback hosts so that keys and
//! codes never cross a network in the clear.

use crate::error::{Error, Result, clean};
use crate::settings::EndpointSettings;

/// Where STS requests go and how they are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    /// The SigV4 signing region.
    pub region: String,
    /// Which setting chose the URL, for `--verbose`.
    pub origin: String,
    /// For AWS's own endpoints, the partition; credentials from any of its regional endpoints
    /// work in all of its regions, so they are cached per partition, not per region.
    partition: Option<&'static str>,
}

impl Endpoint {
    /// Resolves the endpoint as the AWS SDKs do: `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`,
    /// the profile's `endpoint_url` (all three off with
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else the regional endpoint of `region`, else
    /// the global one (signed for us-east-1).
    pub fn resolve(
        env: &EndpointSettings,
        profile_url: Option<(&str, &str)>,
        region: Option<&str>,
    ) -> Result<Endpoint> {
        if let Some(r) = region
            && (r.is_empty()
                || r.len() > 50
                || !r
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            return Err(Error::Setting(format!(
                "region '{}' is not a region name like eu-west-1; fix --region, AWS_REGION, AWS_DEFAULT_REGION or the profile's region",
                clean(r, 50)
            )));
        }
        let signing = region.unwrap_or("us-east-1").to_string();
        let configured = if env.ignore_configured {
            None
        } else {
            env.sts
                .as_deref()
                .map(|u| (u, "AWS_ENDPOINT_URL_STS"))
                .or_else(|| env.all.as_deref().map(|u| (u, "AWS_ENDPOINT_URL")))
                .or(profile_url)
        };
        let Some((url, origin)) = configured else {
            return aws_endpoint(env, region);
        };
        Ok(Endpoint {
            url: check_url(url)?,
            region: signing,
            origin: origin.to_string(),
            partition: None,
        })
    }

    /// The endpoint's part of a cache key: the partition for AWS's endpoints (a session from
    /// us-east-1 serves a role in eu-west-1 without a second prompt), else the URL and region.
    pub fn key(&self) -> String {
        match self.partition {
            Some(p) => format!("partition={p}"),
            None => format!("{} {}", self.url, self.region),
        }
    }
}

/// The regions whose `legacy` endpoint is the global one (botocore's STS endpoint rules,
/// `UseGlobalEndpoint`).
const LEGACY_GLOBAL: &[&str] = &[
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "aws-global",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// AWS's own endpoint for `region`, as botocore's STS endpoint rules (`endpoint-rule-set-1`)
/// choose it: FIPS (`sts-fips.`; in aws-us-gov the regional endpoints are FIPS already),
/// dual-stack (the partition's `dualStackDnsSuffix`), both, or with `sts_regional_endpoints =
/// legacy` the global endpoint for the regions that had it (signed for us-east-1); else
/// `sts.REGION.dnsSuffix`. No region: the global endpoint (with FIPS or dual-stack,
/// us-east-1's).
fn aws_endpoint(env: &EndpointSettings, region: Option<&str>) -> Result<Endpoint> {
    use crate::partition::Partition;
    let (fips, dualstack) = (
        env.use_fips.unwrap_or(false),
        env.use_dualstack.unwrap_or(false),
    );
    let legacy = match env.sts_regional.as_deref() {
        None | Some("regional") => false,
        Some("legacy") => true,
        Some(other) => {
            return Err(Error::Setting(format!(
                "sts_regional_endpoints (or AWS_STS_REGIONAL_ENDPOINTS) is '{}': it must be regional or legacy",
                clean(other, 40)
            )));
        }
    };
    let partition = Partition::of_region(region);
    // `aws-global` names the global endpoint in either mode.
    let global = |r: &&str| {
        !fips && !dualstack && (*r == "aws-global" || legacy && LEGACY_GLOBAL.contains(r))
    };
    let named = region.filter(|r| !global(r));
    let (url, origin) = match (named, fips || dualstack) {
        (None, false) => (
            "https://sts.amazonaws.com/".to_string(),
            if region.is_some_and(|r| r != "aws-global") {
                "sts_regional_endpoints = legacy: the global endpoint"
            } else if region.is_some() {
                "region aws-global: the global endpoint"
            } else {
                "no region: the global endpoint"
            },
        ),
        (r, _) => {
            let r = r.unwrap_or("us-east-1");
            let suffix = match dualstack {
                true => partition.dual_stack_dns_suffix(),
                false => partition.dns_suffix(),
            };
            let host = match (fips, partition) {
                (true, Partition::AwsUsGov) if !dualstack => "sts",
                (true, _) => "sts-fips",
                (false, _) => "sts",
            };
            let origin = match (fips, dualstack) {
                (true, true) => "the region, FIPS and dual-stack",
                (true, false) => "the region, FIPS",
                (false, true) => "the region, dual-stack",
                (false, false) => "the region",
            };
            (format!("https://{host}.{r}.{suffix}/"), origin)
        }
    };
    Ok(Endpoint {
        url,
        region: region
            .filter(|_| named.is_some() || fips || dualstack)
            .unwrap_or("us-east-1")
            .to_string(),
        origin: origin.to_string(),
        partition: Some(partition.id()),
    })
}

/// Accepts `https://` anywhere and `http://` only for loopback hosts, judged as every URL
/// that gets a secret is ([`crate::url`]), and makes sure there is a path.
fn check_url(url: &str) -> Result<String> {
    let bad = |message: &str| Error::Endpoint {
        endpoint: crate::url::shown(url),
        message: message.to_string(),
    };
    let uri = crate::url::judge(url, crate::url::PlainHttp::Loopback)
        .map_err(|why| bad(&format!("the URL {why}")))?;
    if uri.query().is_some() {
        return Err(bad("the URL must not have a query string"));
    }
    let mut out = url.to_string();
    if uri.path().is_empty() || uri.path() == "/" && !url.ends_with('/') {
        out.push('/');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EndpointSettings {
        crate::settings::Settings::for_tests(pairs).endpoints
    }

    #[test]
    fn endpoint_order() {
        let e = Endpoint::resolve(&env(&[]), None, Some("eu-west-1")).unwrap();
        assert_eq!(
            (e.url.as_str(), e.region.as_str()),
            ("https://sts.eu-west-1.amazonaws.com/", "eu-west-1")
        );
        let e = Endpoint::resolve(&env(&[]), None, None).unwrap();
        assert_eq!(
            (e.url.as_str(), e.region.as_str()),
            ("https://sts.amazonaws.com/", "us-east-1")
        );
        let e = Endpoint::resolve(&env(&[]), None, Some("cn-north-1")).unwrap();
        assert_eq!(e.url, "https://sts.cn-north-1.amazonaws.com.cn/");
        let all = env(&[
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:2"),
        ]);
        assert_eq!(
            Endpoint::resolve(&all, Some(("http://127.0.0.1:3", "endpoint_url")), None)
                .unwrap()
                .url,
            "http://127.0.0.1:1/"
        );
        let generic = env(&[("AWS_ENDPOINT_URL", "http://localhost:2")]);
        assert_eq!(
            Endpoint::resolve(&generic, Some(("http://127.0.0.1:3", "endpoint_url")), None)
                .unwrap()
                .url,
            "http://localhost:2/"
        );
        assert_eq!(
            Endpoint::resolve(
                &env(&[]),
                Some(("https://sts.example.com/x", "endpoint_url")),
                None
            )
            .unwrap()
            .url,
            "https://sts.example.com/x"
        );
        let ignore = env(&[
            ("AWS_ENDPOINT_URL", "http://localhost:2"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ]);
        assert_eq!(
            Endpoint::resolve(
                &ignore,
                Some(("http://127.0.0.1:3", "endpoint_url")),
                Some("us-west-2")
            )
            .unwrap()
            .url,
            "https://sts.us-west-2.amazonaws.com/"
        );
    }

    #[test]
    fn aws_endpoints_share_a_cache_key_per_partition() {
        let key = |r: &str| Endpoint::resolve(&env(&[]), None, Some(r)).unwrap().key();
        assert_eq!(key("us-east-1"), key("eu-west-1"));
        assert_eq!(
            Endpoint::resolve(&env(&[]), None, None).unwrap().key(),
            key("eu-west-1")
        );
        assert_ne!(key("cn-north-1"), key("eu-west-1"));
        assert_ne!(key("us-gov-west-1"), key("eu-west-1"));
        let custom = |u: &str, r: &str| {
            Endpoint::resolve(&env(&[("AWS_ENDPOINT_URL", u)]), None, Some(r))
                .unwrap()
                .key()
        };
        assert_ne!(
            custom("http://127.0.0.1:1", "us-east-1"),
            custom("http://127.0.0.1:2", "us-east-1")
        );
        assert_ne!(custom("http://127.0.0.1:1", "us-east-1"), key("us-east-1"));
    }

    #[test]
    fn plain_http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:5000",
            "http://[::1]:5000/",
            "http://localhost",
            "https://10.0.0.1/",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://sts.example.com/",
            "ftp://x/",
            "127.0.0.1:5000",
            "http://",
            "https://x/?a=b",
            "not a url",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        let e = check_url("http://10.1.2.3/").unwrap_err().to_string();
        assert!(
            e.contains("plain http to a host that is not loopback"),
            "{e}"
        );
    }

    #[test]
    fn bad_region_is_refused() {
        assert!(Endpoint::resolve(&env(&[]), None, Some("evil.com/x")).is_err());
        assert!(Endpoint::resolve(&env(&[]), None, Some("EU-WEST-1")).is_err());
    }
}
