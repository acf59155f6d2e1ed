use super::*;

fn store(max_ttl: u64, max_per_user: usize) -> GatewayTokens {
    GatewayTokens::new(GatewayTokenSettings {
        enabled: true,
        max_ttl: Duration::from_secs(max_ttl),
        max_per_user,
    })
}

fn roles() -> Vec<String> {
    vec!["viewer".to_string()]
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn a_token_is_random_well_formed_and_stands_for_its_person() {
    let s = store(3600, 20);
    let a = s.mint("alice", roles(), false, HOUR, None).expect("mint");
    let b = s.mint("alice", roles(), false, HOUR, None).expect("mint");
    assert_ne!(a.token, b.token);
    assert!(a.token.starts_with("wdn_"), "{}", a.token);
    assert_eq!(token_id(&a.token), Some(a.info.id.as_str()));
    assert!(is_gateway_token(&a.token));
    // Passwords that merely start like one stay passwords.
    assert!(!is_gateway_token("wdn_my-old-password"));
    assert!(!is_gateway_token(&a.token[..a.token.len() - 1]));
    // 32 bytes of secret: 43 base64url characters after `wdn_<8 hex>_`.
    assert_eq!(a.token.len(), 4 + 8 + 1 + 43);
    let info = s.check(&a.token).expect("live");
    assert_eq!((info.user.as_str(), info.roles.clone()), ("alice", roles()));
    assert!(
        !format!("{a:?}").contains(&a.token),
        "Debug hides the token"
    );
    // A token with the right id and a wrong secret is unknown.
    let forged = format!("{}A", &a.token[..a.token.len() - 1]);
    let forged = if forged == a.token {
        format!("{}B", &a.token[..a.token.len() - 1])
    } else {
        forged
    };
    assert_eq!(s.check(&forged), Err(TokenRefusal::Unknown));
    assert_eq!(s.check("wdn_nonsense"), Err(TokenRefusal::Unknown));
    assert_eq!(s.check(""), Err(TokenRefusal::Unknown));
}

#[test]
fn only_hashes_and_verifiers_are_kept() {
    let s = store(3600, 20);
    let m = s.mint("alice", roles(), false, HOUR, None).expect("mint");
    {
        let entries = lock(&s.entries);
        let e = &entries[0];
        assert_eq!(e.hash, <[u8; 32]>::from(Sha256::digest(m.token.as_bytes())));
        // The verifier is PostgreSQL's, derived from the token with the person's salt.
        assert_eq!(
            e.scram,
            ScramVerifier::derive(&m.token, &e.scram.salt, DEFAULT_ITERATIONS)
        );
    }
    assert!(!format!("{s:?}").contains(&m.token));
}

#[test]
fn expired_tokens_refuse_say_so_and_are_swept() {
    let s = store(3600, 20);
    let t0 = SystemTime::now();
    let m = s
        .mint_at(t0, "alice", roles(), false, Duration::from_secs(60), None)
        .expect("mint");
    assert!(s.check_at(t0 + Duration::from_secs(59), &m.token).is_ok());
    assert_eq!(
        s.check_at(t0 + Duration::from_secs(60), &m.token),
        Err(TokenRefusal::Expired(m.info.id.clone()))
    );
    // Remembered for an hour after its end to say why, then forgotten.
    let later = t0 + Duration::from_secs(60) + TOMBSTONE_KEEP;
    assert_eq!(s.check_at(later, &m.token), Err(TokenRefusal::Unknown));
    assert_eq!(s.held(), 0, "swept");
}

#[test]
fn revoked_tokens_refuse_and_only_their_owner_revokes() {
    let s = store(3600, 20);
    let m = s.mint("alice", roles(), false, HOUR, None).expect("mint");
    assert_eq!(s.revoke("mallory", &m.info.id), None);
    assert!(s.check(&m.token).is_ok());
    assert_eq!(
        s.revoke("alice", &m.info.id).map(|i| i.id),
        Some(m.info.id.clone())
    );
    assert_eq!(
        s.check(&m.token),
        Err(TokenRefusal::Revoked(m.info.id.clone()))
    );
    assert_eq!(s.revoke("alice", &m.info.id), None, "already revoked");
    assert!(s.list("alice").is_empty());
    assert_eq!(
        s.status("alice", &m.info.id),
        Err(TokenRefusal::Revoked(m.info.id.clone()))
    );
}

#[test]
fn live_tokens_per_person_are_capped() {
    let s = store(3600, 3);
    let minted: Vec<Minted> = (0..3)
        .map(|_| s.mint("alice", roles(), false, HOUR, None).expect("mint"))
        .collect();
    let err = s
        .mint("alice", roles(), false, HOUR, None)
        .expect_err("capped");
    assert_eq!(
        err,
        MintError::TooMany {
            user: "alice".into(),
            max: 3
        }
    );
    assert!(err.to_string().contains("revoke one"), "{err}");
    // Another person is not affected; a revoked token frees a place.
    assert!(s.mint("bob", roles(), false, HOUR, None).is_ok());
    s.revoke("alice", &minted[0].info.id).expect("revoke");
    assert!(s.mint("alice", roles(), false, HOUR, None).is_ok());
    assert_eq!(s.list("alice").len(), 3);
    // Minting and revoking in a loop keeps at most `max_per_user` tombstones.
    for _ in 0..10 {
        let m = s.mint("bob", roles(), false, HOUR, None).expect("mint");
        s.revoke("bob", &m.info.id).expect("revoke");
    }
    assert!(s.held() <= 3 + 3 + 1 + 3, "held {}", s.held());
}

#[test]
fn the_lifetime_is_capped_by_max_ttl() {
    let s = store(600, 20);
    assert_eq!(
        s.mint("alice", roles(), false, Duration::from_secs(601), None)
            .expect_err("too long"),
        MintError::Ttl { max: 600 }
    );
    assert_eq!(
        s.mint("alice", roles(), false, Duration::ZERO, None)
            .expect_err("too short"),
        MintError::Ttl { max: 600 }
    );
    let m = s
        .mint("alice", roles(), false, Duration::from_secs(600), None)
        .expect("at the cap");
    assert_eq!(
        m.info.expires.duration_since(m.info.issued).ok(),
        Some(Duration::from_secs(600))
    );
}

#[test]
fn turned_off_mints_and_takes_nothing() {
    let s = store(3600, 20);
    let m = s.mint("alice", roles(), false, HOUR, None).expect("mint");
    s.configure(GatewayTokenSettings {
        enabled: false,
        ..GatewayTokenSettings::default()
    });
    assert_eq!(s.check(&m.token), Err(TokenRefusal::Disabled));
    assert_eq!(
        s.mint("alice", roles(), false, HOUR, None)
            .expect_err("off"),
        MintError::Disabled
    );
    assert!(s.scram_verifiers("alice", &[], 4096).is_empty());
}

#[test]
fn one_salt_per_person_or_the_local_users() {
    let s = store(3600, 20);
    let a = s.mint("alice", roles(), false, HOUR, None).expect("mint");
    let b = s.mint("alice", roles(), false, HOUR, None).expect("mint");
    let c = s.mint("bob", roles(), false, HOUR, None).expect("mint");
    let (salt, iter) = s.scram_base("alice").expect("alice has tokens");
    let ids: Vec<String> = s
        .scram_verifiers("alice", &salt, iter)
        .into_iter()
        .map(|v| v.id)
        .collect();
    assert_eq!(ids, vec![a.info.id.clone(), b.info.id.clone()]);
    assert_ne!(s.scram_base("bob").map(|b| b.0), Some(salt.clone()));
    assert!(s.scram_verifiers("alice", &salt, iter + 1).is_empty());
    let _ = c;
    // With a local verifier's salt and iterations, the token's verifier uses them.
    let local = (b"local-salt-16byt".to_vec(), 8192);
    s.mint("carol", roles(), true, HOUR, Some(local.clone()))
        .expect("mint");
    assert_eq!(s.scram_base("carol"), Some(local.clone()));
    assert_eq!(s.scram_verifiers("carol", &local.0, local.1).len(), 1);
    assert_eq!(s.scram_base("nobody"), None);
}

#[test]
fn tokens_outlive_a_restart_through_their_file_which_holds_no_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gateway-tokens.json");
    let s = store(3600, 20);
    assert_eq!(s.persist_at(path.clone()), Ok(0), "no file yet");
    let kept = s.mint("alice", roles(), false, HOUR, None).expect("mint");
    let revoked = s.mint("alice", roles(), false, HOUR, None).expect("mint");
    s.revoke("alice", &revoked.info.id).expect("revoke");
    let text = std::fs::read_to_string(&path).expect("file");
    assert!(!text.contains(&kept.token) && !text.contains(&kept.token[13..]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner reads it");
    }
    // "Restart": a new store reading the file.
    let again = store(3600, 20);
    assert_eq!(again.persist_at(path.clone()), Ok(2));
    assert_eq!(again.check(&kept.token).map(|i| i.user), Ok("alice".into()));
    assert_eq!(
        again.check(&revoked.token),
        Err(TokenRefusal::Revoked(revoked.info.id.clone()))
    );
    let (salt, iter) = again.scram_base("alice").expect("verifiers kept");
    assert_eq!(again.scram_verifiers("alice", &salt, iter).len(), 2);
    // A damaged file is set aside and nothing from it is accepted.
    std::fs::write(&path, "{ not json").expect("damage");
    let third = store(3600, 20);
    assert!(third.persist_at(path.clone()).is_err());
    assert_eq!(third.check(&kept.token), Err(TokenRefusal::Unknown));
    assert!(path.with_extension("json.unreadable").exists());
}
