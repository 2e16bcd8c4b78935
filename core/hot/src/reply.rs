//! Responses made at the edge, edits to the origin's response, and the one
//! log line of each request (DESIGN §4.9, §9).

use serde::Serialize;
use serde_json::json;

/// A response made at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    pub status: u16,
    /// In order; `set-cookie` may repeat.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("cache-control", "no-store".to_owned()),
            ],
            body: body.to_string(),
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![("cache-control", "no-store".to_owned())],
            body: String::new(),
        }
    }

    pub fn error(status: u16, error: &str) -> Self {
        Self::json(status, json!({ "error": error }))
    }

    pub fn with(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The answer to every request while the configuration is invalid.
    pub fn misconfigured() -> Self {
        Self::error(500, "misconfigured")
    }

    pub fn internal() -> Self {
        Self::error(500, "internal")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub fn bad_request(reason: &str) -> Reply {
    Reply::json(400, json!({ "error": "bad_request", "reason": reason }))
}

/// `401` for a request whose session does not do (DESIGN §4.9, §13.3).
pub fn unauthenticated(reason: &str) -> Reply {
    Reply::json(401, json!({ "error": "unauthenticated", "reason": reason }))
        .with("www-authenticate", "Session".to_owned())
}

/// `429` for a client past `BAD_TOKEN_LIMIT`, until `retry_after` seconds.
pub fn throttled(retry_after: u64) -> Reply {
    Reply::error(429, "too_many_requests").with("retry-after", retry_after.to_string())
}

/// `403` for a request the policy refuses, naming the deciding rule
/// (DESIGN §13.3).
pub fn refused_by(rule: &str) -> Reply {
    Reply::json(403, json!({ "error": "forbidden", "rule": rule }))
}

pub fn forbidden(reason: &str) -> Reply {
    Reply::json(403, json!({ "error": "forbidden", "reason": reason }))
}

pub fn method_not_allowed(allow: &str) -> Reply {
    Reply::error(405, "method_not_allowed").with("allow", allow.to_owned())
}

/// `Clear-Site-Data` on logout: the cache only, since `cookies` and
/// `storage` would reach every app on the registrable domain.
pub const CLEAR_CACHE: &str = "\"cache\"";

/// Changes to the origin's response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edits {
    /// Appended after the origin's own `Set-Cookie` headers.
    pub set_cookies: Vec<String>,
    /// Set, replacing the origin's value if it has one.
    pub headers: Vec<(&'static str, String)>,
    /// The origin sent a directive, whose header must not reach the client.
    pub directives: bool,
}

impl Edits {
    /// A response that sets or clears the session cookie must not be
    /// stored by any cache; one that ends a session also clears the
    /// browser's cache of the user's pages.
    pub fn session_cookie(cookie: String, ends_session: bool) -> Self {
        let mut headers = vec![("cache-control", "no-store".to_owned())];
        if ends_session {
            headers.push(("clear-site-data", CLEAR_CACHE.to_owned()));
        }
        Self {
            set_cookies: vec![cookie],
            headers,
            directives: false,
        }
    }

    /// Whether the origin's response passes untouched, as in the steady state.
    pub fn is_empty(&self) -> bool {
        self.set_cookies.is_empty() && self.headers.is_empty() && !self.directives
    }
}

/// What the edge logs of a request: never a token, key or assertion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    /// The app whose host the request came to, with `APPS` (DESIGN §16).
    pub app: Option<String>,
    /// `forward`, `reject`, `endpoint` or `error`.
    pub decision: &'static str,
    /// The status the client got.
    pub status: u16,
    pub reason: Option<&'static str>,
    /// The public short id of the session concerned (or of the machine
    /// client's token).
    pub sid: Option<String>,
    /// The machine client's `client_id` (DESIGN §15).
    pub client: Option<String>,
    /// A login or logout applied from the origin's response.
    pub event: Option<&'static str>,
    /// Why something failed, for the operator.
    pub detail: Option<String>,
    /// `report` when `MODE` is report: a `reject` was forwarded anyway.
    pub mode: Option<&'static str>,
    /// The policy rule that decided a protected request, by name or index,
    /// or `default` (DESIGN §13); `None` without a policy.
    pub rule: Option<String>,
    /// `protected`, `public`, `edge` (`/.sessiongate/*`) or `invalid` (a
    /// malformed URL or path): for metrics, not the log line.
    pub route: &'static str,
}

impl Log {
    pub fn new(decision: &'static str, reason: Option<&'static str>) -> Self {
        Self {
            decision,
            reason,
            ..Self::default()
        }
    }

    /// The request is refused for `reason`: the one place a log says so.
    pub fn refuse(&mut self, reason: &'static str) {
        self.decision = "reject";
        self.reason = Some(reason);
    }

    /// The request's one JSON log line, its keys sorted; `ms` is the time
    /// it took at the edge.
    pub fn line(&self, ms: u64) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            app: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            client: Option<&'a str>,
            decision: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            detail: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            event: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            mode: Option<&'a str>,
            ms: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            reason: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            rule: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            sid: Option<&'a str>,
            status: u16,
        }
        let line = Line {
            app: self.app.as_deref(),
            client: self.client.as_deref(),
            decision: self.decision,
            detail: self.detail.as_deref(),
            event: self.event,
            mode: self.mode,
            ms,
            reason: self.reason,
            rule: self.rule.as_deref(),
            sid: self.sid.as_deref(),
            status: self.status,
        };
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// The request as one Workers Analytics Engine data point (README:
    /// Metrics): nothing in it names a user, a session or a client.
    pub fn data_point(&self, ms: u64) -> DataPoint<'_> {
        let mut blobs = vec![
            self.decision,
            self.reason.unwrap_or(""),
            self.route,
            self.mode.unwrap_or("enforce"),
            self.rule.as_deref().unwrap_or(""),
        ];
        blobs.extend(self.app.as_deref());
        DataPoint {
            blobs,
            doubles: [f64::from(self.status), ms as f64],
            indexes: [self.route],
        }
    }
}

/// `blob1` decision, `blob2` reason, `blob3` route class, `blob4` mode,
/// `blob5` the policy rule, `blob6` the app (with `APPS` only);
/// `double1` status, `double2` ms at the edge; `index1` the route class.
#[derive(Debug, Serialize)]
pub struct DataPoint<'a> {
    blobs: Vec<&'a str>,
    doubles: [f64; 2],
    indexes: [&'a str; 1],
}
