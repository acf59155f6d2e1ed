//! Property tests: the shell inspector never panics, and respelling `rm -rf x` with
//! quotes and backslashes never hides the program or its flags.

use proptest::prelude::*;
use warden_inspect::shell::inspect_exec;

/// Respell one word with a random mix of the POSIX ways to quote characters.
fn respell(word: &str, styles: &[u8]) -> String {
    let mut out = String::new();
    for (i, c) in word.chars().enumerate() {
        match styles.get(i).copied().unwrap_or(0) % 6 {
            0 => out.push(c),
            1 => out.push_str(&format!("'{c}'")),
            2 => out.push_str(&format!("\"{c}\"")),
            3 => out.push_str(&format!("\\{c}")),
            4 => {
                out.push(c);
                out.push_str("''");
            }
            _ => {
                out.push_str("\"\"");
                out.push(c);
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_text_never_panics(s in any::<String>()) {
        let _ = inspect_exec(&s);
    }

    #[test]
    fn shell_like_text_never_panics(s in "[a-z $(){}|&;<>'\"`\\\\\n#=*?\\[\\]-]{0,80}") {
        let f = inspect_exec(&s);
        // Every opaque or unparsed verdict carries a reason.
        prop_assert!(!(f.opaque || f.unparsed) || !f.notes.is_empty());
    }

    #[test]
    fn quoting_never_hides_rm_rf(
        a in proptest::collection::vec(any::<u8>(), 2),
        b in proptest::collection::vec(any::<u8>(), 3),
        c in proptest::collection::vec(any::<u8>(), 1),
        wrap in 0u8..4,
    ) {
        let line = format!("{} {} {}", respell("rm", &a), respell("-rf", &b), respell("x", &c));
        let line = match wrap {
            0 => line,
            1 => format!("sudo {line}"),
            2 => format!("bash -c '{}'", line.replace('\'', "'\\''")),
            _ => format!("cd / && {line}"),
        };
        let f = inspect_exec(&line);
        prop_assert!(!f.unparsed, "{line}: {f:?}");
        let rm = f.commands.iter().find(|c| c.program == "rm");
        prop_assert!(rm.is_some(), "{line}: {f:?}");
        let rm = rm.unwrap();
        prop_assert!(rm.has_flags("-rf"), "{line}: {rm:?}");
        prop_assert_eq!(rm.argv.last().map(String::as_str), Some("x"));
    }
}
