//! A short, coarse description of the device a session was started on
//! ("Firefox on Linux"), for the user's list of their sessions. Made from
//! the `User-Agent` of the login request and kept in the session's index
//! entry; the header itself is never stored or logged. Only names from the
//! fixed lists below can come out, so the description holds nothing a
//! client chose.

/// Browsers, most specific first: Edge and Opera also say "Chrome", and
/// Chrome also says "Safari".
const BROWSERS: [(&str, &str); 7] = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
];

/// Platforms, most specific first: Android also says "Linux", iOS "Mac OS X".
const PLATFORMS: [(&str, &str); 7] = [
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
];

/// "Browser on Platform", either part "unknown" when not recognised.
pub fn describe(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    let find = |list: &[(&str, &'static str)]| {
        list.iter()
            .find(|(marker, _)| ua.contains(marker))
            .map_or("unknown", |(_, name)| name)
    };
    let (browser, platform) = (find(&BROWSERS), find(&PLATFORMS));
    match (browser, platform) {
        ("unknown", "unknown") => "Unknown device".to_owned(),
        ("unknown", platform) => format!("A browser on {platform}"),
        (browser, "unknown") => browser.to_owned(),
        (browser, platform) => format!("{browser} on {platform}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_browsers_are_named_with_their_platform() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36", "Chrome on Linux"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0", "Edge on Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15", "Safari on macOS"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1", "Safari on iOS"),
            ("Mozilla/5.0 (Linux; Android 15) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36", "Chrome on Android"),
            ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", "Firefox on Linux"),
        ];
        for (ua, expected) in cases {
            assert_eq!(describe(Some(ua)), expected, "{ua}");
        }
    }

    #[test]
    fn anything_else_says_nothing_the_client_wrote() {
        assert_eq!(describe(None), "Unknown device");
        assert_eq!(describe(Some("curl/8.5.0")), "Unknown device");
        assert_eq!(
            describe(Some("<script>alert(1)</script> Linux")),
            "A browser on Linux"
        );
        assert_eq!(describe(Some("x Firefox/1 <b>")), "Firefox");
    }
}
