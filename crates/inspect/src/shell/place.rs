//! Placing a path a command names: absolute, or relative to the folder a preceding
//! `cd` chose (the login folder, written `~`, when there was none), with `.`, `..` and
//! repeated slashes resolved lexically. Never reads the file system, so symbolic links
//! are not followed; a path that cannot be placed is `None`, never a guess.

/// Where relative paths start: a known absolute or `~`-relative directory, or unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cwd {
    Known(String),
    Unknown,
}

impl Default for Cwd {
    fn default() -> Self {
        Cwd::Known("~".into())
    }
}

/// `path` made absolute against `cwd` with `.` and `..` resolved; `None` when it cannot
/// be placed (`~user`, climbing above `~`, an unknown start for a relative path).
pub(crate) fn resolve(cwd: &Cwd, path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let (root, rest) = if let Some(r) = path.strip_prefix('/') {
        ("/", r.to_string())
    } else if path == "~" || path.starts_with("~/") {
        ("~", path[1..].to_string())
    } else if path.starts_with('~') {
        return None;
    } else {
        match cwd {
            Cwd::Known(base) if base == "/" => ("/", path.to_string()),
            Cwd::Known(base) => {
                let root = if base.starts_with('~') { "~" } else { "/" };
                let inner = base.trim_start_matches('~').trim_start_matches('/');
                (root, format!("{inner}/{path}"))
            }
            Cwd::Unknown => return None,
        }
    };
    let mut segs: Vec<&str> = Vec::new();
    for s in rest.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                if segs.pop().is_none() && root == "~" {
                    return None;
                }
            }
            s => segs.push(s),
        }
    }
    Some(match (root, segs.is_empty()) {
        ("/", _) => format!("/{}", segs.join("/")),
        (_, true) => "~".to_string(),
        _ => format!("~/{}", segs.join("/")),
    })
}

/// The directory `cd ARGS` (or `pushd`) moves to, given where it starts.
pub(crate) fn cd(cwd: &Cwd, args: &[String]) -> Cwd {
    let operands: Vec<&String> = args
        .iter()
        .filter(|a| !a.starts_with('-') || a.as_str() == "-")
        .collect();
    match operands.as_slice() {
        [] => Cwd::Known("~".into()),
        [dir] if dir.as_str() != "-" => resolve(cwd, dir).map_or(Cwd::Unknown, Cwd::Known),
        _ => Cwd::Unknown,
    }
}
