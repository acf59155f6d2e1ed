//! Property tests: the HTTP and Kubernetes inspectors never panic, normalisation is a
//! fixed point, and what is forwarded decodes to what policy saw.

use proptest::prelude::*;
use warden_inspect::{http, kube};

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn any_request_never_panics(
        method in any::<String>(),
        target in any::<String>(),
        name in any::<String>(),
        value in any::<String>(),
    ) {
        let _ = http::inspect(&method, &target, [(name.as_str(), value.as_str())]);
        let _ = kube::inspect(&method, &target, Some(&value));
    }

    #[test]
    fn path_like_targets(
        target in "/[a-z./%25AEFef2c;\\\\?=&]{0,40}",
        override_value in "(GET|POST|PUT|DELETE|PATCH|get|x y|)",
    ) {
        let headers = [("X-HTTP-Method-Override", override_value.as_str())];
        let Ok(facts) = http::inspect("POST", &target, headers) else {
            return Ok(());
        };
        // No dot segments, no empty segments except a trailing slash.
        prop_assert!(facts.path.starts_with('/'));
        for seg in facts.path.trim_end_matches('/').split('/').skip(1) {
            prop_assert!(seg != "." && seg != ".." && !seg.is_empty(), "{target} → {}", facts.path);
        }
        // Forwarding the canonical target and inspecting it again gives the same facts.
        let again = http::inspect("POST", &facts.upstream_target(), headers);
        prop_assert_eq!(again.as_ref().map(|f| f.path.as_str()), Ok(facts.path.as_str()));
        // An override never makes the request look like a read when the wire was POST.
        prop_assert!(facts.method != "GET");
        let k = kube::inspect(&facts.method, &facts.path, facts.query.as_deref());
        prop_assert!(!k.verb.is_empty());
    }
}
