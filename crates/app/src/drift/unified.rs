//! A line-based unified diff (`--- a/x`, `+++ b/x`, `@@ -l,n +l,n @@`, three lines of
//! context) for showing policy changes in alerts and proposals, and [`bounded`] to keep
//! one from growing without limit.
//!
//! A longest-common-subsequence table over the lines; files too large for the table
//! (more than [`MAX_CELLS`] line pairs) are shown as removed and re-added whole. Must
//! never panic on any input, nor cut a UTF-8 character in half.

const CONTEXT: usize = 3;
/// Line pairs the LCS table may hold (a 2,000-line file against itself).
const MAX_CELLS: usize = 4_000_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Keep,
    Del,
    Add,
}

fn lines(text: Option<&str>) -> Vec<&str> {
    text.map(|t| t.split_inclusive('\n').collect())
        .unwrap_or_default()
}

/// The edit script turning `a` into `b`.
fn script<'t>(a: &[&'t str], b: &[&'t str]) -> Vec<(Op, &'t str)> {
    let (n, m) = (a.len(), b.len());
    if n.saturating_mul(m) > MAX_CELLS {
        let mut out: Vec<(Op, &str)> = a.iter().map(|l| (Op::Del, *l)).collect();
        out.extend(b.iter().map(|l| (Op::Add, *l)));
        return out;
    }
    // lcs[i][j]: length of the LCS of a[i..] and b[j..].
    let width = m + 1;
    let mut lcs = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * width + j] = if a[i] == b[j] {
                lcs[(i + 1) * width + j + 1] + 1
            } else {
                lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push((Op::Keep, a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
            out.push((Op::Del, a[i]));
            i += 1;
        } else {
            out.push((Op::Add, b[j]));
            j += 1;
        }
    }
    out
}

/// The unified diff of one file; `None` on a side means the file does not exist there.
/// Empty when the texts are equal.
pub fn diff(name: &str, old: Option<&str>, new: Option<&str>) -> String {
    let (a, b) = (lines(old), lines(new));
    let ops = script(&a, &b);
    let changes: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].0 != Op::Keep).collect();
    if changes.is_empty() && old.is_some() == new.is_some() {
        return String::new();
    }
    let mut out = String::new();
    out.push_str(&match old {
        Some(_) => format!("--- a/{name}\n"),
        None => "--- /dev/null\n".to_string(),
    });
    out.push_str(&match new {
        Some(_) => format!("+++ b/{name}\n"),
        None => "+++ /dev/null\n".to_string(),
    });
    // Lines of each side before each op, for the hunk headers.
    let mut before = Vec::with_capacity(ops.len() + 1);
    let (mut o, mut n) = (0usize, 0usize);
    for (op, _) in &ops {
        before.push((o, n));
        match op {
            Op::Keep => {
                o += 1;
                n += 1;
            }
            Op::Del => o += 1,
            Op::Add => n += 1,
        }
    }
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for &i in &changes {
        let (s, e) = (i.saturating_sub(CONTEXT), (i + CONTEXT).min(ops.len() - 1));
        match hunks.last_mut() {
            Some(last) if s <= last.1 + 1 => last.1 = last.1.max(e),
            _ => hunks.push((s, e)),
        }
    }
    for (s, e) in hunks {
        let span = &ops[s..=e];
        let old_n = span.iter().filter(|(op, _)| *op != Op::Add).count();
        let new_n = span.iter().filter(|(op, _)| *op != Op::Del).count();
        let (o0, n0) = before[s];
        let start = |at: usize, count: usize| if count == 0 { at } else { at + 1 };
        out.push_str(&format!(
            "@@ -{},{old_n} +{},{new_n} @@\n",
            start(o0, old_n),
            start(n0, new_n)
        ));
        for (op, line) in span {
            out.push(match op {
                Op::Keep => ' ',
                Op::Del => '-',
                Op::Add => '+',
            });
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
    out
}

/// `text` cut to at most `limit` bytes (at a line end when there is one), with a note
/// saying how much was left out.
pub fn bounded(text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let mut cut = limit;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let kept = &text[..cut];
    let kept = kept.rfind('\n').map_or(kept, |i| &kept[..=i]);
    format!(
        "{kept}… diff cut at {limit} bytes ({} bytes in all)\n",
        text.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_line_in_the_middle_has_three_lines_of_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            diff("p.yaml", Some(old), Some(new)),
            "--- a/p.yaml\n+++ b/p.yaml\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn new_and_removed_files_and_equal_texts() {
        assert_eq!(
            diff("n.yaml", None, Some("a\n")),
            "--- /dev/null\n+++ b/n.yaml\n@@ -0,0 +1,1 @@\n+a\n"
        );
        assert_eq!(
            diff("n.yaml", Some("a\n"), None),
            "--- a/n.yaml\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-a\n"
        );
        assert_eq!(diff("same", Some("x\n"), Some("x\n")), "");
        assert!(diff("nl", Some("x"), Some("y")).contains("\\ No newline at end of file"));
    }

    #[test]
    fn far_apart_changes_make_two_hunks() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new = old.replace("2\n", "two\n").replace("19\n", "nineteen\n");
        let d = diff("x", Some(&old), Some(&new));
        assert_eq!(d.matches("@@ -").count(), 2, "{d}");
    }

    #[test]
    fn bounded_cuts_at_a_line_end_and_says_so() {
        let text = "é".repeat(10) + "\n" + &"b".repeat(100);
        let cut = bounded(text.clone(), 30);
        assert!(cut.starts_with(&"é".repeat(10)), "{cut}");
        assert!(cut.contains("diff cut at 30 bytes"), "{cut}");
        assert_eq!(bounded("short".into(), 30), "short");
    }
}
