//! Bash brace expansion of an unquoted word (`/data/{a,b}` → `/data/a /data/b`), so a
//! flag hidden as `{-rf,x}` is still seen. Bounded: too many results gives `None`.

/// Most words one brace expression may expand to before we give up.
const MAX_WORDS: usize = 256;

/// Longest word brace expansion is attempted on.
const MAX_WORD_LEN: usize = 4096;

/// Expand comma lists (nested too). Sequences (`{1..3}`) are left as written: they
/// only produce numbers or letters. `None` when the result would be too large.
pub(crate) fn expand_braces(word: &str) -> Option<Vec<String>> {
    // Finding groups is quadratic in the number of `{`: keep words short.
    if word.len() > MAX_WORD_LEN {
        return None;
    }
    let mut out = Vec::new();
    expand_into(word, &mut out, 0)?;
    Some(out)
}

fn expand_into(word: &str, out: &mut Vec<String>, depth: usize) -> Option<()> {
    if depth > 16 || out.len() > MAX_WORDS {
        return None;
    }
    let Some((open, close, parts)) = first_group(word) else {
        out.push(word.to_string());
        return Some(());
    };
    let (prefix, suffix) = (&word[..open], &word[close + 1..]);
    for part in parts {
        expand_into(&format!("{prefix}{part}{suffix}"), out, depth + 1)?;
        if out.len() > MAX_WORDS {
            return None;
        }
    }
    Some(())
}

/// The first `{...}` holding a top-level comma: (open index, close index, alternatives).
fn first_group(word: &str) -> Option<(usize, usize, Vec<&str>)> {
    let bytes = word.as_bytes();
    let mut search_from = 0;
    while let Some(rel) = word[search_from..].find('{') {
        let open = search_from + rel;
        let mut depth = 0usize;
        let mut commas = Vec::new();
        for (i, &b) in bytes.iter().enumerate().skip(open) {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        if commas.is_empty() {
                            break;
                        }
                        let mut parts = Vec::new();
                        let mut start = open + 1;
                        for c in commas {
                            parts.push(&word[start..c]);
                            start = c + 1;
                        }
                        parts.push(&word[start..i]);
                        return Some((open, i, parts));
                    }
                }
                b',' if depth == 1 => commas.push(i),
                _ => {}
            }
        }
        search_from = open + 1;
    }
    None
}
