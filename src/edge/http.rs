//! Mapping between the gate's values and the Fetch API's `Request` and
//! `Response`. Each step is one call into `glue.js`: crossing between JS and
//! wasm costs more than the gate's own work, so requests are read, forwarded
//! and answered in one crossing each. Bodies are never read: they stream.

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{Request, Response, ResponseInit};

use crate::gate::{self, CookieHeader, Directives, Edits, Forward, Inbound, Reply};
use crate::handoff;

#[wasm_bindgen(module = "/src/edge/glue.js")]
extern "C" {
    fn describe(request: &Request, names: &str) -> String;

    fn forward(request: &Request, url: &str, remove: &str, set: &str, read: &str) -> Promise;

    #[wasm_bindgen(js_name = reply, catch)]
    fn glue_reply(status: u16, pairs: &str, body: &str) -> Result<Response, JsValue>;
}

/// The request headers the gate reads, in the order of [`InboundParts`]'s fields.
const READ: &str = "cookie\naccept\nsec-fetch-site\norigin\nauthorization\ncf-connecting-ip";
/// How `glue.js` marks a header that is not there.
const ABSENT: &str = "\0";

/// A request as `glue.js` describes it: method, URL, the [`READ`] headers,
/// then every header name, one per line.
pub struct InboundParts(String);

impl InboundParts {
    pub fn read(request: &Request) -> Self {
        Self(describe(request, READ))
    }

    /// The gate's view, and the names of the request's headers.
    pub fn inbound(&self) -> (Inbound<'_>, impl Iterator<Item = &str>) {
        let mut fields = self.0.split('\n');
        let method = fields.next().unwrap_or_default();
        let url = fields.next().unwrap_or_default();
        let mut header = || fields.next().filter(|v| *v != ABSENT);
        let inbound = Inbound {
            method,
            url,
            cookie: header(),
            accept: header(),
            sec_fetch_site: header(),
            origin: header(),
            authorization: header(),
            client: header(),
        };
        (inbound, fields.filter(|name| !name.is_empty()))
    }
}

/// A response made at the edge.
pub fn reply(reply: &Reply) -> Result<Response, JsValue> {
    glue_reply(
        reply.status,
        &join_pairs(as_pairs(&reply.headers)),
        &reply.body,
    )
}

fn as_pairs<'a>(headers: &'a [(&'static str, String)]) -> impl Iterator<Item = (&'a str, &'a str)> {
    headers.iter().map(|(name, value)| (*name, value.as_str()))
}

fn join_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut joined = String::new();
    for (name, value) in pairs {
        if !joined.is_empty() {
            joined.push('\n');
        }
        joined.push_str(name);
        joined.push('\n');
        joined.push_str(value);
    }
    joined
}

/// Forwards the incoming request as the gate decided: inbound
/// `Sessiongate-*` and method-override headers removed, the gate's headers
/// set, the session cookie removed from `Cookie`. Resolves to the origin's
/// response and its directives.
pub async fn send<'a>(
    incoming: &Request,
    forward_to: &Forward,
    header_names: impl Iterator<Item = &'a str>,
) -> Result<(Response, OriginDirectives), JsValue> {
    let mut remove: Vec<&str> = header_names
        .filter(|name| gate::is_stripped_inbound(name))
        .collect();
    let cookie = match &forward_to.cookie {
        CookieHeader::Unchanged => None,
        CookieHeader::Replace(value) => Some(("cookie", value.as_str())),
        CookieHeader::Remove => {
            remove.push("cookie");
            None
        }
    };
    let set = join_pairs(as_pairs(&forward_to.headers).chain(cookie));
    let read = [handoff::HEADER, gate::LOGOUT_HEADER].join("\n");
    let sent = forward(incoming, &forward_to.url, &remove.join("\n"), &set, &read);
    let answer: Array = JsFuture::from(sent).await?.unchecked_into();
    let response: Response = answer.get(0).unchecked_into();
    let directives = OriginDirectives::parse(&answer.get(1).as_string().unwrap_or_default());
    Ok((response, directives))
}

/// The origin's login and logout directives.
pub struct OriginDirectives {
    login: Option<String>,
    logout: Option<String>,
}

impl OriginDirectives {
    fn parse(values: &str) -> Self {
        let mut values = values
            .split('\n')
            .map(|v| Some(v.to_owned()).filter(|v| v != ABSENT));
        Self {
            login: values.next().flatten(),
            logout: values.next().flatten(),
        }
    }

    pub fn directives(&self) -> Directives<'_> {
        Directives {
            login: self.login.as_deref(),
            logout: self.logout.as_deref(),
        }
    }

    fn any(&self) -> bool {
        self.login.is_some() || self.logout.is_some()
    }
}

/// The origin's response, with its directives removed and the gate's
/// edits applied. Untouched when there is nothing to change, as in the
/// steady state.
pub fn finish(
    response: Response,
    directives: &OriginDirectives,
    edits: &Edits,
) -> Result<Response, JsValue> {
    if !directives.any() && edits == &Edits::default() {
        return Ok(response);
    }
    // A fetched response's headers are immutable: copy it, streaming the body.
    let copy = Response::new_with_opt_readable_stream_and_init(
        response.body().as_ref(),
        response.unchecked_ref::<ResponseInit>(),
    )?;
    let headers = copy.headers();
    headers.delete(handoff::HEADER)?;
    headers.delete(gate::LOGOUT_HEADER)?;
    for cookie in &edits.set_cookies {
        headers.append("set-cookie", cookie)?;
    }
    for (name, value) in &edits.headers {
        headers.set(name, value)?;
    }
    Ok(copy)
}
