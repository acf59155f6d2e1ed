//! What a command line writes (`ShellCommand::writes`): redirections and the paths
//! well-known programs write through their arguments, placed against `cd`.

use warden_inspect::shell::inspect_exec;

/// Every path the line writes, in command order.
fn writes(line: &str) -> Vec<String> {
    let f = inspect_exec(line);
    assert!(!f.unparsed, "{line}: {:?}", f.notes);
    f.commands.iter().flat_map(|c| c.writes.clone()).collect()
}

#[rustfmt::skip]
const CASES: &[(&str, &[&str])] = &[
    ("tee /etc/hosts", &["/etc/hosts"]),
    ("echo x | sudo tee -a /etc/hosts /tmp/copy", &["/etc/hosts", "/tmp/copy"]),
    ("cp x /etc/hosts", &["/etc/hosts"]),
    ("cp /etc/hosts /tmp/hosts.bak", &["/tmp/hosts.bak"]),
    ("cp -t /etc/nginx a.conf b.conf", &["/etc/nginx"]),
    ("cp --target-directory=/etc/nginx a.conf", &["/etc/nginx"]),
    ("mv /etc/hosts /tmp/", &["/etc/hosts", "/tmp"]),
    ("install -m 644 x /etc/hosts", &["/etc/hosts"]),
    ("install -d /etc/app /etc/app2", &["/etc/app", "/etc/app2"]),
    ("sed -i 's/a/b/' /etc/hosts", &["/etc/hosts"]),
    ("sed -i.bak -e 's/a/b/' /etc/hosts", &["/etc/hosts"]),
    ("sed --in-place=.orig 's/a/b/' /etc/hosts", &["/etc/hosts"]),
    ("sed 's/a/b/' /etc/hosts", &[]),
    ("truncate -s0 /etc/hosts", &["/etc/hosts"]),
    ("dd if=/dev/zero of=/etc/hosts bs=1 count=0", &["/etc/hosts"]),
    ("ln -sf /tmp/evil /etc/cron.d/x", &["/etc/cron.d/x"]),
    ("rsync -a src/ /etc/app/", &["/etc/app"]),
    ("rsync -a src/ backup:/etc/app/", &[]),
    ("rsync --server -vlogDtpre.iLsfxCIvu . /etc/app", &["/etc/app"]),
    ("rsync --server --sender -vlogDtpre.iLsfxCIvu . /etc/app", &[]),
    ("tar -xzf a.tgz -C /etc", &["/etc"]),
    ("tar xzf a.tgz --directory=/etc", &["/etc"]),
    ("tar czf /tmp/a.tgz /etc", &[]),
    ("chmod 4755 /usr/local/bin/x", &["/usr/local/bin/x"]),
    ("chmod -w /etc/hosts", &["/etc/hosts"]),
    ("chmod -R u+s /usr/bin/", &["/usr/bin"]),
    ("chown root:root /etc/sudoers.d/x", &["/etc/sudoers.d/x"]),
    ("touch /etc/nologin", &["/etc/nologin"]),
    ("rm /etc/hosts", &["/etc/hosts"]),
    ("curl -o /etc/hosts http://x", &["/etc/hosts"]),
    ("wget -O /etc/hosts http://x", &["/etc/hosts"]),
    ("sort -o /etc/hosts /etc/hosts", &["/etc/hosts"]),
    ("find /etc/cron.d -name x -delete", &["/etc/cron.d"]),
    ("visudo", &["/etc/sudoers"]),
    ("useradd mallory", &["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"]),
    ("vim /etc/hosts", &["/etc/hosts"]),
    ("systemctl enable evil.service", &["/etc/systemd/system"]),
    ("systemctl status nginx", &[]),
    ("echo x > /etc/hosts", &["/etc/hosts"]),
    ("echo x 2>>/var/log/x.log >/dev/null", &["/var/log/x.log"]),
    // placing paths: cd, relative paths, `.` and `..`
    ("cd /etc && tee hosts", &["/etc/hosts"]),
    ("cd /etc; cd nginx && cp x nginx.conf", &["/etc/nginx/nginx.conf"]),
    ("cp x /tmp/../etc/hosts", &["/etc/hosts"]),
    ("cp x //etc/./hosts", &["/etc/hosts"]),
    ("tee notes.txt", &["~/notes.txt"]),
    ("cd && tee notes.txt", &["~/notes.txt"]),
    ("cd /etc; cd; tee x", &["~/x"]),
    ("cd / && tar xf a.tar", &["/"]),
    ("cat /etc/hosts", &[]),
    ("ls -la /etc", &[]),
];

#[test]
fn writes_are_found_and_placed() {
    for (line, want) in CASES {
        let got = writes(line);
        assert_eq!(got, *want, "{line}");
    }
}

#[test]
fn writes_that_cannot_be_placed_make_the_line_opaque() {
    for line in [
        "tee ../../etc/hosts",
        "cd ~/a/../.. && tee x",
        "cd - && tee x",
        "cp x ~root/.ssh/authorized_keys",
        "cp x /e*/hosts",
        "cd /e* && tee hosts",
    ] {
        let f = inspect_exec(line);
        assert!(f.opaque, "{line}: {:?}", f.notes);
    }
    // A pattern in the file name only stays known.
    let f = inspect_exec("rm /var/log/app/*.log");
    assert!(!f.opaque, "{:?}", f.notes);
    assert_eq!(f.commands[0].writes, vec!["/var/log/app/*.log".to_string()]);
}

#[test]
fn code_in_options_of_make_gdb_and_pagers_is_opaque() {
    for line in [
        "make -f /dev/null --eval='x:;rm -rf /srv/data' x",
        "make -E 'x:;id' x",
        "gdb -batch -ex '!rm -rf /srv' /bin/true",
        "gdb --eval-command='shell id'",
        "less +'!id' /etc/hosts",
    ] {
        let f = inspect_exec(line);
        assert!(f.opaque, "{line}: {:?}", f.notes);
    }
    for line in [
        "make -C /srv/app build",
        "less /var/log/syslog",
        "gdb -p 42",
        // The server side of `rsync -e ssh`: a transfer whose writes land in its last
        // argument, not code.
        "rsync --server -vlogDtpre.iLsfxCIvu . /srv/app",
        "rsync --server --sender -vlogDtpre.iLsfxCIvu . /srv/app",
    ] {
        let f = inspect_exec(line);
        assert!(!f.opaque, "{line}: {:?}", f.notes);
    }
}
