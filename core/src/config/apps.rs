//! The applications section (docs/DESIGN.md §8, §16): `APPS` and
//! `AUTH_HOST`, or without them the single app of `ORIGIN_URL`,
//! `AUDIENCE`, `PUBLIC_PATHS`, `POLICY`, `POLICY_DEFAULT` and
//! `BEARER_AUDIENCE`, read as they always were.
//!
//! Each fact has one place: with `APPS`, the single-app variables are
//! errors, and a problem inside an app names it, `APPS[wiki].policy: …`.

use serde_json::{Map, Value};

use super::origin::{self, LoginUrl};
use super::{authorization, bearer, Vars};
use crate::apps::{self, App, Apps};
use crate::cookie::{CookieSpec, SameSite};
use crate::session;

pub const VAR: &str = "APPS";
pub const AUTH_HOST: &str = "AUTH_HOST";

/// Variables of the single-app gate, each with the field of an app that
/// takes its place.
const SINGLE_APP: [(&str, &str); 6] = [
    ("ORIGIN_URL", "origin"),
    ("AUDIENCE", "audience"),
    ("PUBLIC_PATHS", "public_paths"),
    ("POLICY", "policy"),
    ("POLICY_DEFAULT", "policy_default"),
    ("BEARER_AUDIENCE", "bearer_audience"),
];

/// What the rest of the configuration tells this section.
pub(super) struct Context<'c> {
    /// The gate's lifetimes: the sign-in's, and each app's ceiling.
    pub lifetime: Option<session::Lifetimes>,
    pub cookie: Option<&'c CookieSpec>,
    pub signing_keys: bool,
}

/// The section as first read, where the origin's variables always were;
/// [`finish`] reads the rest where `POLICY` and `BEARER_*` were, so that
/// problems are reported in the order they always were.
pub(super) enum Draft {
    Single(Option<origin::Origin>),
    Many {
        text: String,
        auth_host: Option<String>,
        login_url: Option<LoginUrl>,
    },
}

pub(super) fn read(vars: &mut Vars) -> Draft {
    let Some(text) = vars.get(VAR) else {
        if vars.get(AUTH_HOST).is_some() {
            vars.report(AUTH_HOST, "is set, but APPS is not".to_owned());
        }
        return Draft::Single(origin::read(vars));
    };
    for (var, field) in SINGLE_APP {
        if vars.get(var).is_some() {
            let problem = format!("is a single-app variable: with APPS, each app sets its {field}");
            vars.report(var, problem);
        }
    }
    let auth_host = vars.check(
        AUTH_HOST,
        vars.required(AUTH_HOST).and_then(|v| apps::check_host(&v)),
    );
    Draft::Many {
        text,
        auth_host,
        login_url: origin::login_url(vars),
    }
}

/// The apps, and where unauthenticated browsers are sent.
pub(super) fn finish(
    vars: &mut Vars,
    draft: Draft,
    context: &Context<'_>,
) -> Option<(Apps, LoginUrl)> {
    let (text, auth_host, login_url) = match draft {
        Draft::Single(origin) => return single(vars, origin, context),
        Draft::Many {
            text,
            auth_host,
            login_url,
        } => (text, auth_host, login_url),
    };
    let bearer = bearer::settings(vars);
    if !context.signing_keys {
        let problem = "needs ASSERTION_SIGNING_KEYS: with several apps, no origin may hold a key \
                       that another app's origin would accept";
        vars.report(VAR, problem.to_owned());
    }
    if context.cookie.map(CookieSpec::same_site) == Some(SameSite::Strict) {
        let problem = "must not be Strict with APPS: a browser coming back from AUTH_HOST would \
                       not send the app's cookie";
        vars.report("COOKIE_SAMESITE", problem.to_owned());
    }
    let list = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(list)) if !list.is_empty() => list,
        _ => {
            let problem = "must be a non-empty list of apps ([[vars.APPS]] tables, or their JSON)";
            vars.report(VAR, problem.to_owned());
            return None;
        }
    };
    // Sent on the top-level redirect back from AUTH_HOST: Lax.
    let nonce_cookie = context.cookie.map(|cookie| {
        CookieSpec::new(&format!("{}-sso", cookie.name()), SameSite::Lax)
            .map_err(|e| format!("{}-sso (the code's nonce cookie) {e}", cookie.name()))
    });
    let nonce_cookie = match nonce_cookie {
        Some(result) => vars.check("COOKIE_NAME", result),
        None => None,
    };
    let lifetime = context.lifetime?;
    let mut apps: Vec<App> = Vec::new();
    let mut valid = true;
    for (i, value) in list.iter().enumerate() {
        match read_app(vars, i, value, lifetime, bearer.as_ref()) {
            Some(app) => apps.push(app),
            None => valid = false,
        }
    }
    let (auth_host, login_url) = (auth_host?, login_url?);
    if !valid {
        return None;
    }
    check_unique(vars, &apps)?;
    let at_auth_host = apps.iter().position(|app| app.hosts.contains(&auth_host));
    match (at_auth_host, vars.get("OIDC_ISSUER")) {
        // The login page is the app's there: it must be reachable.
        (Some(i), _) => {
            login_url.make_public(&mut apps[i].public_paths);
        }
        (None, Some(_)) => {}
        (None, None) => {
            let problem = format!(
                "{auth_host:?} is no app's host, and without OIDC_ISSUER no one could sign in there"
            );
            vars.report(AUTH_HOST, problem);
            return None;
        }
    }
    if let Some(uri) = vars.get("OIDC_REDIRECT_URI") {
        let authority = apps::authority(uri.trim())
            .split('/')
            .next()
            .unwrap_or_default();
        if !apps::hostname(authority).eq_ignore_ascii_case(&auth_host) {
            let problem =
                format!("must be on AUTH_HOST ({auth_host}): the one callback of every app");
            vars.report("OIDC_REDIRECT_URI", problem);
            return None;
        }
    }
    Some((Apps::many(apps, auth_host, nonce_cookie?), login_url))
}

/// The single-app gate, from its variables.
fn single(
    vars: &mut Vars,
    origin: Option<origin::Origin>,
    context: &Context<'_>,
) -> Option<(Apps, LoginUrl)> {
    let authorization = authorization::read(vars);
    let bearer = bearer::read(vars);
    let origin = origin?;
    let app = App {
        name: String::new(),
        hosts: Vec::new(),
        origin_url: origin.origin_url,
        audience: origin.audience,
        public_paths: origin.public_paths,
        authorization: authorization?,
        bearer: bearer?,
        lifetime: context.lifetime?,
    };
    Some((Apps::single(app), origin.login_url))
}

/// An app's fields, each with the variable of the single-app gate whose
/// reader reads it (`None` for those only an app has).
const FIELDS: [(&str, Option<&str>); 10] = [
    ("name", None),
    ("hosts", None),
    ("origin", Some("ORIGIN_URL")),
    ("audience", Some("AUDIENCE")),
    ("public_paths", Some("PUBLIC_PATHS")),
    ("policy", Some("POLICY")),
    ("policy_default", Some("POLICY_DEFAULT")),
    ("bearer_audience", Some("BEARER_AUDIENCE")),
    ("idle_timeout", Some("IDLE_TIMEOUT")),
    ("absolute_timeout", Some("ABSOLUTE_TIMEOUT")),
];

/// One app of `APPS`. Its fields are read by the single-app gate's own
/// section readers, as the variables they stand for; every problem is
/// reported against `APPS[<name>].<field>`.
#[inline(never)]
fn read_app(
    vars: &mut Vars,
    index: usize,
    value: &Value,
    ceiling: session::Lifetimes,
    bearer: Option<&bearer::Settings>,
) -> Option<App> {
    let Some(fields) = value.as_object() else {
        vars.report_at(
            format!("{VAR}[{index}]"),
            "must be a table of the app's fields".into(),
        );
        return None;
    };
    let name = app_name(vars, index, fields)?;
    let at = |field: &str| format!("{VAR}[{name}].{field}");
    let mut valid = known_fields(vars, &name, fields);
    let hosts = hosts(fields)
        .map_err(|problem| vars.report_at(at("hosts"), problem))
        .ok();
    // PUBLIC_PATHS separates paths with commas: an app lists them.
    let paths_ok = match fields.get("public_paths").map(strings) {
        Some(Some(paths)) => paths.iter().all(|p| !p.contains(',')),
        Some(None) => false,
        None => true,
    };
    if !paths_ok {
        vars.report_at(
            at("public_paths"),
            "must be a list of paths, none with a comma".to_owned(),
        );
        valid = false;
    }
    // The fields as the variables their readers read.
    let lookup = |var: &str| -> Option<String> {
        let field = FIELDS
            .iter()
            .find(|(_, v)| *v == Some(var))
            .map(|(f, _)| *f);
        match (var, field.and_then(|f| fields.get(f))) {
            ("AUDIENCE", None) => Some(name.clone()),
            ("IDLE_TIMEOUT", None) => Some(ceiling.idle().to_string()),
            ("ABSOLUTE_TIMEOUT", None) => Some(ceiling.absolute().to_string()),
            ("PUBLIC_PATHS", Some(paths)) => strings(paths).map(|paths| paths.join(",")),
            (_, Some(Value::String(text))) => Some(text.clone()),
            (_, Some(Value::Number(n))) => Some(n.to_string()),
            (_, Some(other)) => Some(other.to_string()),
            (_, None) => None,
        }
    };
    let mut app_vars = Vars::new(&lookup);
    let (origin_url, audience) = origin::target(&mut app_vars);
    let public_paths = origin::public_paths(&mut app_vars);
    let authorization = authorization::read(&mut app_vars);
    let lifetime = super::session::lifetime(&mut app_vars).and_then(|lifetime| {
        let within = lifetime.idle() <= ceiling.idle() && lifetime.absolute() <= ceiling.absolute();
        within.then_some(lifetime).or_else(|| {
            let problem = "must not exceed the gate's IDLE_TIMEOUT and ABSOLUTE_TIMEOUT";
            app_vars.report("IDLE_TIMEOUT", problem.to_owned());
            None
        })
    });
    let bearer = match (app_vars.get("BEARER_AUDIENCE"), bearer) {
        (None, _) => Some(None),
        (Some(audience), Some(settings)) => app_vars
            .check("BEARER_AUDIENCE", settings.for_audience(&audience))
            .map(Some),
        (Some(_), None) => None,
    };
    for error in app_vars.into_errors() {
        let field = FIELDS
            .iter()
            .find(|(_, var)| *var == Some(error.var.as_ref()))
            .map_or("", |(field, _)| *field);
        vars.report_at(at(field), error.problem);
        valid = false;
    }
    let app = App {
        name: name.clone(),
        hosts: hosts?,
        origin_url: origin_url?,
        audience: audience?,
        public_paths: public_paths?,
        authorization: authorization?,
        bearer: bearer?,
        lifetime: lifetime?,
    };
    valid.then_some(app)
}

/// The app's `name`, checked; reported against its index when wrong.
fn app_name(vars: &mut Vars, index: usize, fields: &Map<String, Value>) -> Option<String> {
    let name = match fields
        .get("name")
        .map(|v| v.as_str().ok_or("must be a string"))
    {
        Some(Ok(name)) => apps::check_name(name).map(|()| name.to_owned()),
        Some(Err(problem)) => Err(problem.to_owned()),
        None => Err("is required".to_owned()),
    };
    name.map_err(|problem| vars.report_at(format!("{VAR}[{index}].name"), problem))
        .ok()
}

/// Whether every field is one an app has; each other is reported.
fn known_fields(vars: &mut Vars, name: &str, fields: &Map<String, Value>) -> bool {
    let mut known = true;
    for field in fields.keys() {
        if !FIELDS.iter().any(|(f, _)| f == field) {
            let list: Vec<&str> = FIELDS.iter().map(|(f, _)| *f).collect();
            let problem = format!("is not a field of an app (they are {})", list.join(", "));
            vars.report_at(format!("{VAR}[{name}].{field}"), problem);
            known = false;
        }
    }
    known
}

/// `hosts`: at least one, each a host name.
fn hosts(fields: &Map<String, Value>) -> Result<Vec<String>, String> {
    match fields.get("hosts").map(strings) {
        Some(Some(hosts)) if !hosts.is_empty() => {
            hosts.iter().map(|h| apps::check_host(h)).collect()
        }
        Some(_) => Err("must list the app's host names".to_owned()),
        None => Err("is required".to_owned()),
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Names unique, each host in one app only.
fn check_unique(vars: &mut Vars, apps: &[App]) -> Option<()> {
    let mut ok = true;
    for (i, app) in apps.iter().enumerate() {
        if apps[..i].iter().any(|earlier| earlier.name == app.name) {
            vars.report_at(
                format!("{VAR}[{}].name", app.name),
                "is used by an earlier app: names must be unique".to_owned(),
            );
            ok = false;
        }
        for host in &app.hosts {
            if let Some(other) = apps[..i]
                .iter()
                .find(|earlier| earlier.hosts.contains(host))
            {
                vars.report_at(
                    format!("{VAR}[{}].hosts", app.name),
                    format!(
                        "{host:?} is also a host of {VAR}[{}]: a host is in one app only",
                        other.name
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse, problems};
    use crate::assertion::signing::test_keys::P256;

    const APPS: &str = r#"[
        {"name": "accounts", "hosts": ["accounts.example.com"], "origin": "https://login.internal",
         "public_paths": ["/static/*"]},
        {"name": "wiki", "hosts": ["wiki.example.com", "docs.example-tools.net"],
         "origin": "https://wiki.internal", "audience": "wiki-aud",
         "policy": [{"name": "editors", "paths": ["/edit/*"], "allow": [{"groups": ["editors"]}]}],
         "policy_default": "allow", "idle_timeout": "10m"},
        {"name": "tools", "hosts": ["tools.example-tools.net"], "origin": "https://tools.internal",
         "policy_default": "deny", "absolute_timeout": "1h"}
    ]"#;

    fn with_apps<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut vars = vec![
            ("APPS", APPS),
            ("AUTH_HOST", "accounts.example.com"),
            ("ORIGIN_URL", ""),
            ("AUDIENCE", ""),
        ];
        vars.extend_from_slice(extra);
        vars
    }

    fn keys() -> String {
        format!("k1:{P256}")
    }

    #[test]
    fn apps_are_read_with_their_defaults_and_the_login_page_is_public_at_auth_host() {
        let keys = keys();
        let config = parse(&with_apps(&[("ASSERTION_SIGNING_KEYS", &keys)])).unwrap();
        let apps = &config.apps;
        assert_eq!(apps.auth_host(), Some("accounts.example.com"));
        let names: Vec<&str> = apps.list().iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["accounts", "wiki", "tools"]);
        let accounts = apps.named("accounts").unwrap();
        assert_eq!(
            accounts.audience, "accounts",
            "the audience defaults to the name"
        );
        assert!(accounts.public_paths.is_public("/login"));
        let wiki = apps.named("wiki").unwrap();
        assert_eq!(wiki.audience, "wiki-aud");
        assert!(
            !wiki.public_paths.is_public("/login"),
            "the login page is AUTH_HOST's"
        );
        assert_eq!(
            (wiki.lifetime.idle(), wiki.lifetime.absolute()),
            (600, 43_200)
        );
        let tools = apps.named("tools").unwrap();
        assert_eq!(
            (tools.lifetime.idle(), tools.lifetime.absolute()),
            (1800, 3600)
        );
        assert!(tools.authorization.is_active(), "policy_default deny");
    }

    #[test]
    fn with_apps_the_single_app_variables_are_errors_by_name() {
        let keys = keys();
        let problem = problems(&[
            ("APPS", APPS),
            ("AUTH_HOST", "accounts.example.com"),
            ("ASSERTION_SIGNING_KEYS", &keys),
            ("POLICY", "[]"),
        ]);
        assert!(problem.starts_with("ORIGIN_URL: is a single-app variable: with APPS, each app sets its origin; AUDIENCE: is a single-app variable"), "{problem}");
        assert!(
            problem.contains("POLICY: is a single-app variable"),
            "{problem}"
        );
    }

    #[test]
    fn apps_need_signing_keys_and_an_auth_host_people_can_sign_in_at() {
        assert_eq!(
            problems(&with_apps(&[])),
            "APPS: needs ASSERTION_SIGNING_KEYS: with several apps, no origin may hold a key that another app's origin would accept"
        );
        let keys = keys();
        let nowhere = with_apps(&[
            ("ASSERTION_SIGNING_KEYS", &keys),
            ("AUTH_HOST", "id.example.com"),
        ]);
        assert_eq!(
            problems(&nowhere),
            "AUTH_HOST: \"id.example.com\" is no app's host, and without OIDC_ISSUER no one could sign in there"
        );
        assert_eq!(
            problems(&[("AUTH_HOST", "accounts.example.com")]),
            "AUTH_HOST: is set, but APPS is not"
        );
        let strict = with_apps(&[
            ("ASSERTION_SIGNING_KEYS", &keys),
            ("COOKIE_SAMESITE", "Strict"),
        ]);
        assert!(problems(&strict).starts_with("COOKIE_SAMESITE: must not be Strict with APPS"));
    }

    #[test]
    fn a_problem_inside_an_app_names_the_app_and_field() {
        let keys = keys();
        let cases = [
            (
                r#"[{"name": "wiki", "hosts": ["wiki.example.com"], "origin": "https://w",
                     "policy": [{"name": "x", "paths": ["/a"], "allow": []}]}]"#,
                "APPS[wiki].policy: rule 0 (\"x\"): allow: must list at least one condition",
            ),
            (
                r#"[{"name": "a", "hosts": ["x.example.com"], "origin": "https://a"},
                    {"name": "b", "hosts": ["X.example.com"], "origin": "https://b"}]"#,
                "APPS[b].hosts: \"x.example.com\" is also a host of APPS[a]: a host is in one app only",
            ),
            (
                r#"[{"name": "a", "hosts": ["x.example.com"], "origin": "https://a"},
                    {"name": "a", "hosts": ["y.example.com"], "origin": "https://b"}]"#,
                "APPS[a].name: is used by an earlier app: names must be unique",
            ),
            (
                r#"[{"name": "Wiki", "hosts": ["x.example.com"], "origin": "https://a"}]"#,
                "APPS[0].name: \"Wiki\" must be 1 to 32 characters of a-z, 0-9 and -",
            ),
            (
                r#"[{"name": "a", "hosts": ["x.example.com"], "origin": "https://a", "orign": "x"}]"#,
                "APPS[a].orign: is not a field of an app",
            ),
            (
                r#"[{"name": "a", "hosts": ["x.example.com"], "origin": "https://a", "idle_timeout": "1h"}]"#,
                "APPS[a].idle_timeout: must not exceed the gate's IDLE_TIMEOUT and ABSOLUTE_TIMEOUT",
            ),
            (
                r#"[{"name": "a", "hosts": ["x.example.com"], "origin": "https://a", "absolute_timeout": "13h"}]"#,
                "APPS[a].idle_timeout: must not exceed the gate's IDLE_TIMEOUT and ABSOLUTE_TIMEOUT",
            ),
            (
                r#"[{"name": "a", "hosts": ["x.example.com"], "origin": "https://a", "public_paths": ["/a,b"]}]"#,
                "APPS[a].public_paths: must be a list of paths, none with a comma",
            ),
            (
                r#"[{"name": "a", "hosts": ["x.example.com"], "origin": "a.internal"}]"#,
                "APPS[a].origin: \"a.internal\" must be http(s)://host[:port]",
            ),
            (
                r#"[{"name": "a", "hosts": ["https://x.example.com"], "origin": "https://a"}]"#,
                "APPS[a].hosts: \"https://x.example.com\" must be a host name",
            ),
            ("{}", "APPS: must be a non-empty list of apps"),
        ];
        for (apps, problem) in cases {
            let vars = [
                ("APPS", apps),
                ("AUTH_HOST", "x.example.com"),
                ("ASSERTION_SIGNING_KEYS", keys.as_str()),
                ("ORIGIN_URL", ""),
                ("AUDIENCE", ""),
            ];
            let found = problems(&vars);
            assert!(found.starts_with(problem), "{apps}\n  {found}");
        }
    }
}
