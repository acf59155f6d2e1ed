//! Name patterns (target and user names, namespaces, programs, paths, objects): globs,
//! with the common shapes — a literal, `prefix*`, `*suffix`, `*` — matched by plain
//! string comparison so that evaluating hundreds of rules stays in microseconds. Every
//! pattern is still compiled by globset, so syntax errors are reported the same way and
//! anything beyond the simple shapes is matched by globset.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

#[derive(Debug, Clone)]
enum Simple {
    Exact(Box<str>),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Any,
}

/// A compiled list of patterns; matches when any pattern does.
#[derive(Debug, Clone)]
pub struct Patterns {
    simple: Vec<Simple>,
    globs: Option<GlobSet>,
    /// `*` does not cross `/` (paths, operands).
    separator: bool,
    case_insensitive: bool,
}

fn is_meta(c: char) -> bool {
    matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\' | '!')
}

fn classify(p: &str) -> Option<Simple> {
    if !p.contains(is_meta) {
        return Some(Simple::Exact(p.into()));
    }
    if p == "*" {
        return Some(Simple::Any);
    }
    if let Some(prefix) = p.strip_suffix('*') {
        if !prefix.contains(is_meta) {
            return Some(Simple::Prefix(prefix.into()));
        }
    }
    if let Some(suffix) = p.strip_prefix('*') {
        if !suffix.contains(is_meta) {
            return Some(Simple::Suffix(suffix.into()));
        }
    }
    None
}

fn eq(a: &[u8], b: &[u8], ci: bool) -> bool {
    if ci {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

impl Patterns {
    /// Compile; `Err((index, message))` names the first bad pattern.
    pub fn new(
        patterns: &[String],
        separator: bool,
        case_insensitive: bool,
    ) -> Result<Patterns, (usize, String)> {
        let mut simple = Vec::new();
        let mut complex = GlobSetBuilder::new();
        let mut any_complex = false;
        for (i, p) in patterns.iter().enumerate() {
            let glob = GlobBuilder::new(p)
                .literal_separator(separator)
                .case_insensitive(case_insensitive)
                .build()
                .map_err(|e| (i, e.to_string()))?;
            match classify(p) {
                Some(s) => simple.push(s),
                None => {
                    complex.add(glob);
                    any_complex = true;
                }
            }
        }
        let globs = if any_complex {
            Some(complex.build().map_err(|e| (0, e.to_string()))?)
        } else {
            None
        };
        Ok(Patterns {
            simple,
            globs,
            separator,
            case_insensitive,
        })
    }

    pub fn is_match(&self, s: &str) -> bool {
        let b = s.as_bytes();
        let ci = self.case_insensitive;
        let segment_ok = |rest: &[u8]| !self.separator || !rest.contains(&b'/');
        let simple = self.simple.iter().any(|p| match p {
            Simple::Exact(x) => eq(b, x.as_bytes(), ci),
            Simple::Prefix(x) => {
                let x = x.as_bytes();
                b.len() >= x.len() && eq(&b[..x.len()], x, ci) && segment_ok(&b[x.len()..])
            }
            Simple::Suffix(x) => {
                let x = x.as_bytes();
                let cut = b.len().wrapping_sub(x.len());
                b.len() >= x.len() && eq(&b[cut..], x, ci) && segment_ok(&b[..cut])
            }
            Simple::Any => segment_ok(b),
        });
        simple || self.globs.as_ref().is_some_and(|g| g.is_match(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pats(p: &[&str], sep: bool, ci: bool) -> Patterns {
        Patterns::new(
            &p.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            sep,
            ci,
        )
        .unwrap()
    }

    #[test]
    fn simple_shapes() {
        let p = pats(&["prod-*", "*-db", "exact"], false, false);
        assert!(p.is_match("prod-1"));
        assert!(p.is_match("prod-"));
        assert!(p.is_match("billing-db"));
        assert!(p.is_match("exact"));
        assert!(!p.is_match("Exact"));
        assert!(!p.is_match("staging"));
        let paths = pats(&["/v1/users/*", "/admin/**"], true, false);
        assert!(paths.is_match("/v1/users/7"));
        assert!(!paths.is_match("/v1/users/7/roles"));
        assert!(paths.is_match("/admin/a/b"));
        let ci = pats(&["public.users"], false, true);
        assert!(ci.is_match("PUBLIC.Users"));
    }

    proptest! {
        // The fast path must agree with globset on every input.
        #[test]
        fn agrees_with_globset(
            pattern in "(\\*)?[a-c/.]{0,4}(\\*)?",
            input in "[a-cA-C/.]{0,8}",
            sep in any::<bool>(),
            ci in any::<bool>(),
        ) {
            let fast = pats(&[pattern.as_str()], sep, ci);
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(sep)
                .case_insensitive(ci)
                .build()
                .unwrap()
                .compile_matcher();
            prop_assert_eq!(fast.is_match(&input), glob.is_match(&input), "pattern {:?} input {:?}", pattern, input);
        }
    }
}
