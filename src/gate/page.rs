//! The "your sessions" page (`GET /.sessiongate/sessions` from a browser):
//! each of the user's sessions with when it began and on what device,
//! "this device", a button to end each other one, and "sign out
//! everywhere". Plain HTML, no script; its forms post back to the edge,
//! which checks them like every unsafe request (CSRF) and asks for a
//! recent login before ending other sessions (`REAUTH_AFTER`).

use super::reply::Reply;
use crate::session::IndexMetadata;
use crate::token::IdHash;

/// Where the page lives, and where its forms come back to.
pub const PATH: &str = "/.sessiongate/sessions";

/// No script, no framing (its buttons must not be clickjacked), forms
/// only to this origin.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}\
table{border-collapse:collapse;width:100%;margin:1.5rem 0}caption{text-align:left;font-weight:600;padding-bottom:.5rem}\
th,td{text-align:left;padding:.5rem;border-bottom:1px solid #ccc}button{font:inherit;padding:.3rem .9rem;cursor:pointer}";

/// The page, newest session first (`sessions` comes sorted).
pub fn sessions(sessions: &[(IdHash, IndexMetadata)], current: &IdHash) -> Reply {
    let mut rows = String::new();
    for (hash, meta) in sessions {
        let device = escape(meta.device.as_deref().unwrap_or("Unknown device"));
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
        rows.push_str(&format!(
            "<tr><td>{name}</td><td><time datetime=\"{iso}\">{started}</time></td><td>{action}</td></tr>\n",
            iso = iso(meta.iat),
        ));
    }
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Your sessions</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>Your sessions</h1>\n\
         <p>You are signed in on these devices. End any you do not recognise.</p>\n\
         <table>\n<caption>Signed-in sessions, newest first</caption>\n\
         <thead><tr><th scope=\"col\">Device</th><th scope=\"col\">Signed in</th><th scope=\"col\">Action</th></tr></thead>\n\
         <tbody>\n{rows}</tbody>\n</table>\n\
         <form method=\"post\" action=\"/.sessiongate/logout?scope=all\">\
         <button type=\"submit\">Sign out everywhere</button></form>\n\
         </main>\n</body>\n</html>\n"
    );
    Reply {
        status: 200,
        headers: vec![
            ("content-type", "text/html; charset=utf-8".to_owned()),
            ("cache-control", "no-store".to_owned()),
            ("content-security-policy", CSP.to_owned()),
            ("referrer-policy", "no-referrer".to_owned()),
        ],
        body,
    }
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
    fn what_is_shown_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
