//! What decides a request, read by the configuration's own sections and
//! without its secrets: the policy tester's view (`tools/policy`), which
//! must judge exactly as the Worker does.

use super::vars::Vars;
use super::{authorization, dbsc, enforcement, origin, ConfigErrors, Enforcement};
use crate::policy::Policy;
use crate::routes::PublicPaths;

/// The single app's policy and what it never sees.
pub struct Deciding {
    pub policy: Policy,
    /// `PUBLIC_PATHS`, with a same-origin login page, as the Worker has them.
    pub public_paths: PublicPaths,
    pub mode: Enforcement,
    /// `DEVICE_BOUND` is not `off`: only then does the gate count a
    /// session as bound.
    pub device_binding: bool,
    /// `BEARER_AUDIENCE` is set: machine clients reach the policy.
    pub machine_clients: bool,
}

impl Deciding {
    /// Reads the sections through `lookup`, every problem at once, as
    /// [`Config::read`](super::Config::read) reports them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        let mut vars = Vars::new(&lookup);
        let login_url = origin::login_url(&mut vars);
        let public_paths = origin::public_paths(&mut vars);
        let policy = authorization::read(&mut vars);
        let enforcement = enforcement::read(&mut vars);
        let requirement = dbsc::requirement(&mut vars);
        let machine_clients = vars.get("BEARER_AUDIENCE").is_some();
        vars.finish(|| {
            let mut public_paths = public_paths?;
            login_url?.make_public(&mut public_paths);
            Some(Self {
                policy: policy?,
                public_paths,
                mode: enforcement?.mode,
                device_binding: requirement? != crate::dbsc::Requirement::Off,
                machine_clients,
            })
        })
    }
}
