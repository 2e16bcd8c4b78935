//! The command line, parsed by hand: a few flags, then `METHOD PATH`.

use std::path::PathBuf;

use sessiongate_core::duration;
use sessiongate_core::policy::Fallback;
use sessiongate_core::session::Claims;

pub const USAGE: &str = "\
usage: npm run policy -- --user ID [options] METHOD PATH
       npm run policy -- --client ID [--scope S] METHOD PATH
       npm run policy -- --lint [--config FILE | --policy FILE [--default D]]

Which POLICY rule decides a request of this user's (or machine client's),
and what it answers, with the gate's own code. PATH may carry a query (a
POST's _method in it is judged too) or be a URL. --lint lists the traps a
valid policy can hold instead.

who (--user or --client):
  --user ID               the session's user id
  --email ADDR            the session's email
  --groups A,B            its groups (repeatable)
  --claim NAME=VALUE      one of its claims (repeatable)
  --device-bound          the session is bound to its device
  --auth-age DURATION     time since the user signed in (or the client's
                          token was issued): 90s, 20m, 12h, 2d (0)
  --client ID             a machine client's access token: its client_id
  --scope S               scopes of its token (repeatable, or space-separated)

which policy:
  --config FILE           the wrangler.toml whose [vars] hold POLICY,
                          POLICY_DEFAULT, PUBLIC_PATHS and LOGIN_URL (./wrangler.toml)
  --policy FILE           a JSON array of rules instead of POLICY
  --default allow|deny    with --policy: what a path no rule matches gets (allow)

exit status: 0 the request passes (allowed, public, an edge endpoint), or
--lint found warnings only; 1 it is refused (forbidden, step-up, a path
refused with 400); 2 a usage or configuration error.";

/// What to decide, and where the policy comes from.
#[derive(Debug)]
pub struct Args {
    pub who: Who,
    pub email: Option<String>,
    pub groups: Vec<String>,
    pub claims: Claims,
    pub device_bound: bool,
    /// Seconds since the user signed in.
    pub auth_age: u64,
    pub source: Source,
    pub method: String,
    /// The path as given: perhaps with a query, or a whole URL.
    pub target: String,
}

/// Where the settings come from: `--config`, and `--policy` instead of
/// its `POLICY` (with `--default` instead of its `POLICY_DEFAULT`).
#[derive(Debug, Default)]
pub struct Source {
    pub config: Option<PathBuf>,
    pub policy: Option<PathBuf>,
    pub default: Option<Fallback>,
}

/// Whose request it is.
#[derive(Debug)]
pub enum Who {
    User(String),
    /// A machine client (DESIGN §15): its `client_id` and space-separated scopes.
    Client {
        id: String,
        scope: String,
    },
}

pub enum Command {
    Decide(Box<Args>),
    Lint(Source),
    Help,
}

impl Command {
    /// Reads the arguments after the program's name. `--flag value` and
    /// `--flag=value` both work.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut args = args.into_iter();
        let mut user = None;
        let mut client = None;
        let mut scopes: Vec<String> = Vec::new();
        let mut email = None;
        let mut groups = Vec::new();
        let mut claims = Claims::new();
        let mut device_bound = false;
        let mut auth_age = 0;
        let mut source = Source::default();
        let mut lint = false;
        let mut positional = Vec::new();

        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if arg.starts_with("--") => (flag, Some(value.to_owned())),
                _ => (arg.as_str(), None),
            };
            // The flag's value: after `=`, or the next argument.
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag {
                "-h" | "--help" => return Ok(Self::Help),
                "--lint" => lint = true,
                "--user" => user = Some(value()?),
                "--client" => client = Some(value()?),
                "--scope" => scopes.extend(value()?.split_whitespace().map(str::to_owned)),
                "--email" => email = Some(value()?),
                "--groups" => groups.extend(
                    value()?
                        .split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_owned),
                ),
                "--claim" => {
                    let (name, value) = claim(&value()?)?;
                    claims.insert(name, value);
                }
                "--device-bound" => device_bound = true,
                "--auth-age" => auth_age = age(&value()?)?,
                "--config" => source.config = Some(PathBuf::from(value()?)),
                "--policy" => source.policy = Some(PathBuf::from(value()?)),
                "--default" => {
                    source.default =
                        Some(Fallback::parse(&value()?).map_err(|e| format!("--default: {e}"))?)
                }
                "--" => positional.extend(args.by_ref()),
                flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
                _ => positional.push(arg),
            }
        }

        if source.default.is_some() && source.policy.is_none() {
            return Err("--default goes with --policy; otherwise POLICY_DEFAULT applies".into());
        }
        if lint {
            return match positional.is_empty() {
                true => Ok(Self::Lint(source)),
                false => Err("--lint takes no METHOD PATH".into()),
            };
        }
        let who = Who::from_flags(user, client, scopes)?;
        let [method, target]: [String; 2] = positional
            .try_into()
            .map_err(|_| "expected METHOD PATH after the options, e.g. GET /admin/users")?;
        Ok(Self::Decide(Box::new(Args {
            who,
            email,
            groups,
            claims,
            device_bound,
            auth_age,
            source,
            method,
            target,
        })))
    }
}

impl Who {
    /// `--user`, or `--client` with its `--scope`s: one of them.
    fn from_flags(
        user: Option<String>,
        client: Option<String>,
        scopes: Vec<String>,
    ) -> Result<Self, String> {
        match (
            user.filter(|u| !u.is_empty()),
            client.filter(|c| !c.is_empty()),
        ) {
            (Some(_), Some(_)) => Err("--user or --client, not both".into()),
            (Some(user), None) if scopes.is_empty() => Ok(Who::User(user)),
            (Some(_), None) => Err("--scope goes with --client".into()),
            (None, Some(id)) => Ok(Who::Client {
                id,
                scope: scopes.join(" "),
            }),
            (None, None) => Err("--user (or --client) is required".into()),
        }
    }
}

/// `--claim NAME=VALUE`.
fn claim(claim: &str) -> Result<(String, String), String> {
    claim
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("--claim {claim:?} must be NAME=VALUE"))
}

/// `--auth-age`: a duration, or 0 (signed in just now).
fn age(age: &str) -> Result<u64, String> {
    match age.trim() {
        "0" => Ok(0),
        age => duration::parse(age).map_err(|e| format!("--auth-age: {e}")),
    }
}
