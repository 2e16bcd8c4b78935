use sessiongate::gate::is_stripped_inbound;

#[test]
fn every_spelling_of_ours_and_method_overrides_are_stripped() {
    for name in [
        "sessiongate-assertion",
        "Sessiongate-Assertion",
        "SESSIONGATE-LOGIN",
        "x-sessiongate-user",
        "X-SessionGate-User",
        "x-sessiongate-anything",
        "X-HTTP-Method-Override",
        "x-http-method",
        "x-method-override",
    ] {
        assert!(is_stripped_inbound(name), "{name}");
    }
    for name in [
        "cookie",
        "x-sessiongatex",
        "sessiongate",
        "x-forwarded-for",
        "authorization",
    ] {
        assert!(!is_stripped_inbound(name), "{name}");
    }
}
