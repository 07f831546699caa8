//! Which AWS partition a region belongs to, and the web hosts of that partition that are not
//! STS: the sign-in service (the console's federation endpoint, and the regional sign-in host
//! of `aws login`) and the console itself.
//!
//! Why a module of its own: the STS endpoint (`sts/endpoint.rs`), `mfarole console` and the
//! `aws login` source each need the region → partition step, and a host table kept in one
//! place is the only way they agree. A leaf: it imports nothing of ours.
//!
//! Sources of the rules:
//! - region → partition: botocore `data/partitions.json` (`regionRegex` of each partition;
//!   a region that matches none is in `aws`, as botocore's `aws.partition` rule function
//!   falls back to it).
//! - regional sign-in hosts: botocore `data/signin/2023-01-01/endpoint-rule-set-1.json`
//!   (`https://{Region}.signin.aws.amazon.com`, `…signin.amazonaws.cn`,
//!   `…signin.amazonaws-us-gov.com`, else `https://signin.{Region}.{dnsSuffix}`).
//! - console federation and console hosts: AWS's "Enable custom identity broker access to the
//!   AWS console" for `aws`; for `aws-cn` and `aws-us-gov` the hosts aws-vault
//!   (`cli/login.go`) and granted (`pkg/console/partition.go`) both use. The isolated and
//!   sovereign partitions have no public console host that those tools agree on, so
//!   [`Partition::console_hosts`] answers `None` for them and the caller says so.

/// An AWS partition: a set of regions that share credentials and host names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
    AwsEusc,
    AwsIso,
    AwsIsoB,
    AwsIsoE,
    AwsIsoF,
}

/// The console's two hosts in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleHosts {
    /// The federation base URL (no trailing slash): `<base>/federation` takes
    /// `getSigninToken` and `login`, `<base>/oauth` takes `logout`.
    pub signin: &'static str,
    /// The console's host name without a region (`console.aws.amazon.com`); a regional
    /// console is `{region}.{console}`.
    pub console: &'static str,
}

impl Partition {
    /// The partition of `region` (botocore's `regionRegex` prefixes; `aws` for anything else,
    /// including no region at all).
    pub fn of_region(region: Option<&str>) -> Partition {
        let Some(region) = region else {
            return Partition::Aws;
        };
        // Longest prefixes first: "us-isob-" must not be taken for "us-iso-".
        const PREFIXES: [(&str, Partition); 7] = [
            ("us-isob-", Partition::AwsIsoB),
            ("us-isof-", Partition::AwsIsoF),
            ("us-iso-", Partition::AwsIso),
            ("eu-isoe-", Partition::AwsIsoE),
            ("us-gov-", Partition::AwsUsGov),
            ("eusc-", Partition::AwsEusc),
            ("cn-", Partition::AwsCn),
        ];
        PREFIXES
            .iter()
            .find(|(prefix, _)| region.starts_with(prefix))
            .map_or(Partition::Aws, |&(_, p)| p)
    }

    /// The partition's id as ARNs and botocore write it (`aws-us-gov`).
    pub fn id(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
            Partition::AwsEusc => "aws-eusc",
            Partition::AwsIso => "aws-iso",
            Partition::AwsIsoB => "aws-iso-b",
            Partition::AwsIsoE => "aws-iso-e",
            Partition::AwsIsoF => "aws-iso-f",
        }
    }

    /// The partition's DNS suffix (botocore `partitions.json` `dnsSuffix`).
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Partition::Aws | Partition::AwsUsGov => "amazonaws.com",
            Partition::AwsCn => "amazonaws.com.cn",
            Partition::AwsEusc => "amazonaws.eu",
            Partition::AwsIso => "c2s.ic.gov",
            Partition::AwsIsoB => "sc2s.sgov.gov",
            Partition::AwsIsoE => "cloud.adc-e.uk",
            Partition::AwsIsoF => "csp.hci.ic.gov",
        }
    }

    /// The partition's dual-stack DNS suffix (botocore `partitions.json`
    /// `dualStackDnsSuffix`).
    pub fn dual_stack_dns_suffix(self) -> &'static str {
        match self {
            Partition::Aws | Partition::AwsUsGov => "api.aws",
            Partition::AwsCn => "api.amazonwebservices.com.cn",
            Partition::AwsEusc => "api.amazonwebservices.eu",
            Partition::AwsIso => "api.aws.ic.gov",
            Partition::AwsIsoB => "api.aws.scloud",
            Partition::AwsIsoE => "api.cloud-aws.adc-e.uk",
            Partition::AwsIsoF => "api.aws.hci.ic.gov",
        }
    }

    /// The regional sign-in service URL for `region` (no trailing slash), as botocore's
    /// `signin` endpoint rules build it (the service `aws login` talks to).
    pub fn regional_signin(self, region: &str) -> String {
        match self {
            Partition::Aws => format!("https://{region}.signin.aws.amazon.com"),
            Partition::AwsCn => format!("https://{region}.signin.amazonaws.cn"),
            Partition::AwsUsGov => format!("https://{region}.signin.amazonaws-us-gov.com"),
            _ => format!("https://signin.{region}.{}", self.dns_suffix()),
        }
    }

    /// The console federation and console hosts, `None` for a partition without a public
    /// console host that we know of (see the module doc).
    pub fn console_hosts(self) -> Option<ConsoleHosts> {
        let (signin, console) = match self {
            Partition::Aws => ("https://signin.aws.amazon.com", "console.aws.amazon.com"),
            Partition::AwsCn => ("https://signin.amazonaws.cn", "console.amazonaws.cn"),
            Partition::AwsUsGov => (
                "https://signin.amazonaws-us-gov.com",
                "console.amazonaws-us-gov.com",
            ),
            _ => return None,
        };
        Some(ConsoleHosts { signin, console })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_fall_in_their_partitions() {
        let cases = [
            (Some("us-east-1"), "aws"),
            (Some("eu-west-1"), "aws"),
            (None, "aws"),
            (Some("cn-north-1"), "aws-cn"),
            (Some("cn-northwest-1"), "aws-cn"),
            (Some("us-gov-west-1"), "aws-us-gov"),
            (Some("us-gov-east-1"), "aws-us-gov"),
            (Some("us-iso-east-1"), "aws-iso"),
            (Some("us-isob-east-1"), "aws-iso-b"),
            (Some("us-isof-south-1"), "aws-iso-f"),
            (Some("eu-isoe-west-1"), "aws-iso-e"),
            (Some("eusc-de-east-1"), "aws-eusc"),
            // Not a region of any partition's pattern: botocore falls back to aws.
            (Some("mars-north-1"), "aws"),
        ];
        for (region, id) in cases {
            assert_eq!(Partition::of_region(region).id(), id, "{region:?}");
        }
    }

    #[test]
    fn regional_signin_follows_botocore_rules() {
        let cases = [
            ("eu-west-1", "https://eu-west-1.signin.aws.amazon.com"),
            ("cn-north-1", "https://cn-north-1.signin.amazonaws.cn"),
            (
                "us-gov-west-1",
                "https://us-gov-west-1.signin.amazonaws-us-gov.com",
            ),
            (
                "eusc-de-east-1",
                "https://signin.eusc-de-east-1.amazonaws.eu",
            ),
            ("us-iso-east-1", "https://signin.us-iso-east-1.c2s.ic.gov"),
        ];
        for (region, url) in cases {
            assert_eq!(
                Partition::of_region(Some(region)).regional_signin(region),
                url
            );
        }
    }

    #[test]
    fn console_hosts_per_partition() {
        let hosts = |r: &str| Partition::of_region(Some(r)).console_hosts();
        assert_eq!(
            hosts("eu-west-1").unwrap().signin,
            "https://signin.aws.amazon.com"
        );
        assert_eq!(
            hosts("eu-west-1").unwrap().console,
            "console.aws.amazon.com"
        );
        assert_eq!(
            hosts("cn-north-1").unwrap().signin,
            "https://signin.amazonaws.cn"
        );
        assert_eq!(hosts("cn-north-1").unwrap().console, "console.amazonaws.cn");
        assert_eq!(
            hosts("us-gov-west-1").unwrap().signin,
            "https://signin.amazonaws-us-gov.com"
        );
        assert_eq!(
            hosts("us-gov-west-1").unwrap().console,
            "console.amazonaws-us-gov.com"
        );
        assert_eq!(hosts("us-iso-east-1"), None);
        assert_eq!(hosts("eusc-de-east-1"), None);
    }
}
