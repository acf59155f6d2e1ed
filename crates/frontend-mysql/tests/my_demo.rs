//! `warden demo` adds a mysql target in front of 127.0.0.1:3306 when MariaDB answers
//! there (it does on this machine and in CI): the generated config loads, names the
//! target with the production label and gives every demo user a
//! `mysql_native_password` verifier.

use warden_config::Config;
use warden_inspect::Protocol;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_adds_a_mysql_target_when_mariadb_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = warden_app::demo::prepare(dir.path(), 0)
        .await
        .expect("demo prepared");
    let config = Config::load(&demo.config).expect("the demo config loads");
    let mysql: Vec<_> = config
        .targets
        .iter()
        .filter(|t| t.protocol == Protocol::Mysql)
        .collect();
    assert_eq!(mysql.len(), 1, "one mysql target");
    let t = &mysql[0];
    assert_eq!(t.upstream, "127.0.0.1:3306");
    assert_eq!(
        t.labels.get("env").map(String::as_str),
        Some("production"),
        "the shipped mysql-production pack applies"
    );
    assert!(
        config.users.iter().all(|u| u.mysql_native.is_some()),
        "every demo user can log in through MySQL"
    );
}
