//! Authorization, code redemption and refresh: the engine's answer against the model's.

use gatehouse_engine::{AuthorizeError, Store, TokenResponse};
use gatehouse_types::form::{FormParams, encode};
use gatehouse_types::{ErrorCode, OAuthError, ScopeSet};

use super::{
    Ask, Aud, CodeM, Expect, FamilyM, Harness, Issued, Proof, RState, RefreshAsk, Revoked, SUBJECT,
    TokenResult, WRONG_REDIRECT, WRONG_VERIFIER, hash, resource_scopes, scopes, union,
};
use crate::support::{
    CHALLENGE, OTHER_RESOURCE, REDIRECT, RESOURCE, VERIFIER, block_on, query_param,
};

/// The scopes the resources of an audience understand.
fn understood(audience: &[&str]) -> ScopeSet {
    audience.iter().fold(ScopeSet::new(), |all, r| {
        union(&all, &scopes(resource_scopes(r).0))
    })
}

impl Harness {
    /// What the model expects a token issued in `family` for `asked` and `audience` to carry:
    /// the asked scopes narrowed to what the audience understands (RFC 9700 §2.3).
    pub(super) fn issued(
        &self,
        family: usize,
        client: usize,
        asked: &ScopeSet,
        audience: Vec<&'static str>,
    ) -> Issued {
        Issued {
            family,
            client,
            scopes: asked.intersection(&understood(&audience)),
            audience,
        }
    }

    /// The resources a request without `resource` is for: the one resource that understands
    /// the requested scopes if exactly one does (RFC 9068 §3), else the default.
    fn inferred_resources(requested: &str) -> Vec<&'static str> {
        let requested = scopes(requested);
        let matching: Vec<&'static str> = [RESOURCE, OTHER_RESOURCE]
            .into_iter()
            .filter(|r| !requested.intersection(&understood(&[r])).is_empty())
            .collect();
        match matching.as_slice() {
            [only] => vec![only],
            _ => vec![RESOURCE],
        }
    }

    /// The scopes the model grants: the requested ones the resources understand (and the client
    /// registered, if an operator registered it with a scope), or the resources' defaults when
    /// none is left.
    pub(super) fn grantable(&self, client: usize, resources: &[&str], requested: &str) -> ScopeSet {
        let mut supported = ScopeSet::new();
        let mut defaults = ScopeSet::new();
        for resource in resources {
            let (s, d) = resource_scopes(resource);
            supported = union(&supported, &scopes(s));
            defaults = union(&defaults, &scopes(d));
        }
        if let Some(registered) = &self.clients[client].registered_scope {
            supported = supported.intersection(registered);
            defaults = defaults.intersection(registered);
        }
        let granted = scopes(requested).intersection(&supported);
        if granted.is_empty() {
            defaults
        } else {
            granted
        }
    }

    pub(super) fn authorize(&mut self, client: usize, scope: &str, resources: &[&'static str]) {
        let id = self.clients[client].id.clone();
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "s"),
        ];
        if !scope.is_empty() {
            params.push(("scope", scope));
        }
        for resource in resources {
            params.push(("resource", resource));
        }
        let form = FormParams::parse(encode(params).as_bytes()).unwrap();
        let result = crate::support::validate_call(&self.world.engine, &form);
        let resources = if resources.is_empty() {
            Self::inferred_resources(scope)
        } else {
            resources.to_vec()
        };
        let expected = self.grantable(client, &resources, scope);
        let request = match result {
            Ok(request) if !expected.is_empty() => request,
            // RFC 6749 §3.3: nothing grantable and no default is invalid_scope.
            Err(AuthorizeError::Redirect(url)) if expected.is_empty() => {
                let error = query_param(&url, "error");
                assert_eq!(error.as_deref(), Some("invalid_scope"), "{}", self.context);
                return;
            }
            other => panic!(
                "{}: expected the grant {expected}, the engine answered {other:?}",
                self.context
            ),
        };
        assert_eq!(
            request.scopes(),
            &expected,
            "{}: granted scopes",
            self.context
        );
        let granted_resources: Vec<&str> = request.resources().iter().map(|r| r.as_str()).collect();
        assert_eq!(granted_resources, resources, "{}: resources", self.context);
        let w = &mut self.world;
        let redirect = block_on(crate::support::approve_call(
            &w.engine, &request, SUBJECT, &mut w.rng, w.now,
        ))
        .unwrap_or_else(|e| panic!("{}: approve failed: {e:?}", self.context));
        let code = query_param(&redirect, "code").unwrap();
        let expires_at = self.now() + self.world.engine.config().code_ttl_secs;
        self.codes.push(CodeM {
            code,
            client,
            scopes: expected,
            resources,
            expires_at,
            family: None,
            purged: false,
        });
    }

    // ---- Codes ----

    pub(super) fn redeem_body(&self, i: usize, proof: Proof, presenter: usize) -> String {
        let code = &self.codes[i];
        let verifier = if proof == Proof::WrongVerifier {
            WRONG_VERIFIER
        } else {
            VERIFIER
        };
        let redirect = if proof == Proof::WrongRedirect {
            WRONG_REDIRECT
        } else {
            REDIRECT
        };
        self.body(
            presenter,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code.code),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ],
        )
    }

    pub(super) fn redeem(&mut self, i: usize, proof: Proof) {
        let owner = self.codes[i].client;
        let presenter = if proof == Proof::WrongClient {
            Self::other(owner, 0)
        } else {
            owner
        };
        let body = self.redeem_body(i, proof, presenter);
        let result = self.token(&body);
        let code = &self.codes[i];
        if code.purged {
            self.expect_error(&result, &ErrorCode::InvalidGrant, "purged code");
            self.coverage.refused_redemptions += 1;
        } else if let Some(family) = code.family {
            // OAuth 2.1 §4.1.3: refused, and what was issued from it is revoked when its own
            // client replays it; another client cannot touch the grant.
            self.expect_error(&result, &ErrorCode::InvalidGrant, "replayed code");
            if presenter == owner {
                self.revoke_family(family, Revoked::CodeReplayed);
                self.coverage.code_replays += 1;
            } else {
                self.coverage.refused_redemptions += 1;
            }
        } else if presenter != owner || self.now() >= code.expires_at || proof != Proof::Correct {
            self.expect_error(&result, &ErrorCode::InvalidGrant, "bad redemption");
            self.coverage.refused_redemptions += 1;
        } else {
            self.coverage.redemptions += 1;
            let response = result.unwrap_or_else(|e| {
                panic!("{}: a valid redemption was refused: {e:?}", self.context)
            });
            let family = self.new_family(i);
            self.issued_from_code(family, &response);
        }
    }

    /// The family the store recorded for code `i`, added to the model.
    pub(super) fn new_family(&mut self, i: usize) -> usize {
        let entry = block_on(self.world.engine.store().code(&hash(&self.codes[i].code)))
            .unwrap()
            .unwrap();
        let id = entry
            .redeemed_into
            .unwrap_or_else(|| panic!("{}: a redeemed code records its family", self.context));
        assert!(
            self.families.iter().all(|f| f.id != id),
            "{}: family ids are fresh",
            self.context
        );
        let code = &self.codes[i];
        self.families.push(FamilyM {
            id,
            client: code.client,
            scopes: code.scopes.clone(),
            resources: code.resources.clone(),
            revoked: None,
        });
        let family = self.families.len() - 1;
        self.codes[i].family = Some(family);
        family
    }

    /// Records the tokens of a successful redemption: an access token for the grant's first
    /// resource (no `resource` was sent), and a refresh token if the client may refresh.
    pub(super) fn issued_from_code(&mut self, family: usize, response: &TokenResponse) {
        let f = &self.families[family];
        let issued = self.issued(family, f.client, &f.scopes, vec![f.resources[0]]);
        let client = f.client;
        self.push_access(response, issued);
        match (&response.refresh_token, self.clients[client].refreshable) {
            (Some(token), true) => self.push_refresh(token.clone(), family),
            (None, false) => {}
            (token, refreshable) => panic!(
                "{}: refresh token present: {}, client may refresh: {refreshable}",
                self.context,
                token.is_some()
            ),
        }
    }

    pub(super) fn concurrent_redeem(&mut self, i: usize, schedule: u32) {
        let owner = self.codes[i].client;
        let body = self.redeem_body(i, Proof::Correct, owner);
        let (a, b) = self.concurrent(&body, schedule);
        for result in [&a, &b] {
            if let Err(e) = result {
                assert_eq!(e.error_code(), ErrorCode::InvalidGrant, "{}", self.context);
            }
        }
        let successes: Vec<&TokenResponse> = [&a, &b].into_iter().flatten().collect();
        let code = &self.codes[i];
        let refused = code.purged || code.family.is_some() || self.now() >= code.expires_at;
        if refused {
            assert!(successes.is_empty(), "{}: a dead code worked", self.context);
            if let (false, Some(family)) = (code.purged, code.family) {
                self.revoke_family(family, Revoked::CodeReplayed);
            }
        } else {
            // Exactly one request takes the code, with its tokens in the same step; the other
            // is a replay by the same client, which revokes what the first got.
            assert_eq!(
                successes.len(),
                1,
                "{}: one of two redemptions succeeds",
                self.context
            );
            self.coverage.concurrent_redemptions += 1;
            let family = self.new_family(i);
            self.issued_from_code(family, successes[0]);
            self.revoke_family(family, Revoked::CodeReplayed);
        }
    }

    // ---- Refresh ----

    /// The parameters of a refresh request and what they stand for.
    pub(super) fn ask(&self, family: usize, ask: Ask, aud: Aud) -> RefreshAsk {
        let granted = &self.families[family].scopes;
        let (scope_param, scopes) = match ask {
            Ask::Omitted => (None, Some(granted.clone())),
            Ask::Subset(mask) => {
                let subset: ScopeSet = granted
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| (mask >> (bit % 8)) & 1 == 1)
                    .map(|(_, scope)| scope.clone())
                    .collect();
                // RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they
                // were omitted from the request", so `scope=` asks for the whole grant.
                let asked = if subset.is_empty() {
                    granted.clone()
                } else {
                    subset.clone()
                };
                (Some(subset.to_string()), Some(asked))
            }
            Ask::Widened => (Some(format!("{granted} openid").trim().to_owned()), None),
        };
        RefreshAsk {
            scope_param,
            scopes,
            resource: aud.resource(),
        }
    }

    pub(super) fn refresh_body(&self, i: usize, presenter: usize, ask: &RefreshAsk) -> String {
        let mut params = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh[i].token.as_str()),
        ];
        if let Some(scope) = &ask.scope_param {
            params.push(("scope", scope));
        }
        if let Some(resource) = ask.resource {
            params.push(("resource", resource));
        }
        self.body(presenter, &params)
    }

    /// The engine's decision, in its order: the client, the token's binding, where the token
    /// stands and, for an active one, its expiry (a replay is judged before anything else in the
    /// request, RFC 9700 §4.14.2), then scope and resource.
    pub(super) fn expect_refresh(&self, i: usize, presenter: usize, ask: &RefreshAsk) -> Expect {
        let token = &self.refresh[i];
        let family = &self.families[token.family];
        let now = self.now();
        let refused = |code, revokes| Expect::Refused { code, revokes };
        if !self.clients[presenter].refreshable {
            return refused(ErrorCode::UnauthorizedClient, false);
        }
        if token.purged || family.client != presenter {
            return refused(ErrorCode::InvalidGrant, false);
        }
        let replayed = match token.state {
            // Expiry ends an active token; a rotated one replayed after its expiry is still a
            // replay (its successor may be live), judged below.
            RState::Active if now >= token.expires_at => {
                return refused(ErrorCode::InvalidGrant, false);
            }
            RState::Active => None,
            RState::Revoked => return refused(ErrorCode::InvalidGrant, false),
            RState::Rotated {
                successor,
                at,
                sealed,
            } => {
                // Decision 0006: a grace of 0 is strict RFC 9700 §4.14.2, no window at all.
                let benign = self.grace() > 0
                    && now - at <= self.grace()
                    && sealed
                    && self.refresh[successor].state == RState::Active;
                if !benign {
                    return refused(ErrorCode::InvalidGrant, true);
                }
                Some(successor)
            }
        };
        if ask.scopes.is_none() {
            // RFC 6749 §6: never wider than the grant.
            return refused(ErrorCode::InvalidScope, false);
        }
        if ask.resource.is_some_and(|r| !family.resources.contains(&r)) {
            // RFC 8707 §2.2: only resources of the grant.
            return refused(ErrorCode::InvalidTarget, false);
        }
        replayed.map_or(Expect::Rotate, Expect::Same)
    }

    pub(super) fn apply_refresh(
        &mut self,
        i: usize,
        presenter: usize,
        ask: &RefreshAsk,
        result: TokenResult,
    ) {
        let expect = self.expect_refresh(i, presenter, ask);
        let family = self.refresh[i].family;
        let audience = ask
            .resource
            .map_or_else(|| vec![self.families[family].resources[0]], |r| vec![r]);
        let asked = ask.scopes.clone().unwrap_or_default();
        match (expect, result) {
            (Expect::Rotate, Ok(response)) => {
                let successor = response
                    .refresh_token
                    .clone()
                    .unwrap_or_else(|| panic!("{}: a rotation returns a successor", self.context));
                assert_ne!(successor, self.refresh[i].token, "{}", self.context);
                self.coverage.rotations += 1;
                // Only the newest predecessor keeps its successor sealed.
                for token in self.refresh.iter_mut().filter(|t| t.family == family) {
                    if let RState::Rotated { sealed, .. } = &mut token.state {
                        *sealed = false;
                    }
                }
                self.push_refresh(successor, family);
                self.refresh[i].state = RState::Rotated {
                    successor: self.refresh.len() - 1,
                    at: self.now(),
                    sealed: true,
                };
                let issued = self.issued(family, presenter, &asked, audience);
                self.push_access(&response, issued);
            }
            (Expect::Same(successor), Ok(response)) => {
                assert_eq!(
                    response.refresh_token.as_deref(),
                    Some(self.refresh[successor].token.as_str()),
                    "{}: a benign retry gets the same successor",
                    self.context
                );
                self.coverage.benign_retries += 1;
                let issued = self.issued(family, presenter, &asked, audience);
                self.push_access(&response, issued);
            }
            (Expect::Refused { code, revokes }, Err(error)) => {
                assert_eq!(error.error_code(), code, "{}: {error}", self.context);
                if revokes {
                    self.revoke_family(family, Revoked::RefreshReused);
                    self.coverage.reuse_revocations += 1;
                } else {
                    self.coverage.refused_refreshes += 1;
                }
            }
            (expect, result) => panic!(
                "{}: expected {expect:?}, the engine answered {result:?}",
                self.context
            ),
        }
    }

    pub(super) fn refresh_once(&mut self, i: usize, ask: Ask, aud: Aud, presenter: usize) {
        let ask = self.ask(self.refresh[i].family, ask, aud);
        let body = self.refresh_body(i, presenter, &ask);
        let result = self.token(&body);
        self.apply_refresh(i, presenter, &ask, result);
    }

    /// Two identical refreshes at once behave as two in a row at the same instant: both get the
    /// one successor (the second within the grace period), or both fail.
    pub(super) fn concurrent_retry(&mut self, i: usize, ask: Ask, aud: Aud, schedule: u32) {
        let owner = self.families[self.refresh[i].family].client;
        let ask = self.ask(self.refresh[i].family, ask, aud);
        let body = self.refresh_body(i, owner, &ask);
        let (a, b) = self.concurrent(&body, schedule);
        self.apply_refresh(i, owner, &ask, a);
        self.apply_refresh(i, owner, &ask, b);
    }
}
