//! The policy and the paths it never sees, read as the Worker reads them:
//! from `wrangler.toml`'s `[vars]` (or a rules file given instead).

use std::fs;
use std::path::{Path, PathBuf};

use sessiongate_core::config::Deciding;
use sessiongate_core::policy::Policy;

use crate::args::Source;

const DEFAULT_CONFIG: &str = "wrangler.toml";

/// Reads `--config` (or `./wrangler.toml`) through the Worker's own
/// configuration sections, and `--policy` in place of `POLICY` and
/// `POLICY_DEFAULT`. With `--policy`, a missing `./wrangler.toml` leaves
/// the Worker's defaults.
pub fn read(source: &Source) -> Result<Deciding, String> {
    let config = source
        .config
        .clone()
        .unwrap_or(PathBuf::from(DEFAULT_CONFIG));
    let vars = if source.config.is_none() && source.policy.is_some() && !config.exists() {
        toml::Table::new()
    } else {
        read_vars(&config)?
    };
    // Each app of APPS has its own paths and rules: read as the single
    // app's, every path would be "allow". With --policy, the file's rules
    // are judged with the single app's public paths (none with APPS).
    if var(&vars, "APPS").is_some() && source.policy.is_none() {
        return Err(format!(
            "{}: APPS is set: npm run policy judges one app's rules; put them in a file \
             and pass --policy FILE",
            config.display()
        ));
    }
    let replaced = |name: &str| {
        source.policy.is_some() && matches!(name, "POLICY" | "POLICY_DEFAULT" | "APPS")
    };
    let mut deciding = Deciding::from_lookup(|name| var(&vars, name).filter(|_| !replaced(name)))
        .map_err(|e| format!("{}: {e}", config.display()))?;
    if let Some(file) = &source.policy {
        let rules = fs::read_to_string(file)
            .map_err(|e| format!("{}: cannot read it: {e}", file.display()))?;
        deciding.policy = Policy::parse(&rules, source.default.unwrap_or_default())
            .map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(deciding)
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
