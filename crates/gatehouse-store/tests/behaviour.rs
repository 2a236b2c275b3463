//! The storage contract, written once and run against every backend: in memory, SQLite, and
//! PostgreSQL (when `GATEHOUSE_TEST_POSTGRES` is set; see `support`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use gatehouse_engine::store::{RefreshState, RotateOutcome, StoreError, TakeCode};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_store::{
    AuditEvent, AuditQuery, Consent, RevocationCheck, ServerStore, SessionRecord, SignInFailures,
    StoredSigningKey, UserRecord, password,
};
use gatehouse_types::rate::PerMinute;
use gatehouse_types::{ClientId, ScopeSet, UnixTime};
use support::*;

/// After a revocation the deny-list answers "revoked" at once, or (memory backend) defers to
/// the store.
fn assert_denied<S: ServerStore>(store: &S, jti: &str) {
    let check = store.deny_list().check(jti);
    if store.deny_list().is_synced() {
        assert_eq!(check, RevocationCheck::Revoked, "{jti}");
    } else {
        assert_eq!(check, RevocationCheck::Unknown, "{jti}");
    }
}

async fn clients_are_stored_whole_and_unique<S: ServerStore>(store: &S) {
    let record = client("c-1");
    store.insert_client(record.clone()).await.unwrap();
    assert_eq!(
        store.client(&record.client_id).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        store.insert_client(client("c-1")).await,
        Err(StoreError::Duplicate)
    );
    assert_eq!(
        store
            .client(&ClientId::new("nobody").unwrap())
            .await
            .unwrap(),
        None
    );
    store.insert_client(client("c-0")).await.unwrap();
    let ids: Vec<_> = store
        .clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id.as_str().to_owned())
        .collect();
    assert_eq!(ids, ["c-0", "c-1"]);

    // RFC 7592 §2.2: an update replaces the registration.
    let mut updated = record.clone();
    updated.secret_hash = None;
    updated.introspection_resources.clear();
    assert!(store.replace_client(updated.clone()).await.unwrap());
    assert_eq!(
        store.client(&record.client_id).await.unwrap(),
        Some(updated)
    );
    assert!(!store.replace_client(client("c-unknown")).await.unwrap());
}

async fn a_code_is_taken_exactly_once<S: ServerStore>(store: &S) {
    let (code_hash, fam, refresh_hash) = (hash(1), family("f"), hash(2));
    let family = fam;
    let record = code(code_hash, "c-1");
    store.insert_code(record.clone()).await.unwrap();
    assert_eq!(
        store.insert_code(record.clone()).await,
        Err(StoreError::Duplicate)
    );
    let entry = store.code(&code_hash).await.unwrap().unwrap();
    assert_eq!(
        (entry.record.clone(), entry.redeemed_into),
        (record.clone(), None)
    );

    let taken = store
        .redeem_code(
            &code_hash,
            &family,
            access("jti-1", &family, "c-1"),
            Some(refresh(refresh_hash, &family, "c-1")),
        )
        .await
        .unwrap();
    assert_eq!(taken, TakeCode::Taken(record));
    assert_eq!(
        store.code(&code_hash).await.unwrap().unwrap().redeemed_into,
        Some(family.clone())
    );
    assert_eq!(
        store.refresh(&refresh_hash).await.unwrap().unwrap(),
        refresh(refresh_hash, &family, "c-1")
    );

    // OAuth 2.1 §4.1.3: the second redemption learns which family to revoke, and stores nothing.
    let (other_family, other_refresh) = (support::family("g"), hash(3));
    let again = store
        .redeem_code(
            &code_hash,
            &other_family,
            access("jti-2", &other_family, "c-1"),
            Some(refresh(other_refresh, &other_family, "c-1")),
        )
        .await
        .unwrap();
    assert_eq!(again, TakeCode::AlreadyUsed(family.clone()));
    assert_eq!(store.refresh(&other_refresh).await.unwrap(), None);
    store.revoke_family(&other_family).await.unwrap();
    assert!(!store.is_access_token_revoked("jti-2").await.unwrap());

    assert_eq!(
        store
            .redeem_code(
                &hash(99),
                &support::family("h"),
                access("jti-3", &family, "c-1"),
                None
            )
            .await
            .unwrap(),
        TakeCode::NotFound
    );
}

async fn a_failed_redemption_burns_nothing<S: ServerStore>(store: &S) {
    // A refresh hash that collides: the whole redemption fails, and the code stays unused.
    let (f1, f2) = (family("f1"), family("f2"));
    let (c1, c2, r) = (hash(10), hash(11), hash(12));
    store.insert_code(code(c1, "c")).await.unwrap();
    store.insert_code(code(c2, "c")).await.unwrap();
    redeem(store, &c1, &f1, "c", "a1", Some(r)).await;
    let collision = store
        .redeem_code(&c2, &f2, access("a2", &f2, "c"), Some(refresh(r, &f2, "c")))
        .await;
    assert_eq!(collision, Err(StoreError::Duplicate));
    assert_eq!(store.code(&c2).await.unwrap().unwrap().redeemed_into, None);
}

async fn refresh_rotation_is_a_compare_and_set<S: ServerStore>(store: &S) {
    let (f, c) = (family("f"), hash(20));
    let (r1, r2, r3, r4) = (hash(21), hash(22), hash(23), hash(24));
    store.insert_code(code(c, "c")).await.unwrap();
    redeem(store, &c, &f, "c", "j0", Some(r1)).await;
    let later = NOW.saturating_add_secs(60);

    let outcome = store
        .rotate_refresh(
            &r1,
            refresh(r2, &f, "c"),
            [7; 32],
            access("j1", &f, "c"),
            later,
        )
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::Rotated);
    let rotated = store.refresh(&r1).await.unwrap().unwrap();
    assert_eq!(
        rotated.state,
        RefreshState::Rotated {
            successor: r2,
            sealed_successor: Some([7; 32]),
            rotated_at: later
        }
    );
    assert_eq!(
        store.refresh(&r2).await.unwrap().unwrap().state,
        RefreshState::Active
    );

    // The loser sees the winner's result and stores nothing.
    let lost = store
        .rotate_refresh(
            &r1,
            refresh(r3, &f, "c"),
            [8; 32],
            access("j2", &f, "c"),
            later,
        )
        .await
        .unwrap();
    assert_eq!(lost, RotateOutcome::Lost(Box::new(rotated)));
    assert_eq!(store.refresh(&r3).await.unwrap(), None);

    // Only the newest predecessor keeps its sealed successor.
    assert_eq!(
        rotate(store, &r2, refresh(r4, &f, "c"), 9, "j3", later).await,
        RotateOutcome::Rotated
    );
    let RefreshState::Rotated {
        sealed_successor, ..
    } = store.refresh(&r1).await.unwrap().unwrap().state
    else {
        panic!("r1 is rotated")
    };
    assert_eq!(sealed_successor, None);
    let RefreshState::Rotated {
        sealed_successor, ..
    } = store.refresh(&r2).await.unwrap().unwrap().state
    else {
        panic!("r2 is rotated")
    };
    assert_eq!(sealed_successor, Some([9; 32]));
}

async fn revoking_a_family_revokes_all_of_it_now_and_later<S: ServerStore>(store: &S) {
    let (f, c, r1, r2) = (family("f"), hash(30), hash(31), hash(32));
    store.insert_code(code(c, "c")).await.unwrap();
    redeem(store, &c, &f, "c", "k0", Some(r1)).await;
    assert_eq!(
        rotate(store, &r1, refresh(r2, &f, "c"), 1, "k1", NOW).await,
        RotateOutcome::Rotated
    );
    store.revoke_family(&f).await.unwrap();

    for token in [r1, r2] {
        assert_eq!(
            store.refresh(&token).await.unwrap().unwrap().state,
            RefreshState::Revoked
        );
    }
    for jti in ["k0", "k1"] {
        assert!(store.is_access_token_revoked(jti).await.unwrap());
        assert_denied(store, jti);
        assert!(
            gatehouse_store::is_access_token_revoked_cached(store, jti)
                .await
                .unwrap()
        );
    }
    // Nothing can be added to a revoked family, and its active token cannot be rotated.
    assert_eq!(
        store.record_access_token(access("k2", &f, "c")).await,
        Err(StoreError::FamilyRevoked)
    );
    let lost = store
        .rotate_refresh(
            &r2,
            refresh(hash(33), &f, "c"),
            [2; 32],
            access("k3", &f, "c"),
            NOW,
        )
        .await
        .unwrap();
    assert!(
        matches!(&lost, RotateOutcome::Lost(record) if record.state == RefreshState::Revoked),
        "{lost:?}"
    );
    // ... and nothing of the refused rotation was kept (PostgreSQL sends its writes with the
    // family's lock, and must roll them back).
    assert_eq!(store.refresh(&hash(33)).await.unwrap(), None);
    assert_eq!(
        store.refresh(&r2).await.unwrap().unwrap().state,
        RefreshState::Revoked
    );
    // Revoking twice is harmless; an unrelated token is untouched.
    store.revoke_family(&f).await.unwrap();
    let other = family("other");
    store
        .record_access_token(access("k9", &other, "c"))
        .await
        .unwrap();
    assert!(!store.is_access_token_revoked("k9").await.unwrap());
    assert!(
        !gatehouse_store::is_access_token_revoked_cached(store, "k9")
            .await
            .unwrap()
    );
}

async fn one_access_token_is_revoked_by_jti<S: ServerStore>(store: &S) {
    assert!(!store.is_access_token_revoked("solo").await.unwrap());
    store
        .revoke_access_token("solo", NOW.saturating_add_secs(600))
        .await
        .unwrap();
    store
        .revoke_access_token("solo", NOW.saturating_add_secs(300))
        .await
        .unwrap();
    assert!(store.is_access_token_revoked("solo").await.unwrap());
    assert_denied(store, "solo");
    // Kept until the token's own expiry, then forgotten.
    store
        .purge(NOW.saturating_add_secs(599), NOW)
        .await
        .unwrap();
    assert!(store.is_access_token_revoked("solo").await.unwrap());
    store
        .purge(NOW.saturating_add_secs(600), NOW)
        .await
        .unwrap();
    assert!(!store.is_access_token_revoked("solo").await.unwrap());
}

async fn purge_forgets_only_what_expired<S: ServerStore>(store: &S) {
    let (f, c_live, c_dead, r1, r2) = (family("f"), hash(40), hash(41), hash(42), hash(43));
    let mut dead = code(c_dead, "c");
    dead.expires_at = NOW.saturating_add_secs(10);
    store.insert_code(dead).await.unwrap();
    store.insert_code(code(c_live, "c")).await.unwrap();
    redeem(store, &c_live, &f, "c", "p0", Some(r1)).await;
    assert_eq!(
        rotate(store, &r1, refresh(r2, &f, "c"), 3, "p1", NOW).await,
        RotateOutcome::Rotated
    );

    // 60 s later: the short code is gone; the sealed successor outlived the grace period.
    let later = NOW.saturating_add_secs(60);
    store
        .purge(later, later.saturating_sub_secs(10))
        .await
        .unwrap();
    assert_eq!(store.code(&c_dead).await.unwrap(), None);
    assert!(store.code(&c_live).await.unwrap().is_some());
    let RefreshState::Rotated {
        sealed_successor, ..
    } = store.refresh(&r1).await.unwrap().unwrap().state
    else {
        panic!("r1 is rotated")
    };
    assert_eq!(sealed_successor, None);
    assert!(store.refresh(&r2).await.unwrap().is_some());

    // A day later every token of the family has expired.
    let much_later = NOW.saturating_add_secs(86_400);
    store.purge(much_later, much_later).await.unwrap();
    assert_eq!(store.refresh(&r1).await.unwrap(), None);
    assert_eq!(store.refresh(&r2).await.unwrap(), None);
    assert_eq!(store.code(&c_live).await.unwrap(), None);
}

async fn deleting_a_client_revokes_its_grants_and_consents<S: ServerStore>(store: &S) {
    store.insert_client(client("doomed")).await.unwrap();
    store.insert_client(client("kept")).await.unwrap();
    let resource = ResourceUri::parse(RESOURCE).unwrap();
    let (f, c, r) = (family("f"), hash(50), hash(51));
    store.insert_code(code(c, "doomed")).await.unwrap();
    redeem(store, &c, &f, "doomed", "d0", Some(r)).await;
    let (kept_family, kept_code) = (family("k"), hash(52));
    store.insert_code(code(kept_code, "kept")).await.unwrap();
    redeem(store, &kept_code, &kept_family, "kept", "k0", None).await;
    for id in ["doomed", "kept"] {
        store
            .grant_consent(Consent {
                subject: "alice".into(),
                client_id: ClientId::new(id).unwrap(),
                resource: resource.clone(),
                scopes: ScopeSet::parse("mcp:tools").unwrap(),
                granted_at: NOW,
            })
            .await
            .unwrap();
    }

    let doomed = ClientId::new("doomed").unwrap();
    assert!(store.delete_client(&doomed).await.unwrap());
    assert!(!store.delete_client(&doomed).await.unwrap());
    assert_eq!(store.client(&doomed).await.unwrap(), None);
    assert!(store.is_access_token_revoked("d0").await.unwrap());
    assert_denied(store, "d0");
    assert_eq!(
        store.refresh(&r).await.unwrap().unwrap().state,
        RefreshState::Revoked
    );
    assert!(!store.is_access_token_revoked("k0").await.unwrap());
    let consents = store.consents_of("alice").await.unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0].client_id.as_str(), "kept");
}

async fn users_are_unique_and_hold_only_a_hash<S: ServerStore>(store: &S) {
    let phc = password::hash("correct horse battery staple").unwrap();
    let user = UserRecord {
        name: "alice".into(),
        password_hash: phc.clone(),
        created_at: NOW,
    };
    store.add_user(user.clone()).await.unwrap();
    assert_eq!(
        store.add_user(user.clone()).await,
        Err(StoreError::Duplicate)
    );
    let loaded = store.user("alice").await.unwrap().unwrap();
    assert_eq!(loaded, user);
    assert!(password::verify(
        &loaded.password_hash,
        "correct horse battery staple"
    ));
    assert!(!format!("{loaded:?}").contains(&phc));
    assert_eq!(store.user("bob").await.unwrap(), None);
}

async fn consents_are_remembered_replaced_and_withdrawn<S: ServerStore>(store: &S) {
    let resource = ResourceUri::parse(RESOURCE).unwrap();
    let other = ResourceUri::parse("https://files.example.com/mcp").unwrap();
    let client_id = ClientId::new("c").unwrap();
    let consent = |resource: &ResourceUri, scopes: &str, at: u64| Consent {
        subject: "alice".into(),
        client_id: client_id.clone(),
        resource: resource.clone(),
        scopes: ScopeSet::parse(scopes).unwrap(),
        granted_at: gatehouse_types::UnixTime::from_secs(at),
    };
    assert_eq!(
        store.consent("alice", &client_id, &resource).await.unwrap(),
        None
    );
    store
        .grant_consent(consent(&resource, "mcp:tools", 1))
        .await
        .unwrap();
    store
        .grant_consent(consent(&resource, "mcp:tools mcp:admin", 2))
        .await
        .unwrap();
    store
        .grant_consent(consent(&other, "files:read", 3))
        .await
        .unwrap();
    assert_eq!(
        store.consent("alice", &client_id, &resource).await.unwrap(),
        Some(consent(&resource, "mcp:tools mcp:admin", 2))
    );
    assert_eq!(store.consents_of("alice").await.unwrap().len(), 2);
    assert_eq!(store.consents_of("bob").await.unwrap(), vec![]);
    assert_eq!(
        store.withdraw_consent("alice", &client_id).await.unwrap(),
        2
    );
    assert_eq!(
        store.consent("alice", &client_id, &resource).await.unwrap(),
        None
    );
}

async fn signing_keys_are_kept_sealed_and_ordered<S: ServerStore>(store: &S) {
    let vault = gatehouse_store::sealing::EncryptionKey::generate().unwrap();
    let key = |kid: &str, at: u64| StoredSigningKey {
        kid: kid.into(),
        alg: "ES256".into(),
        sealed_private_jwk: vault.seal(kid, br#"{"kty":"EC","d":"private"}"#).unwrap(),
        created_at: gatehouse_types::UnixTime::from_secs(at),
        retired_at: None,
    };
    let (old, new) = (key("old", 100), key("new", 200));
    store.insert_signing_key(new.clone()).await.unwrap();
    store.insert_signing_key(old.clone()).await.unwrap();
    assert_eq!(
        store.insert_signing_key(key("old", 5)).await,
        Err(StoreError::Duplicate)
    );
    assert_eq!(
        store.signing_keys().await.unwrap(),
        vec![old.clone(), new.clone()]
    );
    let loaded = &store.signing_keys().await.unwrap()[0];
    assert_eq!(
        vault
            .open("old", &loaded.sealed_private_jwk)
            .unwrap()
            .as_slice(),
        br#"{"kty":"EC","d":"private"}"#
    );

    let retired_at = gatehouse_types::UnixTime::from_secs(300);
    assert!(store.retire_signing_key("old", retired_at).await.unwrap());
    // Retiring again keeps the first date.
    assert!(store.retire_signing_key("old", NOW).await.unwrap());
    assert!(!store.retire_signing_key("missing", NOW).await.unwrap());
    assert_eq!(
        store.signing_keys().await.unwrap()[0].retired_at,
        Some(retired_at)
    );
    assert!(store.delete_signing_key("old").await.unwrap());
    assert!(!store.delete_signing_key("old").await.unwrap());
    assert_eq!(store.signing_keys().await.unwrap(), vec![new]);
}

async fn audit_events_are_appended_in_order<S: ServerStore>(store: &S) {
    for (i, kind) in [
        "client.registered",
        "token.issued",
        "refresh.reuse_detected",
    ]
    .iter()
    .enumerate()
    {
        store
            .append_audit(vec![AuditEvent {
                at: NOW.saturating_add_secs(i as u64),
                kind: (*kind).into(),
                subject: Some("alice".into()),
                client_id: (i > 0).then(|| "c".to_owned()),
                resource: None,
                tool: None,
                detail: serde_json::json!({ "n": i, "family": "f" }).into(),
            }])
            .await
            .unwrap();
    }
    let first_two = store.audit_events(0, 2).await.unwrap();
    assert_eq!(first_two.len(), 2);
    assert_eq!(first_two[0].1.kind, "client.registered");
    assert_eq!(first_two[0].1.client_id, None);
    assert_eq!(
        first_two[1].1.detail.to_value(),
        serde_json::json!({ "n": 1, "family": "f" })
    );
    let rest = store.audit_events(first_two[1].0, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].1.kind, "refresh.reuse_detected");
    assert!(rest[0].0 > first_two[1].0);
}

async fn live_grants_are_listed_per_person_until_revoked_or_expired<S: ServerStore>(store: &S) {
    let (f, c, r1, r2) = (family("f"), hash(60), hash(61), hash(62));
    store.insert_code(code(c, "c")).await.unwrap();
    redeem(store, &c, &f, "c", "g0", Some(r1)).await;
    let grants = store.grants_of("alice", NOW).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!((&grants[0].family, grants[0].client_id.as_str()), (&f, "c"));
    assert_eq!(grants[0].scopes.to_string(), "mcp:tools");
    assert_eq!(grants[0].resources[0].as_str(), RESOURCE);
    assert_eq!(store.grants_of("bob", NOW).await.unwrap(), vec![]);

    // After a rotation the grant is listed once, last used when its newest token was issued.
    let mut next = refresh(r2, &f, "c");
    next.issued_at = NOW.saturating_add_secs(100);
    store
        .rotate_refresh(
            &r1,
            next,
            [0; 32],
            access("g1", &f, "c"),
            NOW.saturating_add_secs(100),
        )
        .await
        .unwrap();
    let grants = store.grants_of("alice", NOW).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].last_used, NOW.saturating_add_secs(100));
    // Not once it expired, nor once revoked.
    assert_eq!(
        store
            .grants_of("alice", NOW.saturating_add_secs(86_400))
            .await
            .unwrap(),
        vec![]
    );
    store.revoke_family(&f).await.unwrap();
    assert_eq!(store.grants_of("alice", NOW).await.unwrap(), vec![]);
}

fn user(name: &str) -> UserRecord {
    UserRecord {
        name: name.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at: NOW,
    }
}

fn session(subject: &str, n: u64) -> SessionRecord {
    SessionRecord {
        hash: hash(n),
        subject: subject.into(),
        created_at: NOW,
        expires_at: NOW.saturating_add_secs(3600),
    }
}

async fn users_are_listed_and_their_password_replaced<S: ServerStore>(store: &S) {
    store.add_user(user("bob")).await.unwrap();
    store.add_user(user("alice")).await.unwrap();
    let names: Vec<_> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    let signed_in = session("alice", 1);
    store.insert_session(signed_in.clone()).await.unwrap();
    store
        .record_sign_in_failure("alice", NOW)
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .set_password("alice", "$argon2id$new".into())
            .await
            .unwrap()
    );
    assert_eq!(
        store.user("alice").await.unwrap().unwrap().password_hash,
        "$argon2id$new"
    );
    assert_eq!(
        store.session(&signed_in.hash, NOW).await.unwrap(),
        None,
        "a new password ends the sessions"
    );
    assert_eq!(
        store.sign_in_failures("alice").await.unwrap(),
        Some(SignInFailures::default())
    );
    assert!(!store.set_password("nobody", "x".into()).await.unwrap());
}

async fn deleting_a_user_revokes_their_grants_and_ends_their_sessions<S: ServerStore>(store: &S) {
    store.add_user(user("alice")).await.unwrap();
    store.add_user(user("bob")).await.unwrap();
    let resource = ResourceUri::parse(RESOURCE).unwrap();
    // A grant with a refresh token, one without (its code is the only link to alice), a code
    // not yet redeemed, a session and a consent.
    let (with_refresh, without_refresh) = (family("with"), family("without"));
    let (c1, c2, pending, r) = (hash(60), hash(61), hash(62), hash(63));
    for c in [c1, c2, pending] {
        store.insert_code(code(c, "c")).await.unwrap();
    }
    redeem(store, &c1, &with_refresh, "c", "u1", Some(r)).await;
    redeem(store, &c2, &without_refresh, "c", "u2", None).await;
    let alice = session("alice", 64);
    let bob = session("bob", 65);
    store.insert_session(alice.clone()).await.unwrap();
    store.insert_session(bob.clone()).await.unwrap();
    store
        .grant_consent(Consent {
            subject: "alice".into(),
            client_id: ClientId::new("c").unwrap(),
            resource: resource.clone(),
            scopes: ScopeSet::parse("mcp:tools").unwrap(),
            granted_at: NOW,
        })
        .await
        .unwrap();

    assert!(store.delete_user("alice").await.unwrap());
    assert_eq!(store.user("alice").await.unwrap(), None);
    for jti in ["u1", "u2"] {
        assert!(store.is_access_token_revoked(jti).await.unwrap(), "{jti}");
        assert_denied(store, jti);
    }
    assert_eq!(
        store.refresh(&r).await.unwrap().unwrap().state,
        RefreshState::Revoked
    );
    assert_eq!(
        store
            .redeem_code(
                &pending,
                &family("late"),
                access("u3", &family("late"), "c"),
                None
            )
            .await
            .unwrap(),
        TakeCode::NotFound,
        "a code issued before the deletion cannot be redeemed after it"
    );
    assert_eq!(store.session(&alice.hash, NOW).await.unwrap(), None);
    assert_eq!(store.session(&bob.hash, NOW).await.unwrap(), Some(bob));
    assert!(store.consents_of("alice").await.unwrap().is_empty());
    assert!(!store.delete_user("alice").await.unwrap());
}

async fn failed_sign_ins_are_counted_for_users_only<S: ServerStore>(store: &S) {
    store.add_user(user("alice")).await.unwrap();
    assert_eq!(
        store.sign_in_failures("alice").await.unwrap(),
        Some(SignInFailures::default())
    );
    for n in 1..=3u32 {
        let at = NOW.saturating_add_secs(u64::from(n));
        assert_eq!(
            store.record_sign_in_failure("alice", at).await.unwrap(),
            Some(SignInFailures {
                count: n,
                last_at: Some(at)
            })
        );
    }
    // Nothing is stored for a name that is not a user: whoever sends it chose it.
    assert_eq!(
        store.record_sign_in_failure("mallory", NOW).await.unwrap(),
        None
    );
    assert_eq!(store.sign_in_failures("mallory").await.unwrap(), None);
    store.clear_sign_in_failures("alice").await.unwrap();
    assert_eq!(
        store.sign_in_failures("alice").await.unwrap(),
        Some(SignInFailures::default())
    );
}

async fn sessions_are_found_until_they_end_or_expire<S: ServerStore>(store: &S) {
    let one = session("alice", 70);
    store.insert_session(one.clone()).await.unwrap();
    assert_eq!(
        store.insert_session(one.clone()).await,
        Err(StoreError::Duplicate)
    );
    assert_eq!(
        store.session(&one.hash, NOW).await.unwrap(),
        Some(one.clone())
    );
    assert_eq!(
        store.session(&one.hash, one.expires_at).await.unwrap(),
        None,
        "expired"
    );
    let two = session("alice", 71);
    store.insert_session(two.clone()).await.unwrap();
    assert!(store.delete_session(&two.hash).await.unwrap());
    assert!(!store.delete_session(&two.hash).await.unwrap());
    assert_eq!(store.session(&two.hash, NOW).await.unwrap(), None);
    // The purge forgets expired sessions.
    store.purge(one.expires_at, one.expires_at).await.unwrap();
    assert_eq!(store.session(&one.hash, NOW).await.unwrap(), None);
}

async fn audit_events_are_purged_after_their_retention<S: ServerStore>(store: &S) {
    for (at, kind) in [
        (0, "old"),
        (10, "older_than_cut"),
        (20, "kept"),
        (30, "newest"),
    ] {
        store
            .append_audit(vec![AuditEvent {
                at: NOW.saturating_add_secs(at),
                kind: kind.into(),
                subject: None,
                client_id: None,
                resource: None,
                tool: None,
                detail: serde_json::json!({}).into(),
            }])
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .purge_audit(NOW.saturating_add_secs(20))
            .await
            .unwrap(),
        2
    );
    let kinds: Vec<_> = store
        .audit_events(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.kind)
        .collect();
    assert_eq!(kinds, ["kept", "newest"]);
}

/// Writes issued at the same moment (which SQLite commits as one group) keep their own outcomes:
/// a write that fails is undone alone, and every other one is stored.
async fn concurrent_writes_keep_their_own_outcomes<S: ServerStore>(store: &S) {
    store.insert_client(client("taken")).await.unwrap();
    let attempts = (0..24).map(|i| {
        let id = if i % 4 == 0 {
            "taken".to_owned()
        } else {
            format!("c{i}")
        };
        async move { (id.clone(), store.insert_client(client(&id)).await) }
    });
    for (id, outcome) in futures_util::future::join_all(attempts).await {
        if id == "taken" {
            assert_eq!(outcome, Err(StoreError::Duplicate));
        } else {
            assert_eq!(outcome, Ok(()), "{id}");
        }
    }
    let stored = store.clients().await.unwrap();
    assert_eq!(stored.len(), 1 + 18);
}

/// A batch of audit events is stored whole, in order, after what was there.
async fn audit_events_are_appended_in_batches_in_order<S: ServerStore>(store: &S) {
    let event = |kind: &str| AuditEvent {
        at: NOW,
        kind: kind.into(),
        subject: None,
        client_id: None,
        resource: None,
        tool: None,
        detail: serde_json::json!({}).into(),
    };
    store.append_audit(vec![event("first")]).await.unwrap();
    store
        .append_audit(vec![event("second"), event("third"), event("fourth")])
        .await
        .unwrap();
    store.append_audit(Vec::new()).await.unwrap();
    let stored = store.audit_events(0, 10).await.unwrap();
    let kinds: Vec<&str> = stored.iter().map(|(_, e)| e.kind.as_str()).collect();
    assert_eq!(kinds, ["first", "second", "third", "fourth"]);
    assert!(stored.windows(2).all(|pair| pair[0].0 < pair[1].0));
    // A batch the size of a busy writer's: stored by statements of 32 rows and the rest by
    // statements of 16, 8, 4, 2 and 1 (127 = 3 × 32 + 31: each of them), still whole and in
    // order, every column kept.
    let calls: Vec<AuditEvent> = (0..127)
        .map(|n| AuditEvent {
            at: NOW.saturating_add_secs(n),
            kind: "tool_call".into(),
            subject: Some(format!("subject-{n}")),
            client_id: Some(format!("client-{n}")),
            resource: Some("https://r/mcp".into()),
            tool: Some(format!("tool-{n}")),
            detail: serde_json::json!({ "n": n }).into(),
        })
        .collect();
    store.append_audit(calls.clone()).await.unwrap();
    let stored = store.audit_events(stored[3].0, 200).await.unwrap();
    let stored: Vec<AuditEvent> = stored.into_iter().map(|(_, event)| event).collect();
    assert_eq!(stored, calls);
}

/// `gatehouse audit list`: newest first, each filter only when given, `tool` the column of MCP
/// call events.
async fn audit_events_are_searched_newest_first_by_client_subject_and_tool<S: ServerStore>(
    store: &S,
) {
    let event = |at: u64, client: &str, subject: &str, tool: Option<&str>| AuditEvent {
        at: UnixTime::from_secs(at),
        kind: if tool.is_some() {
            "tool_call"
        } else {
            "token_issued"
        }
        .into(),
        subject: Some(subject.into()),
        client_id: Some(client.into()),
        resource: tool.map(|_| "https://r/mcp".to_owned()),
        tool: tool.map(str::to_owned),
        detail: match tool {
            Some(tool) => serde_json::json!({"resource": "https://r/mcp", "tool": tool}),
            None => serde_json::json!({}),
        }
        .into(),
    };
    store
        .append_audit(vec![
            event(100, "a", "alice", None),
            event(200, "a", "alice", Some("echo")),
            event(300, "b", "alice", Some("delete")),
            event(400, "a", "bob", Some("echo")),
        ])
        .await
        .unwrap();
    let search = |client: Option<&str>, subject: Option<&str>, tool: Option<&str>, since| {
        let query = AuditQuery {
            since: UnixTime::from_secs(since),
            client_id: client.map(str::to_owned),
            subject: subject.map(str::to_owned),
            tool: tool.map(str::to_owned),
            limit: 10,
        };
        async move {
            store
                .search_audit(&query)
                .await
                .unwrap()
                .into_iter()
                .map(|(_, event)| event.at.as_secs())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search(None, None, None, 0).await, [400, 300, 200, 100]);
    assert_eq!(search(Some("a"), None, None, 0).await, [400, 200, 100]);
    assert_eq!(search(None, Some("alice"), None, 0).await, [300, 200, 100]);
    assert_eq!(search(None, None, Some("echo"), 0).await, [400, 200]);
    assert_eq!(
        search(Some("a"), Some("alice"), Some("echo"), 0).await,
        [200]
    );
    assert_eq!(search(None, None, None, 250).await, [400, 300]);
    let newest = AuditQuery {
        since: UnixTime::EPOCH,
        client_id: None,
        subject: None,
        tool: None,
        limit: 1,
    };
    assert_eq!(store.search_audit(&newest).await.unwrap().len(), 1);
}

/// What an identity provider said of a person is kept per subject, replaced at each sign-in,
/// and its sealed tokens are replaced only by a writer that saw the current version: of two
/// instances refreshing at once, one wins and the other learns it lost.
async fn identities_keep_groups_and_swap_tokens_by_version<S: ServerStore>(store: &S) {
    let at = UnixTime::from_secs(1_800_000_000);
    assert_eq!(
        store.groups_of("corp:alice").await.unwrap(),
        Vec::<String>::new()
    );
    assert!(store.identity("corp:alice").await.unwrap().is_none());
    let identity = |groups: &[&str], tokens: &[u8]| gatehouse_store::IdentityRecord {
        subject: "corp:alice".into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        sealed_tokens: Some(tokens.to_vec()),
        version: 0,
        updated_at: at,
    };
    store
        .put_identity(identity(&["engineering", "on-call"], b"first"))
        .await
        .unwrap();
    assert_eq!(
        store.groups_of("corp:alice").await.unwrap(),
        ["engineering", "on-call"]
    );
    store
        .put_identity(identity(&["engineering"], b"second"))
        .await
        .unwrap();
    let kept = store.identity("corp:alice").await.unwrap().unwrap();
    assert_eq!(kept.groups, ["engineering"]);
    assert_eq!(kept.sealed_tokens.as_deref(), Some(&b"second"[..]));
    let version = kept.version;
    let next = store
        .replace_identity_tokens("corp:alice", version, Some(b"third".to_vec()), at)
        .await
        .unwrap()
        .unwrap();
    assert!(next > version);
    // The second writer saw the old version: it loses, and nothing changes.
    assert_eq!(
        store
            .replace_identity_tokens("corp:alice", version, Some(b"lost".to_vec()), at)
            .await
            .unwrap(),
        None
    );
    let kept = store.identity("corp:alice").await.unwrap().unwrap();
    assert_eq!(kept.sealed_tokens.as_deref(), Some(&b"third"[..]));
    assert_eq!(kept.version, next);
    assert_eq!(
        store
            .replace_identity_tokens("corp:nobody", 1, None, at)
            .await
            .unwrap(),
        None
    );
    // One instance at a time may refresh: the lease is taken on the current version, refused
    // to others while it holds, free again once it lapses or the tokens are written.
    let later = UnixTime::from_secs(1_800_000_030);
    assert!(
        store
            .claim_identity_refresh("corp:alice", next, later, at)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_identity_refresh("corp:alice", next, later, at)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_identity_refresh("corp:alice", version, later, later)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_identity_refresh("corp:alice", next, later, later)
            .await
            .unwrap()
    );
    let written = store
        .replace_identity_tokens("corp:alice", next, Some(b"fourth".to_vec()), at)
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .claim_identity_refresh("corp:alice", written, later, at)
            .await
            .unwrap()
    );
}

/// The shared rate limit spends as `gatehouse_types::rate::spend` does, in every backend: a
/// whole budget at once, then one request per interval, each key its own.
async fn rate_limits_spend_one_budget_per_key<S: ServerStore>(store: &S) {
    let budget = PerMinute::new(3);
    let (a, b) = ([1; 32], [2; 32]);
    let now = 1_700_000_000_000_000;
    for _ in 0..3 {
        assert_eq!(store.spend_rate(&a, now, budget).await.unwrap(), Ok(()));
    }
    assert_eq!(
        store.spend_rate(&a, now, budget).await.unwrap(),
        Err(20_000_000)
    );
    // A refusal spends nothing: still 20 s, 5 s later 15 s.
    assert_eq!(
        store.spend_rate(&a, now, budget).await.unwrap(),
        Err(20_000_000)
    );
    assert_eq!(
        store.spend_rate(&a, now + 5_000_000, budget).await.unwrap(),
        Err(15_000_000)
    );
    assert_eq!(store.spend_rate(&b, now, budget).await.unwrap(), Ok(()));
    assert_eq!(
        store
            .spend_rate(&a, now + 20_000_000, budget)
            .await
            .unwrap(),
        Ok(())
    );
    // Keys whose budget is whole again are forgotten; the others are kept.
    assert_eq!(store.purge_rate_limits(now + 20_000_000).await.unwrap(), 1);
    assert_eq!(
        store
            .spend_rate(&a, now + 20_000_000, budget)
            .await
            .unwrap(),
        Err(20_000_000)
    );
    assert_eq!(store.purge_rate_limits(now + 120_000_000).await.unwrap(), 1);
    assert_eq!(
        store
            .spend_rate(&a, now + 120_000_000, budget)
            .await
            .unwrap(),
        Ok(())
    );
}

/// RFC 7523 §3 item 7: a JWT assertion's `jti` is used once per issuer, until it expires.
async fn an_assertion_is_used_once_until_it_expires<S: ServerStore>(store: &S) {
    let exp = UnixTime::from_secs(2_000);
    assert!(store.use_assertion("client-a", "j1", exp).await.unwrap());
    assert!(!store.use_assertion("client-a", "j1", exp).await.unwrap());
    // The same `jti` from another issuer is another assertion.
    assert!(store.use_assertion("client-b", "j1", exp).await.unwrap());
    // Kept while it could still be presented, forgotten once it expired.
    store
        .purge(UnixTime::from_secs(1_999), UnixTime::EPOCH)
        .await
        .unwrap();
    assert!(!store.use_assertion("client-a", "j1", exp).await.unwrap());
    store.purge(exp, UnixTime::EPOCH).await.unwrap();
    assert!(store.use_assertion("client-a", "j1", exp).await.unwrap());
}

/// RFC 9449 §5 and §10: the DPoP key a code or a refresh token is bound to is kept with it,
/// and a rotation's successor carries its predecessor's.
async fn dpop_bindings_are_kept_with_codes_and_refresh_tokens<S: ServerStore>(store: &S) {
    const JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    let (h1, h2, h3, h4) = (hash(1), hash(2), hash(3), hash(4));
    store.insert_client(client("app")).await.unwrap();
    let mut bound = code(h1, "app");
    bound.dpop_jkt = Some(JKT.to_owned());
    store.insert_code(bound.clone()).await.unwrap();
    store.insert_code(code(h2, "app")).await.unwrap();
    let read = store.code(&h1).await.unwrap().unwrap();
    assert_eq!(read.record, bound);
    let unbound = store.code(&h2).await.unwrap().unwrap();
    assert_eq!(unbound.record.dpop_jkt, None);

    let family = family("f");
    let mut token = refresh(h3, &family, "app");
    token.dpop_jkt = Some(JKT.to_owned());
    let taken = store
        .redeem_code(
            &h1,
            &family,
            access("j1", &family, "app"),
            Some(token.clone()),
        )
        .await
        .unwrap();
    assert!(
        matches!(taken, TakeCode::Taken(ref record) if record.dpop_jkt.as_deref() == Some(JKT))
    );
    assert_eq!(store.refresh(&h3).await.unwrap(), Some(token.clone()));
    let successor = gatehouse_engine::store::RefreshRecord { hash: h4, ..token };
    let outcome = rotate(store, &h3, successor, 1, "j2", NOW).await;
    assert_eq!(outcome, RotateOutcome::Rotated);
    let read = store.refresh(&h4).await.unwrap().unwrap();
    assert_eq!(read.dpop_jkt.as_deref(), Some(JKT));
}

/// Instantiates each scenario for each backend.
async fn declared_clients_are_upserted_and_never_take_another_clients_id<S: ServerStore>(
    store: &S,
) {
    // First declaration: stored and listed as declared.
    let mut declared = client("files-rs");
    declared.registration_token_hash = None;
    assert!(store.declare_client(declared.clone()).await.unwrap());
    assert_eq!(
        store.client(&declared.client_id).await.unwrap(),
        Some(declared.clone())
    );
    // Declared again, changed: updated in place, its registration time kept.
    let mut changed = declared.clone();
    changed.secret_hash = Some(hash(70));
    changed.introspection_resources = Vec::new();
    changed.issued_at = NOW.saturating_add_secs(3_600);
    assert!(store.declare_client(changed.clone()).await.unwrap());
    let stored = store.client(&declared.client_id).await.unwrap().unwrap();
    assert_eq!(stored.secret_hash, changed.secret_hash);
    assert!(stored.introspection_resources.is_empty());
    assert_eq!(stored.issued_at, declared.issued_at);
    // A client that registered itself keeps its id: a declaration cannot take it over.
    let registered = client("self-registered");
    store.insert_client(registered.clone()).await.unwrap();
    let mut usurper = registered.clone();
    usurper.registration_token_hash = None;
    usurper.secret_hash = Some(hash(71));
    assert!(!store.declare_client(usurper).await.unwrap());
    assert_eq!(
        store.client(&registered.client_id).await.unwrap(),
        Some(registered.clone())
    );
    let ids: Vec<_> = store
        .declared_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|id| id.as_str().to_owned())
        .collect();
    assert_eq!(ids, ["files-rs"]);
    // Deleted, it is no longer declared.
    assert!(store.delete_client(&declared.client_id).await.unwrap());
    assert!(store.declared_clients().await.unwrap().is_empty());
}

macro_rules! behaviour_suite {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(&super::memory()).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let (store, _dir) = super::sqlite().await;
                    super::$scenario(&store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(schema) = super::PgSchema::create().await else {
                        eprintln!("{} unset: PostgreSQL skipped", super::POSTGRES_ENV);
                        return;
                    };
                    let store = gatehouse_store::PostgresStore::open(&schema.url()).await.unwrap();
                    super::$scenario(&store).await;
                    drop(store);
                    schema.drop_schema().await;
                }
            )*
        }
    };
}

behaviour_suite!(
    clients_are_stored_whole_and_unique,
    a_code_is_taken_exactly_once,
    a_failed_redemption_burns_nothing,
    refresh_rotation_is_a_compare_and_set,
    revoking_a_family_revokes_all_of_it_now_and_later,
    one_access_token_is_revoked_by_jti,
    purge_forgets_only_what_expired,
    deleting_a_client_revokes_its_grants_and_consents,
    users_are_unique_and_hold_only_a_hash,
    consents_are_remembered_replaced_and_withdrawn,
    signing_keys_are_kept_sealed_and_ordered,
    audit_events_are_appended_in_order,
    live_grants_are_listed_per_person_until_revoked_or_expired,
    users_are_listed_and_their_password_replaced,
    deleting_a_user_revokes_their_grants_and_ends_their_sessions,
    failed_sign_ins_are_counted_for_users_only,
    sessions_are_found_until_they_end_or_expire,
    audit_events_are_purged_after_their_retention,
    declared_clients_are_upserted_and_never_take_another_clients_id,
    an_assertion_is_used_once_until_it_expires,
    audit_events_are_appended_in_batches_in_order,
    concurrent_writes_keep_their_own_outcomes,
    dpop_bindings_are_kept_with_codes_and_refresh_tokens,
    audit_events_are_searched_newest_first_by_client_subject_and_tool,
    rate_limits_spend_one_budget_per_key,
    identities_keep_groups_and_swap_tokens_by_version,
);
