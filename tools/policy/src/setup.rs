//! The policy and the paths it never sees, read as the Worker reads them:
//! from `wrangler.toml`'s `[vars]` (or a rules file given instead).

use std::fs;
use std::path::{Path, PathBuf};

use sessiongate_core::config::{Enforcement, LoginUrl, DEFAULT_LOGIN_URL, DEFAULT_MODE};
use sessiongate_core::dbsc;
use sessiongate_core::oidc::START_PATH;
use sessiongate_core::policy::{Fallback, Policy};
use sessiongate_core::routes::PublicPaths;

use crate::args::Source;

/// What decides a request, checked.
pub struct Setup {
    pub policy: Policy,
    /// `PUBLIC_PATHS` with the same-origin login page, as the Worker has it.
    pub public_paths: PublicPaths,
    pub mode: Enforcement,
    /// `DEVICE_BOUND` is not `off`: only then does the gate count a
    /// session as bound.
    pub device_binding: bool,
    /// `BEARER_AUDIENCE` is set: machine clients reach the policy.
    pub machine_clients: bool,
}

const DEFAULT_CONFIG: &str = "wrangler.toml";

impl Setup {
    /// Reads `--config` (or `./wrangler.toml`) and `--policy`. With
    /// `--policy`, a missing `./wrangler.toml` leaves the Worker's defaults.
    pub fn read(source: &Source) -> Result<Self, String> {
        let config = source
            .config
            .clone()
            .unwrap_or(PathBuf::from(DEFAULT_CONFIG));
        let vars = if source.config.is_none() && source.policy.is_some() && !config.exists() {
            toml::Table::new()
        } else {
            read_vars(&config)?
        };
        let var = |name: &str| var(&vars, name);
        let at = config.display();

        let policy = match &source.policy {
            Some(file) => {
                let rules = fs::read_to_string(file)
                    .map_err(|e| format!("{}: cannot read it: {e}", file.display()))?;
                Policy::parse(&rules, source.default.unwrap_or_default())
                    .map_err(|e| format!("{}: {e}", file.display()))?
            }
            None => {
                let fallback = match var("POLICY_DEFAULT") {
                    Some(v) => {
                        Fallback::parse(&v).map_err(|e| format!("{at}: POLICY_DEFAULT: {e}"))?
                    }
                    None => Fallback::default(),
                };
                Policy::parse(&var("POLICY").unwrap_or_default(), fallback)
                    .map_err(|e| format!("{at}: POLICY: {e}"))?
            }
        };

        let mut public_paths = PublicPaths::parse(&var("PUBLIC_PATHS").unwrap_or_default())
            .map_err(|e| format!("{at}: PUBLIC_PATHS: {e}"))?;
        // As core/src/config/origin.rs: with a provider, browsers sign in at the
        // edge unless told otherwise; a same-origin login page is public.
        let default_login = match var("OIDC_ISSUER") {
            Some(_) => START_PATH,
            None => DEFAULT_LOGIN_URL,
        };
        let login_url = LoginUrl::parse(&var("LOGIN_URL").unwrap_or(default_login.into()))
            .map_err(|e| format!("{at}: LOGIN_URL: {e}"))?;
        if let Some(path) = login_url.same_origin_path() {
            public_paths.add_exact(path);
        }
        let mode = Enforcement::parse(&var("MODE").unwrap_or(DEFAULT_MODE.into()))
            .map_err(|e| format!("{at}: MODE: {e}"))?;
        let binding =
            dbsc::Requirement::parse(&var("DEVICE_BOUND").unwrap_or(dbsc::DEFAULT_MODE.into()))
                .map_err(|e| format!("{at}: DEVICE_BOUND: {e}"))?;
        Ok(Self {
            policy,
            public_paths,
            mode,
            device_binding: binding != dbsc::Requirement::Off,
            machine_clients: var("BEARER_AUDIENCE").is_some(),
        })
    }
}

/// The `[vars]` table of a `wrangler.toml`; none is an empty table.
fn read_vars(path: &Path) -> Result<toml::Table, String> {
    let at = path.display();
    let text = fs::read_to_string(path).map_err(|e| format!("{at}: cannot read it: {e}"))?;
    let mut document: toml::Table = text
        .parse()
        .map_err(|e| format!("{at}: not valid TOML: {e}"))?;
    match document.remove("vars") {
        None => Ok(toml::Table::new()),
        Some(toml::Value::Table(vars)) => Ok(vars),
        Some(_) => Err(format!("{at}: [vars] is not a table")),
    }
}

/// A variable as the Worker sees it: a string as it is, any other value
/// (a `POLICY` array of tables, a number) as its JSON text; an empty
/// string is unset.
fn var(vars: &toml::Table, name: &str) -> Option<String> {
    let text = match vars.get(name)? {
        toml::Value::String(text) => text.clone(),
        other => serde_json::to_string(other).ok()?,
    };
    (!text.trim().is_empty()).then_some(text)
}
