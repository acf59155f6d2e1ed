//! Secret removal applied to every event before it is encoded and hashed.
//!
//! SQL text: the string literal that follows `PASSWORD` or `IDENTIFIED ... BY` (in the
//! same statement) is replaced by `'***'`. HTTP query strings: values of parameters
//! whose name looks like a credential are replaced by `***`. Shell commands (SSH): the
//! SQL rule, plus values of `NAME=value` / `--name=value` words whose name contains
//! password, passwd, token, secret or api_key, `mysql -pSECRET` and `sshpass -p SECRET`. This must never let a
//! secret through to the store; when in doubt it redacts too much, never too little.

use crate::event::Event;
use warden_inspect::Facts;

/// What replaces a secret.
pub const MASK: &str = "***";

/// Query-string parameter names whose values are never stored.
const SECRET_PARAMS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "client_secret",
    "signature",
    "sig",
    "auth",
    "authorization",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
];

/// Remove secrets from `ev` in place.
pub fn redact(ev: &mut Event) {
    if let Some(detail) = ev.detail.as_mut() {
        redact_sql_in_place(detail);
    }
    let Some(action) = ev.action.as_mut() else {
        return;
    };
    match &mut action.facts {
        Facts::Http(h) => {
            if let Some(q) = h.query.as_mut() {
                *q = redact_query(q);
            }
            action.raw = redact_request_line(&action.raw);
        }
        Facts::Kubernetes { http, .. } => {
            if let Some(q) = http.query.as_mut() {
                *q = redact_query(q);
            }
            action.raw = redact_request_line(&action.raw);
        }
        Facts::Ssh(ssh) => {
            redact_shell_in_place(&mut action.raw);
            for cmd in &mut ssh.commands {
                redact_argv(&mut cmd.argv);
            }
        }
        Facts::Sql(_) | Facts::None => redact_sql_in_place(&mut action.raw),
    }
}

fn redact_shell_in_place(s: &mut String) {
    redact_sql_in_place(s);
    *s = redact_shell(s);
}

/// Credential-looking words of a shell command line masked (see the module doc).
pub fn redact_shell(line: &str) -> String {
    let b = line.as_bytes();
    let mysql = mentions_mysql(line.split_ascii_whitespace());
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    let mut prev: [&str; 2] = ["", ""];
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            out.push(char::from(b[i]));
            i += 1;
            continue;
        }
        let end = word_end(b, i);
        let word = &line[i..end];
        out.push_str(&redact_word(word, prev, mysql));
        prev = [prev[1], word];
        i = end;
    }
    out
}

/// True when a word names a MySQL client (whose `-pSECRET` carries a password).
fn mentions_mysql<'a>(mut words: impl Iterator<Item = &'a str>) -> bool {
    words.any(|w| {
        let base = w.rsplit('/').next().unwrap_or(w);
        base.starts_with("mysql") || base.starts_with("mariadb")
    })
}

/// End of the shell word at `i` (quotes keep whitespace inside the word).
fn word_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && !b[i].is_ascii_whitespace() {
        match b[i] {
            b'\\' => i += 2,
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' && q == b'"' { 2 } else { 1 };
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    i.min(b.len())
}

/// One word, masked if it carries a credential; `prev` are the two words before it.
fn redact_word(word: &str, prev: [&str; 2], mysql: bool) -> String {
    if let Some((name, _)) = word.split_once('=') {
        let n = name.trim_start_matches('-').to_ascii_lowercase();
        if ["password", "passwd", "token", "secret", "api_key", "apikey"]
            .iter()
            .any(|s| n.contains(s))
        {
            return format!("{name}={MASK}");
        }
    }
    let sshpass = prev[0] == "sshpass" || prev[1] == "sshpass";
    if sshpass && prev[1] == "-p" {
        return MASK.to_string(); // sshpass -p SECRET
    }
    if (mysql || prev[1] == "sshpass") && word.starts_with("-p") && word.len() > 2 {
        return format!("-p{MASK}"); // mysql -pSECRET, sshpass -pSECRET
    }
    word.to_string()
}

fn redact_argv(argv: &mut [String]) {
    let mysql = mentions_mysql(argv.iter().map(String::as_str));
    let mut prev: [String; 2] = [String::new(), String::new()];
    for arg in argv.iter_mut() {
        if let Some(r) = redact_sql(arg) {
            *arg = r;
        }
        let masked = redact_word(arg, [&prev[0], &prev[1]], mysql);
        let original = std::mem::replace(arg, masked);
        prev = [std::mem::take(&mut prev[1]), original];
    }
}

fn redact_sql_in_place(s: &mut String) {
    if let Some(r) = redact_sql(s) {
        *s = r;
    }
}

/// The SQL text with password literals masked, or `None` when nothing was masked.
pub fn redact_sql(sql: &str) -> Option<String> {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut armed = false; // a PASSWORD / IDENTIFIED keyword was seen in this statement
    let mut changed = false;
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let c = b[i];
        if c == b';' {
            armed = false;
            i += 1;
        } else if c == b'\'' || c == b'"' || (c == b'$' && dollar_tag(b, i).is_some()) {
            let end = literal_end(b, i);
            if armed {
                // Keep the opening quote style so the text still reads as SQL.
                out.push_str(&sql[copied..i]);
                out.push('\'');
                out.push_str(MASK);
                out.push('\'');
                copied = end;
                changed = true;
                armed = false;
            }
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &sql[start..i];
            if word.eq_ignore_ascii_case("password") || word.eq_ignore_ascii_case("identified") {
                armed = true;
            }
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    if !changed {
        return None;
    }
    out.push_str(&sql[copied..]);
    Some(out)
}

/// `$tag$` starting at `i`, returning the tag length including both `$`.
fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1 - i)
}

/// Index just past the literal starting at `i` (or the end of the text when it is not
/// closed). Backslash escapes are honoured for both quote styles: for a standard
/// PostgreSQL string this can only make the literal longer, i.e. redact more.
fn literal_end(b: &[u8], i: usize) -> usize {
    if b[i] == b'$' {
        let Some(n) = dollar_tag(b, i) else {
            return b.len();
        };
        let tag = &b[i..i + n];
        let mut j = i + n;
        while j + n <= b.len() {
            if &b[j..j + n] == tag {
                return j + n;
            }
            j += 1;
        }
        return b.len();
    }
    let q = b[i];
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == b'\\' {
            j += 2;
        } else if b[j] == q {
            if b.get(j + 1) == Some(&q) {
                j += 2; // doubled quote inside the literal
            } else {
                return j + 1;
            }
        } else {
            j += 1;
        }
    }
    b.len()
}

/// A query string (`a=1&token=x`) with credential-looking values masked.
pub fn redact_query(q: &str) -> String {
    q.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret_param(k) => format!("{k}={MASK}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_PARAMS.contains(&n.as_str()) || n.ends_with("_token") || n.ends_with("password")
}

/// A request line (`GET /p?token=x HTTP/1.1`) with its query string redacted.
fn redact_request_line(line: &str) -> String {
    let Some(qpos) = line.find('?') else {
        return line.to_string();
    };
    let rest = &line[qpos + 1..];
    let end = rest.find([' ', '#']).unwrap_or(rest.len());
    format!(
        "{}?{}{}",
        &line[..qpos],
        redact_query(&rest[..end]),
        &rest[end..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        redact_sql(s).unwrap_or_else(|| s.to_string())
    }

    #[test]
    fn postgres_passwords_are_masked() {
        assert_eq!(
            r("ALTER ROLE bob WITH PASSWORD 'hunter2'"),
            "ALTER ROLE bob WITH PASSWORD '***'"
        );
        assert_eq!(
            r("create user a encrypted password 'it''s; secret' valid until '2030-01-01'; select 'keep'"),
            "create user a encrypted password '***' valid until '2030-01-01'; select 'keep'"
        );
        assert_eq!(
            r("ALTER USER x PASSWORD $p$s3cr3t$p$"),
            "ALTER USER x PASSWORD '***'"
        );
        assert_eq!(
            r("ALTER USER x PASSWORD E'a\\'b'"),
            "ALTER USER x PASSWORD E'***'"
        );
    }

    #[test]
    fn mysql_passwords_are_masked() {
        assert_eq!(
            r("CREATE USER 'u'@'%' IDENTIFIED BY 'pa\\'ss'"),
            "CREATE USER 'u'@'%' IDENTIFIED BY '***'"
        );
        assert_eq!(
            r("ALTER USER u IDENTIFIED WITH mysql_native_password BY \"x\""),
            "ALTER USER u IDENTIFIED WITH mysql_native_password BY '***'"
        );
        assert_eq!(r("SET PASSWORD FOR u = 'x'"), "SET PASSWORD FOR u = '***'");
    }

    #[test]
    fn unclosed_literal_is_masked_to_the_end() {
        assert_eq!(
            r("ALTER ROLE a PASSWORD 'abc"),
            "ALTER ROLE a PASSWORD '***'"
        );
    }

    #[test]
    fn ordinary_sql_is_untouched() {
        assert_eq!(redact_sql("SELECT 'password' FROM t"), None);
        assert_eq!(redact_sql("UPDATE users SET name = 'x' WHERE id = 1"), None);
    }

    #[test]
    fn shell_secrets_are_masked() {
        assert_eq!(
            redact_shell("PGPASSWORD='a b' psql -h db -c 'select 1'"),
            "PGPASSWORD=*** psql -h db -c 'select 1'"
        );
        assert_eq!(
            redact_shell("mysql -uroot -pS3cret db --api-token=xyz"),
            "mysql -uroot -p*** db --api-token=***"
        );
        assert_eq!(
            redact_shell("sshpass -p hunter2 ssh host"),
            "sshpass -p *** ssh host"
        );
        assert_eq!(redact_shell("ls -la /tmp"), "ls -la /tmp");
        assert_eq!(
            redact_shell("mkdir -p /srv/x && cp -pr a b"),
            "mkdir -p /srv/x && cp -pr a b"
        );
        let mut argv = vec!["mysql".to_string(), "-pS3cret".to_string()];
        redact_argv(&mut argv);
        assert_eq!(argv, ["mysql", "-p***"]);
    }

    #[test]
    fn query_strings_lose_tokens() {
        assert_eq!(
            redact_query("a=1&access_token=abc&b=2"),
            "a=1&access_token=***&b=2"
        );
        assert_eq!(
            redact_request_line("GET /x?Token=abc&y=1 HTTP/1.1"),
            "GET /x?Token=***&y=1 HTTP/1.1"
        );
    }
}
