//! A `writes` rule through the real `ssh` client against a real sshd: the ways of
//! writing into a protected folder that the issue found running (tee, cp, sed -i,
//! install, truncate, also after `cd` and through `..`) are refused, `make --eval` is
//! opaque and refused, and reading or copying out of the folder still works.

mod ssh_support;

use ssh_support::{start_with, Options};

fn policy(protected: &str) -> String {
    format!(
        r#"
version: 1
rules:
  - name: no-writes-in-protected
    when: {{ protocol: ssh, ssh: {{ writes: ["{protected}", "{protected}/**"] }} }}
    action: deny
    message: Nothing may write under the protected folder.
  - name: opaque-refused
    when: {{ protocol: ssh, ssh: {{ opaque: true }} }}
    action: deny
    message: Commands whose effect cannot be known are refused.
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_into_a_protected_folder_are_refused_however_they_are_spelled() {
    // The policy names the folder before the harness exists, so it lives at a name of
    // its own (this process's id) rather than in the harness's work folder.
    let protected = std::env::temp_dir().join(format!("warden-protected-{}", std::process::id()));
    std::fs::create_dir_all(&protected).expect("protected");
    let h = start_with(Options {
        policy: Some(policy(&protected.display().to_string())),
        ..Options::default()
    })
    .await;
    let hosts = protected.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").expect("hosts");
    let src = h.work.join("evil");
    std::fs::write(&src, "1.2.3.4 bank\n").expect("src");
    let (p, s) = (protected.display().to_string(), src.display().to_string());
    let parent = protected.parent().expect("parent").display().to_string();
    let name = protected
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_string();
    let attempts = [
        format!("echo 1.2.3.4 bank | tee {p}/hosts"),
        format!("cp {s} {p}/hosts"),
        format!("sed -i 's/localhost/bank/' {p}/hosts"),
        format!("install -m 644 {s} {p}/hosts"),
        format!("truncate -s0 {p}/hosts"),
        format!("cd {p} && tee hosts < {s}"),
        format!("cp {s} {parent}/x/../{name}/hosts"),
        format!("dd if={s} of={p}/hosts"),
        format!("make -f /dev/null --eval='x:;rm -f {p}/hosts' x"),
    ];
    for cmd in &attempts {
        let r = h.ssh(cmd, b"").await;
        assert_eq!(r.code, Some(126), "{cmd}: {r:?}");
        assert!(r.stderr.contains("warden:"), "{cmd}: {r:?}");
        assert_eq!(
            std::fs::read_to_string(&hosts).expect("hosts"),
            "127.0.0.1 localhost\n",
            "{cmd} changed the file"
        );
    }
    let r = h.ssh(&format!("cp {s} {p}/hosts"), b"").await;
    assert!(
        r.stderr
            .contains("Nothing may write under the protected folder."),
        "{r:?}"
    );
    // Reading, and copying out of the folder, are not writes into it.
    let r = h.ssh(&format!("cat {p}/hosts"), b"").await;
    assert_eq!(
        (r.code, r.out()),
        (Some(0), "127.0.0.1 localhost\n".into()),
        "{r:?}"
    );
    let copy = h.work.join("copy");
    let r = h
        .ssh(&format!("cp {p}/hosts {}", copy.display()), b"")
        .await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        std::fs::read_to_string(&copy).expect("copy"),
        "127.0.0.1 localhost\n"
    );
    let _ = std::fs::remove_dir_all(&protected);
}

/// `rsync -e ssh` through Warden: the server side's `rsync --server … DEST` line is read
/// as a transfer writing under DEST, so it runs by default and a `writes` rule on DEST
/// refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsync_over_ssh_runs_and_a_writes_rule_decides_it() {
    let protected =
        std::env::temp_dir().join(format!("warden-rsync-protected-{}", std::process::id()));
    std::fs::create_dir_all(&protected).expect("protected");
    let h = start_with(Options {
        policy: Some(policy(&protected.display().to_string())),
        ..Options::default()
    })
    .await;
    let src = h.work.join("src");
    std::fs::create_dir_all(&src).expect("src");
    std::fs::write(src.join("a.txt"), "payload\n").expect("a");
    let rsh = format!(
        "ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o LogLevel=ERROR -i {} -p {}",
        h.alice_key.display(),
        h.addr.port()
    );
    let rsync = |dest: String| {
        let rsh = rsh.clone();
        let src = format!("{}/", src.display());
        async move {
            tokio::process::Command::new("rsync")
                .args(["-a", "-e", &rsh, &src, &dest])
                .output()
                .await
                .expect("rsync")
        }
    };
    let dest = h.work.join("dest");
    let out = rsync(format!("alice@127.0.0.1:{}/", dest.display())).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("a.txt")).expect("copied"),
        "payload\n"
    );
    let out = rsync(format!("alice@127.0.0.1:{}/", protected.display())).await;
    assert!(!out.status.success(), "rsync into the protected folder ran");
    assert!(!protected.join("a.txt").exists());
    let _ = std::fs::remove_dir_all(&protected);
}
