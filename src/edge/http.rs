//! Mapping between the gate's values and the Fetch API's `Request` and
//! `Response`. Bodies are never read here: they stream through.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{Headers, Request, RequestInit, Response, ResponseInit};

use crate::gate::{self, CookieHeader, Directives, Edits, Forward, Inbound, Reply};
use crate::handoff;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> Promise;
}

/// The parts of a request the gate reads, copied out of JavaScript once.
pub struct InboundParts {
    method: String,
    url: String,
    cookie: Option<String>,
    accept: Option<String>,
    sec_fetch_site: Option<String>,
    origin: Option<String>,
    authorization: Option<String>,
    client: Option<String>,
}

impl InboundParts {
    pub fn read(request: &Request) -> Self {
        let headers = request.headers();
        let get = |name: &str| headers.get(name).ok().flatten();
        Self {
            method: request.method(),
            url: request.url(),
            cookie: get("cookie"),
            accept: get("accept"),
            sec_fetch_site: get("sec-fetch-site"),
            origin: get("origin"),
            authorization: get("authorization"),
            client: get("cf-connecting-ip"),
        }
    }

    pub fn inbound(&self) -> Inbound<'_> {
        Inbound {
            method: &self.method,
            url: &self.url,
            cookie: self.cookie.as_deref(),
            accept: self.accept.as_deref(),
            sec_fetch_site: self.sec_fetch_site.as_deref(),
            origin: self.origin.as_deref(),
            authorization: self.authorization.as_deref(),
            client: self.client.as_deref(),
        }
    }
}

/// A response made at the edge.
pub fn reply(reply: &Reply) -> Result<Response, JsValue> {
    let headers = Headers::new()?;
    for (name, value) in &reply.headers {
        headers.append(name, value)?;
    }
    let init = ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&headers);
    let body = (!reply.body.is_empty()).then_some(reply.body.as_str());
    Response::new_with_opt_str_and_init(body, &init)
}

/// The request to the origin: the incoming one (method, headers, streamed
/// body, `redirect: manual`) at the forward URL, with inbound `Sessiongate-*`
/// and method-override headers removed and the gate's headers set.
pub fn forward_request(incoming: &Request, forward: &Forward) -> Result<Request, JsValue> {
    let request =
        Request::new_with_str_and_init(&forward.url, incoming.unchecked_ref::<RequestInit>())?;
    let headers = request.headers();
    for name in header_names(&headers)? {
        if gate::is_stripped_inbound(&name) {
            headers.delete(&name)?;
        }
    }
    match &forward.cookie {
        CookieHeader::Unchanged => {}
        CookieHeader::Replace(value) => headers.set("cookie", value)?,
        CookieHeader::Remove => headers.delete("cookie")?,
    }
    for (name, value) in &forward.headers {
        headers.set(name, value)?;
    }
    Ok(request)
}

fn header_names(headers: &Headers) -> Result<Vec<String>, JsValue> {
    let mut names = Vec::new();
    if let Some(entries) = js_sys::try_iter(headers)? {
        for entry in entries {
            let entry: js_sys::Array = entry?.unchecked_into();
            names.extend(entry.get(0).as_string());
        }
    }
    Ok(names)
}

pub async fn send(request: &Request) -> Result<Response, JsValue> {
    JsFuture::from(global_fetch(request))
        .await
        .map(JsCast::unchecked_into)
}

/// The origin's login and logout directives.
pub struct OriginDirectives {
    login: Option<String>,
    logout: Option<String>,
}

impl OriginDirectives {
    pub fn read(response: &Response) -> Self {
        let headers = response.headers();
        Self {
            login: headers.get(handoff::HEADER).ok().flatten(),
            logout: headers.get(gate::LOGOUT_HEADER).ok().flatten(),
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
/// edits applied. Untouched when there is nothing to change.
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
