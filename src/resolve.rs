//! A profile made ready to run, with no network and no cache: the chain, the region, the STS
//! endpoint and the plan ([`resolve`]), and what every part of a run reads ([`Run`]). Apart
//! from the pipeline so that what reads a resolved profile (`list`, `clear`, the advice after
//! a failure) need not import the pipeline that runs it.

use time::OffsetDateTime;

use crate::cli::Options;
use crate::config::{Chain, Config};
use crate::error::Result;
use crate::log::Log;
use crate::plan::{self, Plan};
use crate::settings::Settings;
use crate::sts::Endpoint;
use crate::units;

/// What every part of a run reads: the command line, the settings, the log.
#[derive(Clone, Copy)]
pub struct Run<'a> {
    pub opts: &'a Options,
    pub settings: &'a Settings,
    pub log: &'a Log,
}

/// A profile made ready to run: no network, no cache.
pub(crate) struct Resolved {
    pub chain: Chain,
    pub plan: Plan,
    pub endpoint: Endpoint,
    /// `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile chain's.
    pub region: Option<String>,
    /// The RoleSessionName for roles whose profile names none.
    pub session_name: String,
}

/// Profile → chain, region, endpoint and plan. `now` dates the default session name.
pub(crate) fn resolve(
    config: &Config,
    profile: &str,
    opts: &Options,
    settings: &Settings,
    now: OffsetDateTime,
) -> Result<Resolved> {
    let chain = config.resolve(profile, settings)?;
    let region = requested_region(opts, settings).or_else(|| chain.region.clone());
    let mut endpoints = settings.endpoints.clone();
    endpoints.ignore_configured |= chain.ignore_configured_endpoint_urls;
    // As botocore's config chain: the variable, else the profile.
    endpoints.use_fips = endpoints.use_fips.or(chain.use_fips_endpoint);
    endpoints.use_dualstack = endpoints.use_dualstack.or(chain.use_dualstack_endpoint);
    endpoints.sts_regional = endpoints
        .sts_regional
        .take()
        .or_else(|| chain.sts_regional_endpoints.clone());
    let configured = chain
        .endpoint
        .as_ref()
        .map(|c| (c.url.as_str(), c.origin.as_str()));
    let endpoint = Endpoint::resolve(&endpoints, configured, region.as_deref())?;
    let session_name = units::default_session_name(settings.user.as_deref(), now);
    let plan = plan::plan(
        &chain,
        &plan::Overrides {
            duration: opts.duration,
            no_session: opts.no_session,
        },
        &endpoint.key(),
        &session_name,
    )?;
    Ok(Resolved {
        chain,
        plan,
        endpoint,
        region,
        session_name,
    })
}

/// The region asked for outside the config: `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`.
pub(crate) fn requested_region(opts: &Options, settings: &Settings) -> Option<String> {
    opts.region.clone().or_else(|| settings.region.clone())
}
