//! Table-driven tests of HTTP method and path inspection.

use warden_inspect::http::{encode_path, inspect, HttpFacts, HttpRejection};

fn ok(method: &str, target: &str, headers: &[(&str, &str)]) -> HttpFacts {
    match inspect(method, target, headers.iter().copied()) {
        Ok(f) => f,
        Err(e) => panic!("{method} {target} {headers:?} rejected: {e}"),
    }
}

fn rejected(method: &str, target: &str, headers: &[(&str, &str)]) -> HttpRejection {
    match inspect(method, target, headers.iter().copied()) {
        Ok(f) => panic!("{method} {target} {headers:?} accepted as {f:?}"),
        Err(e) => e,
    }
}

#[test]
fn paths_are_normalised() {
    let cases: &[(&str, &str)] = &[
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a//b", "/a/b"),
        ("//a///b//", "/a/b/"),
        ("/a/./b", "/a/b"),
        ("/a/b/../c", "/a/c"),
        ("/a/b/..", "/a/"),
        ("/a/.", "/a/"),
        ("/admin/", "/admin/"),
        ("/%61dmin", "/admin"),
        ("/%41%42", "/AB"),
        ("/a%20b", "/a b"),
        ("/file%2Etxt", "/file.txt"),
        ("/caf%C3%A9", "/café"),
        ("/a%3Bb", "/a;b"),
        ("/x/../admin/users", "/admin/users"),
        ("/v1/users/7", "/v1/users/7"),
        ("/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="),
        ("/a/..b", "/a/..b"),
    ];
    for (raw, want) in cases {
        assert_eq!(ok("GET", raw, &[]).path, *want, "path {raw}");
    }
}

#[test]
fn ambiguous_paths_are_rejected() {
    let cases = [
        "/a%2Fb",
        "/a%2fb",
        "/%2e%2e/admin",
        "/a/%2E%2e/b",
        "/a/.%2e/b",
        "/a/%2e/b",
        "/..",
        "/../etc/passwd",
        "/a/../../b",
        "/a\\b",
        "/a%5Cb",
        "/a%00b",
        "/a%0d%0aX: y",
        "/a%7Fb",
        "/a b",
        "/a%zz",
        "/a%4",
        "/%C3%28",
        "/%FF",
        "/admin;jsessionid=1",
        "/a%252e%252e/b",
        // Double encoding with the escape's digits themselves encoded (fuzz find):
        "/a%25%32%65%25%32%65/b",
        "/a%25%32e",
        "/d%25d%63",
        "/a%25%32%66b",
        "/...",
        "/a/..%20/b",
        "/a/.%20/b",
        "relative/path",
        "http://example.com/a",
        "/a#frag",
        "/caf\u{e9}",
    ];
    for raw in cases {
        assert!(
            matches!(rejected("GET", raw, &[]), HttpRejection::AmbiguousPath(_)),
            "path {raw:?}"
        );
    }
}

#[test]
fn query_is_kept_raw_and_validated() {
    let f = ok("GET", "/a/../b?x=%2F&y=1+2", &[]);
    assert_eq!(f.path, "/b");
    assert_eq!(f.query.as_deref(), Some("x=%2F&y=1+2"));
    assert_eq!(f.upstream_target(), "/b?x=%2F&y=1+2");
    assert!(matches!(
        rejected("GET", "/a?x=%zz", &[]),
        HttpRejection::AmbiguousPath(_)
    ));
    assert!(matches!(
        rejected("GET", "/a?x=a b", &[]),
        HttpRejection::AmbiguousPath(_)
    ));
}

#[test]
fn upstream_target_decodes_to_what_policy_saw() {
    let cases: &[(&str, &str)] = &[
        ("/a%20b", "/a%20b"),
        ("/%61dmin", "/admin"),
        ("/a%3Bb", "/a%3Bb"),
        ("/a%25b", "/a%25b"),
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/a/./b/../c//", "/a/c/"),
        ("/x%7B%7D", "/x%7B%7D"),
        ("/x{y}", "/x%7By%7D"),
    ];
    for (raw, want) in cases {
        let f = ok("GET", raw, &[]);
        assert_eq!(f.upstream_target(), *want, "target {raw}");
        // Normalising the forwarded target again changes nothing.
        assert_eq!(ok("GET", want, &[]).path, f.path, "round trip {raw}");
    }
    assert_eq!(encode_path("/a b/%"), "/a%20b/%25");
}

#[test]
fn methods_are_validated_and_upper_cased() {
    assert_eq!(ok("delete", "/x", &[]).method, "DELETE");
    assert_eq!(ok("PROPFIND", "/x", &[]).method, "PROPFIND");
    for bad in ["", "GE T", "GET\r\n", "G(T", "ÉGET"] {
        assert!(
            matches!(rejected(bad, "/", &[]), HttpRejection::InvalidMethod(_)),
            "method {bad:?}"
        );
    }
    assert_eq!(ok("OPTIONS", "*", &[]).path, "*");
    assert!(matches!(
        rejected("GET", "*", &[]),
        HttpRejection::AmbiguousPath(_)
    ));
}

/// (wire method, headers, effective method, wire_method fact)
type OverrideCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    Option<&'static str>,
);

#[test]
fn overrides_never_make_a_request_look_safer() {
    // (wire, headers, effective, wire_method)
    let cases: &[OverrideCase] = &[
        (
            "POST",
            &[("X-HTTP-Method-Override", "DELETE")],
            "DELETE",
            Some("POST"),
        ),
        ("POST", &[("x-http-method", "put")], "PUT", Some("POST")),
        (
            "POST",
            &[("X-Method-Override", "PATCH")],
            "PATCH",
            Some("POST"),
        ),
        (
            "GET",
            &[("X-HTTP-Method-Override", "DELETE")],
            "DELETE",
            Some("GET"),
        ),
        (
            "DELETE",
            &[("X-HTTP-Method-Override", "GET")],
            "DELETE",
            None,
        ),
        ("POST", &[("X-HTTP-Method-Override", "GET")], "POST", None),
        ("PUT", &[("X-HTTP-Method-Override", "PUT")], "PUT", None),
        ("GET", &[("X-HTTP-Method-Override", "HEAD")], "GET", None),
        (
            "POST",
            &[("X-HTTP-Method-Override", "PURGE")],
            "PURGE",
            Some("POST"),
        ),
        ("GET", &[("Accept", "DELETE")], "GET", None),
        (
            "POST",
            &[
                ("X-HTTP-Method-Override", "DELETE"),
                ("X-HTTP-Method", "delete"),
            ],
            "DELETE",
            Some("POST"),
        ),
    ];
    for (wire, headers, effective, wire_method) in cases {
        let f = ok(wire, "/r", headers);
        assert_eq!(f.method, *effective, "{wire} {headers:?}");
        assert_eq!(f.wire_method.as_deref(), *wire_method, "{wire} {headers:?}");
    }
    let f = ok("DELETE", "/r", &[("X-HTTP-Method-Override", "GET")]);
    assert_eq!(f.override_method.as_deref(), Some("GET"));
}

#[test]
fn method_override_in_query_counts() {
    let f = ok("POST", "/users/7?_method=DELETE", &[]);
    assert_eq!(f.method, "DELETE");
    assert_eq!(f.wire_method.as_deref(), Some("POST"));
    for target in [
        "/users/7?a=1;_method=DELETE",
        "/users/7?_m%65thod=DELETE",
        "/u?_method=delete&b=2",
    ] {
        assert_eq!(ok("POST", target, &[]).method, "DELETE", "{target}");
    }
}

#[test]
fn conflicting_or_ambiguous_overrides_are_rejected() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "POST",
            &[
                ("X-HTTP-Method-Override", "DELETE"),
                ("X-HTTP-Method", "PUT"),
            ],
        ),
        ("POST", &[("X-HTTP-Method-Override", "DELETE, GET")]),
        ("POST", &[("X-HTTP-Method-Override", "")]),
        ("POST", &[("X-HTTP-Method-Override", "DEL ETE")]),
        ("PUT", &[("X-HTTP-Method-Override", "PATCH")]),
        ("PURGE", &[("X-HTTP-Method-Override", "BAN")]),
    ];
    for (wire, headers) in cases {
        assert!(
            matches!(
                rejected(wire, "/r", headers),
                HttpRejection::InvalidMethod(_)
            ),
            "{wire} {headers:?}"
        );
    }
    assert!(matches!(
        rejected(
            "POST",
            "/r?_method=PUT",
            &[("X-HTTP-Method-Override", "DELETE")]
        ),
        HttpRejection::InvalidMethod(_)
    ));
}
