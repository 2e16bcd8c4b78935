//! What the gate reads of a request (DESIGN §4.1–§4.4): its description,
//! its URL, which inbound headers are stripped, and the checks that need
//! nothing but the request itself.

/// What the gate needs to know of a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inbound<'a> {
    pub method: &'a str,
    /// The absolute URL, as the platform parsed it.
    pub url: &'a str,
    pub cookie: Option<&'a str>,
    pub accept: Option<&'a str>,
    pub sec_fetch_site: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub authorization: Option<&'a str>,
    /// `CF-Connecting-IP`: whom bad tokens are counted against.
    pub client: Option<&'a str>,
    /// Described (never kept) for the session a login starts (`crate::device`).
    pub user_agent: Option<&'a str>,
    /// `Secure-Session-Response`: a browser's proof of its device key.
    pub device_proof: Option<&'a str>,
    /// `Sec-Secure-Session-Id`: the device-bound session a refresh is for.
    pub device_session: Option<&'a str>,
    /// `Content-Type`: whether a `POST`'s body may carry a `_method`.
    pub content_type: Option<&'a str>,
    /// The name of every request header, for stripping.
    pub header_names: &'a [&'a str],
}

/// Inbound headers removed from every request before anything else sees
/// them: ours, which only the edge may set; method overrides, which would
/// let an origin act on a method the edge did not check; and path
/// overrides (IIS's URL Rewrite, Symfony and Zend behind a proxy), which
/// would let it act on a path the edge did not check.
pub fn is_stripped_inbound(name: &str) -> bool {
    const PREFIXES: [&str; 2] = ["sessiongate-", "x-sessiongate-"];
    const NAMES: [&str; 6] = [
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
        "x-original-url",
        "x-rewrite-url",
        "x-override-url",
    ];
    PREFIXES.iter().any(|prefix| {
        name.get(..prefix.len())
            .is_some_and(|start| same_name(start, prefix))
    }) || NAMES.iter().any(|stripped| same_name(name, stripped))
}

/// Header names compared as HTTP compares them. Not inlined: unrolled
/// for each name above, the comparisons took 4 KB of wasm.
#[inline(never)]
fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl Inbound<'_> {
    /// The names of the inbound headers to strip before forwarding.
    pub(super) fn stripped(&self) -> Vec<String> {
        self.header_names
            .iter()
            .filter(|name| is_stripped_inbound(name))
            .map(|name| (*name).to_owned())
            .collect()
    }

    /// A browser loading a page, which is better sent to the login page
    /// than shown a 401.
    pub(super) fn is_navigation(&self) -> bool {
        matches!(self.method, "GET" | "HEAD") && self.wants_html()
    }

    pub(super) fn wants_html(&self) -> bool {
        const HTML: &[u8] = b"text/html";
        self.accept.is_some_and(|accept| {
            accept
                .as_bytes()
                .windows(HTML.len())
                .any(|w| w.eq_ignore_ascii_case(HTML))
        })
    }

    pub(super) fn is_safe_method(&self) -> bool {
        matches!(self.method, "GET" | "HEAD" | "OPTIONS")
    }

    /// DESIGN §4.4: `Sec-Fetch-Site`, when sent, must be `same-origin` or
    /// `none`; else `Origin`, when sent, must be the request's own.
    pub(super) fn is_cross_site(&self, own_origin: &str) -> bool {
        if let Some(site) = self.sec_fetch_site {
            let site = site.trim();
            return !(site.eq_ignore_ascii_case("same-origin")
                || site.eq_ignore_ascii_case("none"));
        }
        self.origin
            .is_some_and(|origin| !origin.trim().eq_ignore_ascii_case(own_origin))
    }

    /// The bearer token of `Authorization`, if that is its scheme (empty
    /// when the scheme comes alone).
    pub(super) fn bearer(&self) -> Option<&str> {
        let value = self.authorization?.trim();
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }
}

/// The parts of the request URL the gate uses.
#[derive(Debug, Clone, Copy)]
pub(super) struct RequestUrl<'a> {
    /// `scheme://host[:port]`
    pub origin: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
}

impl<'a> RequestUrl<'a> {
    pub fn parse(url: &'a str) -> Option<Self> {
        let host_start = url.find("://")? + 3;
        let path_start = url[host_start..]
            .find('/')
            .map_or(url.len(), |i| host_start + i);
        let rest = &url[path_start..];
        let rest = rest.split('#').next().unwrap_or_default();
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        Some(Self {
            origin: &url[..path_start],
            path: if path.is_empty() { "/" } else { path },
            query,
        })
    }

    /// `host[:port]`.
    pub fn authority(&self) -> &'a str {
        crate::apps::authority(self.origin)
    }

    pub fn query_param(&self, name: &str) -> Option<&'a str> {
        self.query?.split('&').find_map(|pair| {
            pair.split_once('=')
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v)
        })
    }
}

pub(super) fn path_and_query(path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) => [path, "?", q].concat(),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_wanted_whatever_the_case_of_accept() {
        let wants = |accept| {
            let request = Inbound {
                accept: Some(accept),
                ..Inbound::default()
            };
            request.wants_html()
        };
        assert!(wants("text/html,application/xhtml+xml;q=0.9"));
        assert!(wants("application/json, TEXT/Html"));
        assert!(wants("é, text/html"));
        assert!(!wants("application/json"));
        assert!(!wants("text/htm, application/xhtml+xml"));
        assert!(!wants(""));
    }
}
