//! Revocation, introspection, the purge, the model's bookkeeping, and the invariant checks.

use gatehouse_engine::store::RefreshState;
use gatehouse_engine::{EndpointError, Store, TokenResponse};
use gatehouse_introspection::IntrospectionResponse;
use gatehouse_types::{ClientId, ErrorCode, OAuthError, UnixTime};

use super::{
    AccessM, By, CLIENT_COUNT, Harness, Issued, RState, RefreshM, Revoked, SUBJECT, Tok,
    TokenResult, hash, pick, scopes,
};
use crate::support::block_on;

impl Harness {
    pub(super) fn revoke(&mut self, token: Tok, by: By) {
        match token {
            Tok::Refresh(t) => {
                let Some(i) = pick(t, self.refresh.len()) else {
                    return;
                };
                let family = self.refresh[i].family;
                let owner = self.families[family].client;
                let presenter = Self::presenter(by, owner);
                let body = self.body(presenter, &[("token", &self.refresh[i].token)]);
                let result = self.revocation(&body);
                if self.refresh[i].purged {
                    // Forgotten, so unknown (RFC 7009 §2.2: still 200).
                    assert_eq!(result, Ok(()), "{}", self.context);
                } else if presenter == owner {
                    assert_eq!(result, Ok(()), "{}", self.context);
                    self.revoke_family(family, Revoked::ByOwner);
                    self.coverage.owner_revocations += 1;
                } else {
                    self.expect_refused(&result, &ErrorCode::UnauthorizedClient);
                    self.coverage.refused_revocations += 1;
                }
            }
            Tok::Access(t) => {
                let Some(i) = pick(t, self.access.len()) else {
                    return;
                };
                let owner = self.access[i].client;
                let presenter = Self::presenter(by, owner);
                let body = self.body(presenter, &[("token", &self.access[i].token)]);
                let result = self.revocation(&body);
                if self.now() >= self.access[i].exp {
                    // An expired token is no token (RFC 7009 §2.2: still 200).
                    assert_eq!(result, Ok(()), "{}", self.context);
                } else if presenter == owner {
                    assert_eq!(result, Ok(()), "{}", self.context);
                    self.access[i].revoked = true;
                    self.coverage.owner_revocations += 1;
                } else {
                    self.expect_refused(&result, &ErrorCode::UnauthorizedClient);
                    self.coverage.refused_revocations += 1;
                }
            }
        }
    }

    pub(super) fn revocation(&self, body: &str) -> Result<(), EndpointError> {
        let w = &self.world;
        block_on(crate::support::revoke_call(
            &w.engine,
            body.as_bytes(),
            None,
            &w.keys,
            w.now,
        ))
    }

    /// Introspects `token` as `presenter`: `None` when the engine refuses the caller, which it
    /// must exactly for public clients (RFC 7662 §2.1: they present nothing secret).
    pub(super) fn introspection(
        &self,
        presenter: usize,
        token: &str,
    ) -> Option<IntrospectionResponse> {
        let body = self.body(presenter, &[("token", token)]);
        let w = &self.world;
        let result = block_on(crate::support::introspect_call(
            &w.engine,
            body.as_bytes(),
            None,
            &w.keys,
            w.now,
        ));
        match (result, self.clients[presenter].secret.is_some()) {
            (Ok(response), true) => Some(response),
            (Err(error), false) => {
                assert_eq!(
                    error.error_code(),
                    ErrorCode::InvalidClient,
                    "{}",
                    self.context
                );
                None
            }
            (result, _) => panic!(
                "{}: introspection by client {presenter}: {result:?}",
                self.context
            ),
        }
    }

    /// Introspects refresh token `i` as `presenter` and checks the answer: whether it was active,
    /// or `None` if the caller was refused.
    pub(super) fn introspect_refresh(&self, i: usize, presenter: usize) -> Option<bool> {
        let token = &self.refresh[i];
        let family = &self.families[token.family];
        let live = !token.purged && token.state == RState::Active && self.now() < token.expires_at;
        let expected = live && presenter == family.client;
        let response = self.introspection(presenter, &token.token)?;
        assert_eq!(
            response.is_active(),
            expected,
            "{}: introspection of refresh token {i} ({:?}, family revoked: {:?}) by client {presenter}",
            self.context,
            token.state,
            family.revoked
        );
        if let Some(active) = response.active_token() {
            assert_eq!(active.token_type.as_deref(), Some("refresh_token"));
            assert_eq!(
                active.client_id.as_ref().map(ClientId::as_str),
                Some(self.clients[family.client].id.as_str())
            );
            assert_eq!(active.scope.as_ref(), Some(&family.scopes));
            assert_eq!(active.sub.as_deref(), Some(SUBJECT));
            assert_eq!(active.exp, Some(UnixTime::from_secs(token.expires_at)));
        }
        Some(expected)
    }

    pub(super) fn access_live(&self, i: usize) -> bool {
        let token = &self.access[i];
        self.now() < token.exp && !token.revoked && self.families[token.family].revoked.is_none()
    }

    /// Introspects access token `i` as `presenter` and checks the answer: whether it was active,
    /// or `None` if the caller was refused. The owner sees its live tokens, and so does the
    /// resource server the token is for (RFC 7662 §4).
    pub(super) fn introspect_access(&self, i: usize, presenter: usize) -> Option<bool> {
        let token = &self.access[i];
        let serves = self.clients[presenter]
            .serves
            .is_some_and(|r| token.audience.contains(&r));
        let expected = self.access_live(i) && (presenter == token.client || serves);
        let response = self.introspection(presenter, &token.token)?;
        assert_eq!(
            response.is_active(),
            expected,
            "{}: introspection of access token {i} (exp {}, revoked {}, family revoked {:?}) by client {presenter}",
            self.context,
            token.exp,
            token.revoked,
            self.families[token.family].revoked
        );
        if let Some(active) = response.active_token() {
            assert_eq!(active.token_type.as_deref(), Some("Bearer"));
            assert_eq!(
                active.client_id.as_ref().map(ClientId::as_str),
                Some(self.clients[token.client].id.as_str())
            );
            assert_eq!(
                active.scope.clone().unwrap_or_default(),
                token.scopes,
                "{}",
                self.context
            );
            assert_eq!(active.jti.as_deref(), Some(token.jti.as_str()));
            assert_eq!(active.exp, Some(UnixTime::from_secs(token.exp)));
        }
        Some(expected)
    }

    /// The server's periodic purge: everything expired by now, and sealed successors of tokens
    /// rotated longer than the grace period ago.
    pub(super) fn purge(&mut self) {
        let now = self.now();
        let sealed_before = now.saturating_sub(self.grace());
        block_on(
            self.world
                .engine
                .store()
                .purge(UnixTime::from_secs(now), UnixTime::from_secs(sealed_before)),
        )
        .unwrap();
        for code in self.codes.iter_mut().filter(|c| c.expires_at <= now) {
            code.purged = true;
        }
        for token in &mut self.refresh {
            if token.expires_at <= now {
                token.purged = true;
            }
            if let RState::Rotated { at, sealed, .. } = &mut token.state
                && *at < sealed_before
            {
                *sealed = false;
            }
        }
        for token in self.access.iter_mut().filter(|t| t.exp <= now) {
            token.purged = true;
        }
        self.coverage.purges += 1;
    }

    // ---- Model updates ----

    pub(super) fn revoke_family(&mut self, family: usize, reason: Revoked) {
        let f = &mut self.families[family];
        if f.revoked.is_none() {
            f.revoked = Some(reason);
        }
        for token in self.refresh.iter_mut().filter(|t| t.family == family) {
            token.state = RState::Revoked;
        }
    }

    pub(super) fn push_refresh(&mut self, token: String, family: usize) {
        assert!(
            self.refresh.iter().all(|t| t.token != token),
            "{}: refresh tokens are fresh",
            self.context
        );
        let expires_at = self.now() + self.world.engine.config().refresh_ttl_secs;
        self.refresh.push(RefreshM {
            token,
            family,
            expires_at,
            state: RState::Active,
            purged: false,
        });
    }

    /// Checks a fresh access token against what the model says was issued, and records it.
    pub(super) fn push_access(&mut self, response: &TokenResponse, issued: Issued) {
        let Issued {
            family,
            client,
            scopes: expected,
            audience: expected_audience,
        } = issued;
        let ctx = &self.context;
        let grant = &self.families[family];
        let ttl = self.world.engine.config().access_ttl_secs;
        let now = self.now();
        assert_eq!(response.token_type, "Bearer", "{ctx}");
        assert_eq!(response.expires_in, ttl, "{ctx}");
        assert_eq!(
            response.scope,
            (!expected.is_empty()).then(|| expected.to_string()),
            "{ctx}: response scope"
        );
        let claims = self
            .claims(&response.access_token)
            .unwrap_or_else(|| panic!("{ctx}: a fresh access token does not validate"));
        let claimed = scopes(claims.scope.as_deref().unwrap_or(""));
        assert_eq!(claimed, expected, "{ctx}: token scope");
        assert!(
            claimed.is_subset(&grant.scopes),
            "{ctx}: scope widened beyond the grant: {claimed} ⊄ {}",
            grant.scopes
        );
        assert_eq!(claims.client_id, self.clients[client].id, "{ctx}");
        assert_eq!(claims.sub, SUBJECT, "{ctx}");
        assert_eq!(claims.iat, now, "{ctx}");
        assert_eq!(claims.exp, now + ttl, "{ctx}");
        let audience: Vec<&str> = claims.aud.iter().collect();
        assert_eq!(audience, expected_audience, "{ctx}: aud");
        assert!(
            audience.iter().all(|aud| grant.resources.contains(aud)),
            "{ctx}: audience beyond the grant"
        );
        assert!(
            self.jtis.insert(claims.jti.clone()),
            "{ctx}: jti {} reused",
            claims.jti
        );
        self.access.push(AccessM {
            token: response.access_token.clone(),
            jti: claims.jti,
            family,
            client,
            scopes: expected,
            audience: expected_audience,
            exp: now + ttl,
            revoked: false,
            confirmed_dead: false,
            purged: false,
        });
    }

    pub(super) fn expect_error(&self, result: &TokenResult, code: &ErrorCode, what: &str) {
        match result {
            Err(error) => assert_eq!(&error.error_code(), code, "{}: {what}", self.context),
            Ok(_) => panic!("{}: {what} succeeded", self.context),
        }
    }

    pub(super) fn expect_refused(&self, result: &Result<(), EndpointError>, code: &ErrorCode) {
        match result {
            Err(error) => assert_eq!(&error.error_code(), code, "{}", self.context),
            Ok(()) => panic!("{}: a foreign token was revoked", self.context),
        }
    }

    // ---- Invariants ----

    /// After every step: the store agrees with the model about every code, refresh token (state,
    /// successor, sealed successor) and access-token revocation, and `World::accepts` agrees
    /// about every live access token (in light mode: none) and every dead one not yet confirmed
    /// dead.
    pub fn check(&mut self) {
        let ctx = &self.context;
        let store = self.world.engine.store();
        for (i, code) in self.codes.iter().enumerate() {
            let entry = block_on(store.code(&hash(&code.code))).unwrap();
            assert_eq!(entry.is_none(), code.purged, "{ctx}: code {i} purged");
            if let Some(entry) = entry {
                assert_eq!(
                    entry.redeemed_into.as_ref(),
                    code.family.map(|f| &self.families[f].id),
                    "{ctx}: code {i}"
                );
            }
        }
        for (i, token) in self.refresh.iter().enumerate() {
            let family = &self.families[token.family];
            let record = block_on(store.refresh(&hash(&token.token))).unwrap();
            assert_eq!(
                record.is_none(),
                token.purged,
                "{ctx}: refresh token {i} purged"
            );
            let Some(record) = record else {
                continue;
            };
            assert_eq!(record.family, family.id, "{ctx}: refresh token {i}");
            assert_eq!(record.client_id.as_str(), self.clients[family.client].id);
            assert_eq!(
                record.scopes, family.scopes,
                "{ctx}: refresh token {i} scope"
            );
            assert_eq!(record.expires_at.as_secs(), token.expires_at);
            match (&record.state, token.state) {
                (RefreshState::Active, RState::Active)
                | (RefreshState::Revoked, RState::Revoked) => {}
                (
                    RefreshState::Rotated {
                        successor,
                        sealed_successor,
                        rotated_at,
                    },
                    RState::Rotated {
                        successor: s,
                        at,
                        sealed,
                    },
                ) => {
                    assert_eq!(*successor, hash(&self.refresh[s].token), "{ctx}: successor");
                    assert_eq!(rotated_at.as_secs(), at, "{ctx}");
                    assert_eq!(
                        sealed_successor.is_some(),
                        sealed,
                        "{ctx}: refresh token {i} keeps a sealed successor"
                    );
                }
                (engine, model) => panic!(
                    "{ctx}: refresh token {i} is {engine:?} in the store but {model:?} in the model \
                     (family revoked: {:?})",
                    family.revoked
                ),
            }
        }
        let now = self.now();
        for i in 0..self.access.len() {
            let live = self.access_live(i);
            let token = &self.access[i];
            let family = &self.families[token.family];
            let revoked = block_on(store.is_access_token_revoked(&token.jti)).unwrap();
            // A purged record had expired: its revocation no longer matters, nor is remembered.
            let expected = !token.purged && (token.revoked || family.revoked.is_some());
            assert_eq!(
                revoked, expected,
                "{ctx}: revocation of access token {i} (family revoked: {:?}, purged: {})",
                family.revoked, token.purged
            );
            if (live && self.thorough) || (!live && !token.confirmed_dead) {
                let accepted = self.world.accepts(&token.token);
                assert_eq!(
                    accepted, live,
                    "{ctx}: access token {i} accepted: {accepted}, live: {live} (now {now}, exp {}, \
                     revoked {}, family revoked {:?})",
                    token.exp, token.revoked, family.revoked
                );
                if !live {
                    self.access[i].confirmed_dead = true;
                    if self.now() >= self.access[i].exp {
                        self.coverage.expired_access_tokens += 1;
                    } else {
                        self.coverage.revoked_access_tokens += 1;
                    }
                }
            }
        }
    }

    /// At the end: every access token against `World::accepts`, and every token introspected by
    /// every client (in light mode: by the resource server's credential only).
    pub fn finish(&mut self) {
        for i in 0..self.access.len() {
            if !self.thorough && self.access[i].confirmed_dead {
                continue;
            }
            assert_eq!(
                self.world.accepts(&self.access[i].token),
                self.access_live(i),
                "{}: access token {i}",
                self.context
            );
        }
        let callers: Vec<usize> = (0..CLIENT_COUNT)
            .filter(|&c| self.thorough || self.clients[c].serves.is_some())
            .collect();
        for &client in &callers {
            for i in 0..self.refresh.len() {
                let _ = self.introspect_refresh(i, client);
            }
            for i in 0..self.access.len() {
                let _ = self.introspect_access(i, client);
            }
        }
    }
}
