//! The step protocol between the gate and whatever drives it (DESIGN §10).
//!
//! The gate never performs I/O. Each call returns a [`Step`]: perform these
//! store operations, forward the request to the origin, or finish. The
//! driver does what the step says and hands the results back as an
//! [`Input`]. On Workers the driver is `src/edge/driver.js`, and steps and
//! inputs cross between JS and wasm as JSON, one string each way
//! ([`Step::to_json`], [`Input::from_json`]); natively, tests drive the
//! same steps against an in-memory store (`crate::store::perform`, with
//! the `store` feature).

use serde::{Deserialize, Serialize};

use crate::reply::{DataPoint, Edits, Log, Reply};

/// A store operation that failed; the text is for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// A store operation. The operations of one step are independent of each
/// other, so the driver may perform them concurrently. On the wire:
/// `{"op":"get","key":…}` and so on. Only written: a derived `Deserialize`
/// for this enum was 47 KB of the wasm (`edge::absorb` reads what it needs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Get {
        key: String,
    },
    /// Stores `value`, with `metadata` that `List` returns, for `ttl` seconds.
    Put {
        key: String,
        value: String,
        metadata: Option<String>,
        ttl: u64,
    },
    Delete {
        key: String,
    },
    /// One page of the keys starting with `prefix`, from `cursor` on.
    List {
        prefix: String,
        cursor: Option<String>,
    },
    /// The user's state from the revocation ledger: a `Value` of its JSON.
    LedgerRead {
        uid: String,
    },
    /// Records one ended session in the ledger, kept until `abs_exp`.
    LedgerRevoke {
        uid: String,
        hash: String,
        abs_exp: u64,
    },
    /// Records that every session of the user begun before `before` ended.
    LedgerRevokeBefore {
        uid: String,
        before: u64,
    },
    /// This location's Cache API entry under `key` (a URL), if any.
    CacheRead {
        key: String,
    },
    /// Stores `value` in this location's Cache API for `ttl` seconds.
    CacheWrite {
        key: String,
        value: String,
        ttl: u64,
    },
    /// An HTTP request to the identity provider (DESIGN §12), redirects not
    /// followed: a `Response` of its status and body (at most 64 KiB).
    Fetch {
        url: String,
        method: String,
        headers: Vec<(String, String)>,
        body: Option<String>,
        /// The same for every request (a provider's public document): the
        /// driver may answer concurrent fetches of `url` with one.
        shared: bool,
    },
    /// Checks a JWS signature over `data` with the public `jwk` (JSON), for
    /// `alg` `RS256` or `ES256` (WebCrypto): a `Value` of [`VERIFY_VALID`],
    /// none for a signature that is not the key's, or [`VERIFY_KEY_INVALID`]
    /// when WebCrypto will not import the key.
    Verify {
        alg: String,
        jwk: String,
        data: String,
        /// base64url.
        signature: String,
    },
    /// The public half of every signing key (DESIGN §5), as WebCrypto
    /// exports it: a `Value`, the JSON array `[{kid, kty, crv, x, y}]`.
    PublicKeys,
    /// The request's body as text: a `Value`, none when it is longer than
    /// `limit` bytes (read no further). With `forward`, the bytes read
    /// are what a later `Forward` sends as the body, since the request's
    /// own stream is spent.
    ReadBody {
        limit: usize,
        forward: bool,
    },
}

/// [`Op::Verify`]'s answer for a signature of the key.
pub const VERIFY_VALID: &str = "valid";
/// [`Op::Verify`]'s answer for a key that is none of its kind (a point off
/// the curve, say).
pub const VERIFY_KEY_INVALID: &str = "key_invalid";

impl Op {
    pub fn get(key: String) -> Self {
        Self::Get { key }
    }

    pub fn delete(key: String) -> Self {
        Self::Delete { key }
    }
}

/// A key returned by [`Op::List`], with the metadata it was put with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Listed {
    pub name: String,
    #[serde(default)]
    pub metadata: Option<String>,
}

/// What became of one [`Op`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A `Get`'s value, `None` when the key is absent.
    Value(Option<String>),
    /// A `Put` or `Delete` that succeeded.
    Done,
    /// A page of a `List`; `cursor` is `None` on the last page.
    Page {
        keys: Vec<Listed>,
        cursor: Option<String>,
    },
    /// A `Fetch`'s answer.
    Response { status: u16, body: String },
    /// The operation failed or timed out; the text is for the log.
    Failed(String),
}

impl Outcome {
    /// The value of a step's one `Get`: `None` when the key is absent; a
    /// failure, or an answer of another kind, is an error.
    pub fn read(outcomes: Vec<Outcome>) -> Result<Option<String>, StoreError> {
        match outcomes.into_iter().next() {
            Some(Self::Value(value)) => Ok(value),
            Some(Self::Failed(e)) => Err(StoreError(e)),
            other => Err(StoreError(format!("a read was answered with {other:?}"))),
        }
    }
}

/// What the gate needs of the origin's response: its status and the two
/// directive headers (DESIGN §6).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginHead {
    pub status: u16,
    pub login: Option<String>,
    pub logout: Option<String>,
}

/// The results of the last step, handed back to the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The outcomes of a [`Step::Store`], in the order of its operations.
    Store(Vec<Outcome>),
    /// The origin's response head, or why it could not be had.
    Origin(Result<OriginHead, String>),
    /// A forward's assertion could not be signed (`Forward::sign`): the
    /// request was not sent.
    Unsigned(String),
}

/// What becomes of the forwarded request's `Cookie` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieHeader {
    Unchanged,
    Replace(String),
    Remove,
}

/// Send the request on to the origin: same method and body (streamed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// `ORIGIN_URL` plus the normalised path and the query.
    pub url: String,
    /// Inbound headers removed before anything is set.
    pub remove: Vec<String>,
    /// Set on the forwarded request.
    pub headers: Vec<(&'static str, String)>,
    pub cookie: CookieHeader,
    /// A header the driver sets once it has signed (DESIGN §5).
    pub sign: Option<Box<Sign>>,
}

/// A JWS the driver completes: it signs `input` with signing key `kid`
/// (WebCrypto) and sets `header` to `input`, a dot and the signature's
/// base64url. It answers `{"unsigned":…}` when the key will not sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sign {
    pub header: &'static str,
    pub kid: String,
    pub input: String,
}

/// The response that ends an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A response made at the edge.
    Reply(Reply),
    /// The origin's response, with these edits.
    Pass(Edits),
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Perform these operations, then resume with [`Input::Store`].
    Store(Vec<Op>),
    /// Forward the request, then resume with [`Input::Origin`].
    Forward(Forward),
    /// Answer, log this one line, and stop.
    Finish(Answer, Log),
}

/// Response header the origin logs a user in with (DESIGN §6).
pub const LOGIN_HEADER: &str = "sessiongate-login";
/// Response header the origin logs a user out with: `current` or `all`.
pub const LOGOUT_HEADER: &str = "sessiongate-logout";
/// Response headers the driver reads for [`OriginHead`], in its order.
pub const DIRECTIVE_HEADERS: [&str; 2] = [LOGIN_HEADER, LOGOUT_HEADER];

impl Step {
    /// The wire form the JS driver reads: `{"kv":[…]}`, `{"forward":{…}}`,
    /// `{"reply":{…},"log":…}` or `{"pass":{…}|null,"log":…}`. `ms` is the
    /// time the exchange took, for the log line; `id` names the exchange
    /// for a step that expects an answer. Serialised straight from
    /// borrowed structs: building a `serde_json::Value` first cost as much
    /// as the gate's own decision.
    /// With `metered`, a final step also carries the request's Analytics
    /// Engine data point (`"metric"`), for the driver to write; and a final
    /// step carries the exchange's `background` operations, for the driver
    /// to perform after answering and hand to `Gate::absorb`.
    pub fn to_json(&self, id: u32, ms: u64, metered: bool, background: &[Op]) -> String {
        fn metric(log: &Log, ms: u64, metered: bool) -> Option<DataPoint<'_>> {
            metered.then(|| log.data_point(ms))
        }
        let wire = match self {
            Self::Store(kv) => Wire::Store { id, kv },
            Self::Forward(forward) => {
                let mut remove: Vec<&str> = forward.remove.iter().map(String::as_str).collect();
                let mut set: Vec<(&str, &str)> = forward
                    .headers
                    .iter()
                    .map(|(n, v)| (*n, v.as_str()))
                    .collect();
                match &forward.cookie {
                    CookieHeader::Unchanged => {}
                    CookieHeader::Replace(value) => set.push(("cookie", value)),
                    CookieHeader::Remove => remove.push("cookie"),
                }
                let forward = WireForward {
                    url: &forward.url,
                    remove,
                    set,
                    read: DIRECTIVE_HEADERS,
                    sign: forward.sign.as_deref(),
                };
                Wire::Forward { id, forward }
            }
            Self::Finish(Answer::Reply(reply), log) => Wire::Reply {
                reply,
                log: log.line(ms),
                metric: metric(log, ms, metered),
                background,
            },
            Self::Finish(Answer::Pass(edits), log) => Wire::Pass {
                pass: (!edits.is_empty()).then(|| WirePass {
                    remove: DIRECTIVE_HEADERS,
                    append: edits
                        .set_cookies
                        .iter()
                        .map(|c| ("set-cookie", c.as_str()))
                        .collect(),
                    set: &edits.headers,
                }),
                log: log.line(ms),
                metric: metric(log, ms, metered),
                background,
            },
        };
        serde_json::to_string(&wire).unwrap_or_default()
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum Wire<'a> {
    Store {
        id: u32,
        kv: &'a [Op],
    },
    Forward {
        id: u32,
        forward: WireForward<'a>,
    },
    Reply {
        reply: &'a Reply,
        log: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        metric: Option<DataPoint<'a>>,
        #[serde(skip_serializing_if = "<[Op]>::is_empty")]
        background: &'a [Op],
    },
    Pass {
        pass: Option<WirePass<'a>>,
        log: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        metric: Option<DataPoint<'a>>,
        #[serde(skip_serializing_if = "<[Op]>::is_empty")]
        background: &'a [Op],
    },
}

#[derive(Serialize)]
struct WireForward<'a> {
    url: &'a str,
    remove: Vec<&'a str>,
    set: Vec<(&'a str, &'a str)>,
    read: [&'static str; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    sign: Option<&'a Sign>,
}

#[derive(Serialize)]
struct WirePass<'a> {
    remove: [&'static str; 2],
    append: Vec<(&'static str, &'a str)>,
    set: &'a [(&'static str, String)],
}

/// An outcome as the driver writes it: `{"value":…}`, `{}`,
/// `{"keys":[…],"cursor":…}`, `{"status":…,"body":…}` or `{"error":…}`.
#[derive(Deserialize)]
struct WireOutcome {
    error: Option<String>,
    #[serde(default, deserialize_with = "present")]
    value: Option<Option<String>>,
    keys: Option<Vec<Listed>>,
    cursor: Option<String>,
    status: Option<u16>,
    body: Option<String>,
}

/// Tells `{"value":null}` (absent key) from no `value` at all.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The origin's answer as the driver writes it.
#[derive(Deserialize)]
struct WireOrigin {
    unsigned: Option<String>,
    error: Option<String>,
    #[serde(default)]
    status: u16,
    login: Option<String>,
    logout: Option<String>,
}

impl Input {
    /// Reads the driver's JSON: an array of outcomes for a store step, an
    /// object for the origin's answer.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let malformed = |e: serde_json::Error| format!("malformed input from the driver: {e}");
        if text.trim_start().starts_with('[') {
            let outcomes: Vec<WireOutcome> = serde_json::from_str(text).map_err(malformed)?;
            return Ok(Self::Store(
                outcomes
                    .into_iter()
                    .map(|o| match o {
                        WireOutcome { error: Some(e), .. } => Outcome::Failed(e),
                        WireOutcome { value: Some(v), .. } => Outcome::Value(v),
                        WireOutcome {
                            keys: Some(keys),
                            cursor,
                            ..
                        } => Outcome::Page { keys, cursor },
                        WireOutcome {
                            status: Some(status),
                            body,
                            ..
                        } => Outcome::Response {
                            status,
                            body: body.unwrap_or_default(),
                        },
                        _ => Outcome::Done,
                    })
                    .collect(),
            ));
        }
        let origin: WireOrigin = serde_json::from_str(text).map_err(malformed)?;
        if let Some(e) = origin.unsigned {
            return Ok(Self::Unsigned(e));
        }
        Ok(Self::Origin(match origin.error {
            Some(e) => Err(e),
            None => Ok(OriginHead {
                status: origin.status,
                login: origin.login,
                logout: origin.logout,
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcomes_are_read_by_shape() {
        let input = Input::from_json(
            r#"[{"value":"x"},{"value":null},{},{"keys":[{"name":"u:a:h","metadata":"m"}],"cursor":null},{"status":200,"body":"{}"},{"error":"timed out"}]"#,
        );
        assert_eq!(
            input,
            Ok(Input::Store(vec![
                Outcome::Value(Some("x".into())),
                Outcome::Value(None),
                Outcome::Done,
                Outcome::Page {
                    keys: vec![Listed {
                        name: "u:a:h".into(),
                        metadata: Some("m".into())
                    }],
                    cursor: None
                },
                Outcome::Response {
                    status: 200,
                    body: "{}".into()
                },
                Outcome::Failed("timed out".into()),
            ]))
        );
    }

    #[test]
    fn the_origins_answer_is_its_head_or_its_failure() {
        assert_eq!(
            Input::from_json(r#"{"status":200,"login":null,"logout":"all"}"#),
            Ok(Input::Origin(Ok(OriginHead {
                status: 200,
                login: None,
                logout: Some("all".into())
            })))
        );
        assert_eq!(
            Input::from_json(r#"{"error":"connection refused"}"#),
            Ok(Input::Origin(Err("connection refused".into())))
        );
        assert!(Input::from_json("nonsense").is_err());
    }

    #[test]
    fn a_forward_says_what_to_remove_set_and_read() {
        let step = Step::Forward(Forward {
            url: "https://o/a".into(),
            remove: vec!["x-sessiongate-user".into()],
            headers: vec![("sessiongate-assertion", "jwt".into())],
            cookie: CookieHeader::Remove,
            sign: None,
        });
        let wire: serde_json::Value =
            serde_json::from_str(&step.to_json(7, 0, false, &[])).unwrap();
        assert_eq!(
            wire,
            json!({"id": 7, "forward": {
                "url": "https://o/a",
                "remove": ["x-sessiongate-user", "cookie"],
                "set": [["sessiongate-assertion", "jwt"]],
                "read": ["sessiongate-login", "sessiongate-logout"],
            }})
        );
    }
}
