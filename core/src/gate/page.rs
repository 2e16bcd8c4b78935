//! The pages the edge answers browsers with, in one look: the "your
//! sessions" page (`GET /.sessiongate/sessions`), the refusal of a path the
//! policy closes to this user, and the failed sign-in. Each says who is
//! signed in where it knows, and what to do next. Plain HTML, no script,
//! a strict CSP; forms post back to the edge, which checks them like every
//! unsafe request (CSRF).

use super::reply::Reply;
use crate::session::IndexMetadata;
use crate::token::IdHash;

/// Where the sessions page lives, and where its forms come back to.
pub const PATH: &str = "/.sessiongate/sessions";

/// No script, no framing (its buttons must not be clickjacked), forms
/// only to this origin.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}\
h1{font-size:1.5rem}.who{color:#555}form.inline{display:inline}\
table{border-collapse:collapse;width:100%;margin:1.5rem 0}caption{text-align:left;font-weight:600;padding-bottom:.5rem}\
th,td{text-align:left;padding:.5rem;border-bottom:1px solid #ccc}button{font:inherit;padding:.3rem .9rem;cursor:pointer}";

/// The sign-out form: after it, the browser is sent on to sign in again,
/// possibly as someone else.
const SIGN_OUT: &str = "<form method=\"post\" action=\"/.sessiongate/logout\">\
<button type=\"submit\">Sign out and use another account</button></form>";

/// A page in the edge's one look: `main` is trusted HTML, already escaped.
pub fn document(status: u16, title: &str, main: &str) -> Reply {
    let title = escape(title);
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>{title}</h1>\n{main}\n</main>\n</body>\n</html>\n"
    );
    Reply {
        status,
        headers: vec![
            ("content-type", "text/html; charset=utf-8".to_owned()),
            ("cache-control", "no-store".to_owned()),
            ("content-security-policy", CSP.to_owned()),
            ("referrer-policy", "no-referrer".to_owned()),
        ],
        body,
    }
}

/// "Signed in as …": the address, or the user id where there is none.
fn signed_in_as(who: &str) -> String {
    format!(
        "<p class=\"who\">Signed in as <strong>{}</strong>.</p>",
        escape(who)
    )
}

/// The policy refuses this user the path (DESIGN §13.3).
pub fn forbidden(who: &str, rule: &str) -> Reply {
    let main = format!(
        "{}\n<p>This account may not open this page. If you should have access, \
         ask your administrator and mention the rule <code>{}</code>; \
         or sign in with another account.</p>\n{SIGN_OUT}",
        signed_in_as(who),
        escape(rule),
    );
    document(403, "You do not have access to this page", &main)
}

/// A sign-in at the identity provider that did not complete: what went
/// wrong, its code, and, when the provider named one, the account refused.
pub fn signin_failed(status: u16, message: &str, reason: &str, account: Option<&str>) -> Reply {
    let refused = account.map_or_else(String::new, |who| {
        format!(
            "<p class=\"who\">The account was <strong>{}</strong>.</p>\n",
            escape(who)
        )
    });
    let main = format!(
        "<p>{}</p>\n{refused}<p><a href=\"{}\">Try again</a>, with another account if this one \
         is not allowed.</p>\n<p class=\"who\">Reason: <code>{}</code></p>",
        escape(message),
        crate::oidc::START_PATH,
        escape(reason),
    );
    document(status, "Sign-in failed", &main)
}

/// The page, newest session first (`sessions` comes sorted).
pub fn sessions(sessions: &[(IdHash, IndexMetadata)], current: &IdHash) -> Reply {
    let mut rows = String::new();
    // With APPS: each sign-in, then the apps' sessions it started (DESIGN
    // §16); an app's session whose sign-in is not listed comes after.
    let started_by = |signin: &IdHash| {
        let signin = signin.to_string();
        sessions
            .iter()
            .filter(move |(_, meta)| meta.signin.as_deref() == Some(signin.as_str()))
    };
    let listed =
        |signin: &Option<String>| sessions.iter().any(|(h, _)| Some(h.to_string()) == *signin);
    for (hash, meta) in sessions.iter().filter(|(_, meta)| meta.app.is_none()) {
        rows.push_str(&row(hash, meta, current));
        for (app_hash, app_meta) in started_by(hash) {
            rows.push_str(&row(app_hash, app_meta, current));
        }
    }
    for (hash, meta) in sessions
        .iter()
        .filter(|(_, meta)| meta.app.is_some() && !listed(&meta.signin))
    {
        rows.push_str(&row(hash, meta, current));
    }
    let main = format!(
        "<p>You are signed in on these devices. End any you do not recognise.</p>\n\
         <table>\n<caption>Signed-in sessions, newest first</caption>\n\
         <thead><tr><th scope=\"col\">Device</th><th scope=\"col\">Signed in</th><th scope=\"col\">Action</th></tr></thead>\n\
         <tbody>\n{rows}</tbody>\n</table>\n\
         <form method=\"post\" action=\"/.sessiongate/logout?scope=all\">\
         <button type=\"submit\">Sign out everywhere</button></form>"
    );
    document(200, "Your sessions", &main)
}

/// A session's row: its device (or, for an app's session, its app), when
/// it began, and a form to end it unless it is this one.
fn row(hash: &IdHash, meta: &IndexMetadata, current: &IdHash) -> String {
    let device = match &meta.app {
        Some(app) => format!("↳ {}", escape(app)),
        None => escape(meta.device.as_deref().unwrap_or("Unknown device")),
    };
    let started = utc(meta.iat);
    let (name, action) = if hash == current {
        (
            format!("{device} <strong>(this device)</strong>"),
            String::new(),
        )
    } else {
        let form = format!(
            "<form method=\"post\" action=\"{PATH}/{sid}\">\
             <button type=\"submit\" aria-label=\"End the session on {device}, signed in {started}\">End</button></form>",
            sid = hash.sid(),
        );
        (device.clone(), form)
    };
    format!(
        "<tr><td>{name}</td><td><time datetime=\"{iso}\">{started}</time></td><td>{action}</td></tr>\n",
        iso = iso(meta.iat),
    )
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `2026-11-30 21:05 UTC`
fn utc(secs: u64) -> String {
    let (y, m, d, hh, mm, _) = civil(secs);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02} UTC")
}

/// `2026-11-30T21:05:09Z`
fn iso(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// Unix seconds to the UTC calendar (proleptic Gregorian; days to civil
/// date after Howard Hinnant's `civil_from_days`).
fn civil(secs: u64) -> (u64, u64, u64, u64, u64, u64) {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d, rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_calendar_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(iso(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(iso(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn every_page_has_the_one_look_and_a_strict_csp() {
        for reply in [
            forbidden("ada@example.com", "admins"),
            signin_failed(
                403,
                "This account may not sign in here.",
                "not_allowed",
                None,
            ),
            sessions(&[], &crate::token::SessionId::from_bytes([1; 32]).hash()),
        ] {
            let csp = reply.header("content-security-policy").unwrap();
            assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
            assert_eq!(reply.header("cache-control"), Some("no-store"));
            assert!(reply.body.contains(&format!("<style>{STYLE}</style>")));
        }
    }

    #[test]
    fn the_forbidden_page_names_who_is_signed_in_and_offers_to_switch() {
        let reply = forbidden("<ada>", "admins");
        assert_eq!(reply.status, 403);
        assert!(reply
            .body
            .contains("Signed in as <strong>&lt;ada&gt;</strong>"));
        assert!(reply.body.contains(SIGN_OUT));
        assert!(reply.body.contains("<code>admins</code>"));
    }

    #[test]
    fn a_failed_sign_in_names_the_account_refused() {
        let reply = signin_failed(403, "No.", "not_allowed", Some("eve@example.com"));
        assert!(reply
            .body
            .contains("The account was <strong>eve@example.com</strong>"));
        assert!(reply.body.contains("<code>not_allowed</code>"));
        let anonymous = signin_failed(400, "No.", "state_missing", None);
        assert!(!anonymous.body.contains("The account was"));
    }

    #[test]
    fn what_is_shown_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
