//! A reference model of what the engine hands out (codes, refresh-token families, access tokens)
//! and a harness that applies the same operations to the engine and to the model, checking after
//! every step that they agree and that the security invariants hold:
//!
//! - a code is redeemed at most once; its client presenting it again fails and revokes its family
//!   (OAuth 2.1 §4.1.3), another client presenting it fails and changes nothing;
//! - no access token is accepted after its `exp` or after it or its family was revoked;
//! - a refresh family is revoked on real reuse (a rotated token presented after the grace period
//!   or after its successor was used, RFC 9700 §4.14.2, whatever else the request says), on a
//!   replayed code, or by its owner (RFC 7009), and never otherwise: benign retries within the
//!   grace period get the same successor;
//! - scopes and audiences never widen: every access token's scope is within its grant's (and
//!   what its audience understands), its audience one of the grant's resources;
//! - introspection answers only clients with a secret, and is active exactly for live tokens of
//!   the calling client, or live access tokens for the resource the caller serves (RFC 7662);
//! - only the latest rotated token of a family keeps a sealed successor, and the purge forgets
//!   only what has expired (and sealed successors past the grace period).
//!
//! One model, two drivers: `tests/model.rs` generates operations with proptest, and the
//! `engine_ops` fuzz target decodes them from bytes (it includes this module and `support/mod.rs`
//! with `#[path]`, so keep both free of dependencies the fuzz crate lacks).
//! Operations name codes and tokens by index modulo what exists, so every sequence is valid and
//! shrinks to a readable one.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod checks;
mod concurrency;
mod coverage;
mod grants;

use std::collections::HashSet;

use gatehouse_engine::opaque::CredentialHash;
use gatehouse_engine::store::FamilyId;
use gatehouse_engine::{EndpointError, Engine, RandomSource, ServerKeys, TokenResponse};
use gatehouse_jose::{AccessTokenClaims, AccessTokenValidator};
use gatehouse_types::form::encode;
use gatehouse_types::{ErrorCode, ScopeSet};

pub use self::concurrency::{Yielding, run_pair};
pub use self::coverage::Coverage;
use crate::support::{ISSUER, OTHER_RESOURCE, REDIRECT, RESOURCE, SeededRng, World, block_on};

/// The resource owner of every grant.
pub const SUBJECT: &str = "alice";
const WRONG_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx";
const WRONG_REDIRECT: &str = "http://127.0.0.1:33418/other";

/// `scope` values of authorization requests: known, unknown and mixed.
pub const SCOPE_REQUESTS: &[&str] = &[
    "",
    "mcp:tools",
    "mcp:admin",
    "mcp:tools mcp:admin",
    "openid offline_access",
    "files:read",
    "mcp:admin files:read",
    "mcp:tools mcp:admin files:read openid",
];

/// `resource` parameters of authorization requests (none: the one resource the scopes name,
/// else the default).
pub const RESOURCE_REQUESTS: &[&[&str]] = &[
    &[],
    &[RESOURCE],
    &[OTHER_RESOURCE],
    &[RESOURCE, OTHER_RESOURCE],
    &[OTHER_RESOURCE, RESOURCE],
];

/// Clock steps: around the 10 s reuse grace, the 600 s code and access-token lifetimes, and the
/// 30-day refresh lifetime.
pub const CLOCK_STEPS: &[u64] = &[
    1, 5, 9, 10, 11, 30, 300, 599, 600, 601, 3_600, 2_591_999, 2_592_000,
];

/// The clients: 0 and 1 public with refresh (1 registered by an operator with the scope
/// `mcp:tools files:read`, which limits what it may ask for),
/// 2 confidential (`client_secret_post`) without the refresh grant, 3 confidential with refresh
/// and the credential of the resource server of `RESOURCE` (it may introspect that resource's
/// access tokens).
pub const CLIENT_COUNT: usize = 4;
const RESOURCE_SERVER: usize = 3;

/// How a code is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// By its client, with the right verifier and redirect URI.
    Correct,
    /// With a verifier that does not answer the challenge.
    WrongVerifier,
    /// With a redirect URI other than the authorization request's.
    WrongRedirect,
    /// By another client.
    WrongClient,
}

/// Which client presents a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The client it was issued to.
    Owner,
    /// Another client: `(owner + 1 + k % 3) % 4`.
    Other(u8),
    /// The resource server's credential (client 3), whoever the owner.
    ResourceServer,
}

/// The `scope` of a refresh request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// No `scope`: the grant's.
    Omitted,
    /// The grant's scopes picked by this bit mask (in sorted order); none is `scope=`, which
    /// counts as omitted.
    Subset(u8),
    /// The grant's scopes plus one never granted.
    Widened,
}

/// The `resource` of a refresh request
/// ([RFC 8707 §2.2](https://www.rfc-editor.org/rfc/rfc8707#section-2.2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aud {
    /// No `resource`: the grant's first resource (a token names one audience unless asked).
    Grant,
    /// The MCP resource.
    Mcp,
    /// The files resource.
    Files,
}

impl Aud {
    fn resource(self) -> Option<&'static str> {
        match self {
            Self::Grant => None,
            Self::Mcp => Some(RESOURCE),
            Self::Files => Some(OTHER_RESOURCE),
        }
    }
}

/// A token, by index among the refresh or the access tokens issued so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    Refresh(u8),
    Access(u8),
}

/// One step. Indices are taken modulo what exists; a step with nothing to act on does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Validate an authorization request and approve it: a code.
    Authorize {
        client: u8,
        scope: &'static str,
        resources: &'static [&'static str],
    },
    /// Redeem a code not redeemed yet.
    Redeem { code: u8, proof: Proof },
    /// Refresh with an active refresh token.
    Refresh {
        token: u8,
        scope: Ask,
        aud: Aud,
        by: By,
    },
    /// Present a rotated refresh token again (by its owner).
    ReplayRotated { token: u8 },
    /// Redeem an already redeemed code again.
    ReplayCode { code: u8, proof: Proof },
    /// The owner sends the same refresh request twice at the same instant, with any refresh
    /// token; `schedule` decides how the two requests interleave at the store's await points.
    ConcurrentRetry {
        token: u8,
        scope: Ask,
        aud: Aud,
        schedule: u32,
    },
    /// The client redeems the same code twice at the same instant.
    ConcurrentRedeem { code: u8, schedule: u32 },
    /// RFC 7009 revocation.
    Revoke { token: Tok, by: By },
    /// RFC 7662 introspection.
    Introspect { token: Tok, by: By },
    /// Move the clock forward.
    Advance { secs: u64 },
    /// The store's periodic purge, as the server runs it: what expired by now, and sealed
    /// successors older than the grace period.
    Purge,
}

// ---- The model ----

struct Client {
    id: String,
    secret: Option<String>,
    refreshable: bool,
    registered_scope: Option<ScopeSet>,
    /// The resource whose access tokens it may introspect.
    serves: Option<&'static str>,
}

struct CodeM {
    code: String,
    client: usize,
    scopes: ScopeSet,
    resources: Vec<&'static str>,
    expires_at: u64,
    /// The family it was redeemed into.
    family: Option<usize>,
    /// Forgotten by the purge.
    purged: bool,
}

/// Why a family was revoked: the only reasons there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Revoked {
    CodeReplayed,
    RefreshReused,
    ByOwner,
}

struct FamilyM {
    id: FamilyId,
    client: usize,
    scopes: ScopeSet,
    resources: Vec<&'static str>,
    revoked: Option<Revoked>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RState {
    Active,
    /// `sealed`: the store still holds the successor sealed for a benign retry.
    Rotated {
        successor: usize,
        at: u64,
        sealed: bool,
    },
    Revoked,
}

struct RefreshM {
    token: String,
    family: usize,
    expires_at: u64,
    state: RState,
    /// Forgotten by the purge.
    purged: bool,
}

struct AccessM {
    token: String,
    jti: String,
    family: usize,
    client: usize,
    scopes: ScopeSet,
    audience: Vec<&'static str>,
    exp: u64,
    /// Revoked by itself (RFC 7009 on the access token).
    revoked: bool,
    /// Seen rejected by `World::accepts` once it died; from then on the cheap revocation-list
    /// check watches it (expiry cannot be undone).
    confirmed_dead: bool,
    /// Its record was forgotten by the purge (it had expired).
    purged: bool,
}

/// A refresh request as the model sees it.
struct RefreshAsk {
    /// The `scope` parameter.
    scope_param: Option<String>,
    /// The scopes it stands for; `None`: wider than the grant.
    scopes: Option<ScopeSet>,
    /// The `resource` parameter.
    resource: Option<&'static str>,
}

/// An access token the engine should just have issued.
struct Issued {
    family: usize,
    client: usize,
    scopes: ScopeSet,
    audience: Vec<&'static str>,
}

/// What a refresh request must produce.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// A new successor.
    Rotate,
    /// The existing successor again (a benign retry).
    Same(usize),
    /// This error; `revokes`: the family is revoked as a side effect.
    Refused { code: ErrorCode, revokes: bool },
}

type TokenResult = Result<TokenResponse, EndpointError>;

/// The engine in its simulated world, and the model beside it.
pub struct Harness {
    pub world: World,
    clients: Vec<Client>,
    codes: Vec<CodeM>,
    families: Vec<FamilyM>,
    refresh: Vec<RefreshM>,
    access: Vec<AccessM>,
    jtis: HashSet<String>,
    context: String,
    /// Re-verify every live access token after every step, and introspect every token as every
    /// client at the end; off in [`Harness::light`].
    thorough: bool,
    pub coverage: Coverage,
}

fn pick(index: u8, len: usize) -> Option<usize> {
    (len > 0).then(|| usize::from(index) % len)
}

fn hash(credential: &str) -> CredentialHash {
    CredentialHash::of(credential)
}

fn scopes(value: &str) -> ScopeSet {
    ScopeSet::parse(value).unwrap()
}

/// The scopes a resource understands, and its defaults (mirrors `World::with_key`).
fn resource_scopes(resource: &str) -> (&'static str, &'static str) {
    match resource {
        RESOURCE => ("mcp:tools mcp:admin", "mcp:tools"),
        OTHER_RESOURCE => ("files:read", "files:read"),
        other => panic!("unknown resource {other}"),
    }
}

fn union(a: &ScopeSet, b: &ScopeSet) -> ScopeSet {
    a.iter().chain(b.iter()).cloned().collect()
}

impl Harness {
    /// Registers the three clients.
    pub fn new(mut world: World) -> Self {
        let public = |extra: &str| {
            format!(
                r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none",
                    "grant_types":["authorization_code","refresh_token"]{extra}}}"#
            )
        };
        let specs = [
            (public(""), true, None),
            (
                public(r#","scope":"mcp:tools files:read""#),
                true,
                Some("mcp:tools files:read"),
            ),
            (
                format!(
                    r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"client_secret_post",
                        "grant_types":["authorization_code"]}}"#
                ),
                false,
                None,
            ),
        ];
        let mut clients: Vec<Client> = specs
            .into_iter()
            .map(|(metadata, refreshable, scope)| {
                if scope.is_some() {
                    // Registered by an operator (public, no secret): its scope is a ceiling
                    // (RFC 7591 §2). A self-registered client's is not.
                    return Client {
                        id: world.register_vetted(&metadata),
                        secret: None,
                        refreshable,
                        registered_scope: scope.map(scopes),
                        serves: None,
                    };
                }
                let response = world.register(&metadata);
                Client {
                    id: response.client_id.as_str().to_owned(),
                    secret: response
                        .client_secret
                        .as_ref()
                        .map(|s| s.expose_secret().to_owned()),
                    refreshable,
                    registered_scope: scope.map(scopes),
                    serves: None,
                }
            })
            .collect();
        let resource_server = world.resource_server();
        clients.push(Client {
            secret: world.secrets.get(&resource_server).cloned(),
            id: resource_server,
            refreshable: true,
            registered_scope: None,
            serves: Some(RESOURCE),
        });
        Self {
            world,
            clients,
            codes: Vec::new(),
            families: Vec::new(),
            refresh: Vec::new(),
            access: Vec::new(),
            jtis: HashSet::new(),
            context: String::new(),
            thorough: true,
            coverage: Coverage::default(),
        }
    }

    /// Fewer signature verifications, for the fuzz target's speed: an access token's claims are
    /// checked when it is issued, and `World::accepts` (signature included) when it dies and at
    /// the end, rather than after every step (the store's revocation list is still compared after
    /// every step); the final introspection sweep asks only each token's owner.
    pub fn light(mut self) -> Self {
        self.thorough = false;
        self
    }

    /// Runs `ops`, checking the invariants after each, then sweeps every token.
    pub fn run(&mut self, ops: &[Op]) {
        for (i, op) in ops.iter().enumerate() {
            self.context = format!("step {i} {op:?}");
            self.step(op);
            self.check();
        }
        self.context = "final sweep".into();
        self.finish();
    }

    fn now(&self) -> u64 {
        self.world.now.as_secs()
    }

    fn grace(&self) -> u64 {
        self.world.engine.config().refresh_reuse_grace_secs
    }

    fn other(owner: usize, k: u8) -> usize {
        (owner + 1 + usize::from(k % 3)) % CLIENT_COUNT
    }

    fn presenter(by: By, owner: usize) -> usize {
        match by {
            By::Owner => owner,
            By::Other(k) => Self::other(owner, k),
            By::ResourceServer => RESOURCE_SERVER,
        }
    }

    fn codes_where(&self, keep: impl Fn(&CodeM) -> bool) -> Vec<usize> {
        (0..self.codes.len())
            .filter(|&i| keep(&self.codes[i]))
            .collect()
    }

    fn refresh_where(&self, keep: impl Fn(&RefreshM) -> bool) -> Vec<usize> {
        (0..self.refresh.len())
            .filter(|&i| keep(&self.refresh[i]))
            .collect()
    }

    /// Applies one operation to the engine and the model.
    pub fn step(&mut self, op: &Op) {
        match *op {
            Op::Authorize {
                client,
                scope,
                resources,
            } => self.authorize(usize::from(client) % CLIENT_COUNT, scope, resources),
            Op::Redeem { code, proof } => {
                let fresh = self.codes_where(|c| c.family.is_none());
                if let Some(j) = pick(code, fresh.len()) {
                    self.redeem(fresh[j], proof);
                }
            }
            Op::ReplayCode { code, proof } => {
                let used = self.codes_where(|c| c.family.is_some());
                if let Some(j) = pick(code, used.len()) {
                    self.redeem(used[j], proof);
                }
            }
            Op::Refresh {
                token,
                scope,
                aud,
                by,
            } => {
                let active = self.refresh_where(|t| t.state == RState::Active);
                if let Some(j) = pick(token, active.len()) {
                    let i = active[j];
                    let owner = self.families[self.refresh[i].family].client;
                    self.refresh_once(i, scope, aud, Self::presenter(by, owner));
                }
            }
            Op::ReplayRotated { token } => {
                let rotated = self.refresh_where(|t| matches!(t.state, RState::Rotated { .. }));
                if let Some(j) = pick(token, rotated.len()) {
                    let i = rotated[j];
                    let owner = self.families[self.refresh[i].family].client;
                    self.refresh_once(i, Ask::Omitted, Aud::Grant, owner);
                }
            }
            Op::ConcurrentRetry {
                token,
                scope,
                aud,
                schedule,
            } => {
                if let Some(i) = pick(token, self.refresh.len()) {
                    self.concurrent_retry(i, scope, aud, schedule);
                }
            }
            Op::ConcurrentRedeem { code, schedule } => {
                if let Some(i) = pick(code, self.codes.len()) {
                    self.concurrent_redeem(i, schedule);
                }
            }
            Op::Revoke { token, by } => self.revoke(token, by),
            Op::Introspect { token, by } => {
                let active = match token {
                    Tok::Refresh(t) => pick(t, self.refresh.len()).map(|i| {
                        let owner = self.families[self.refresh[i].family].client;
                        self.introspect_refresh(i, Self::presenter(by, owner))
                    }),
                    Tok::Access(t) => pick(t, self.access.len()).map(|i| {
                        let owner = self.access[i].client;
                        self.introspect_access(i, Self::presenter(by, owner))
                    }),
                };
                match active {
                    Some(Some(true)) => self.coverage.active_introspections += 1,
                    Some(Some(false)) => self.coverage.inactive_introspections += 1,
                    Some(None) => self.coverage.refused_introspections += 1,
                    None => {}
                }
            }
            Op::Advance { secs } => self.world.advance(secs),
            Op::Purge => self.purge(),
        }
    }

    // ---- Requests ----

    /// A form body with the client's authentication (`client_id`, and the secret for client 2).
    fn body(&self, client: usize, params: &[(&str, &str)]) -> String {
        let c = &self.clients[client];
        let mut all = params.to_vec();
        all.push(("client_id", &c.id));
        if let Some(secret) = &c.secret {
            all.push(("client_secret", secret));
        }
        encode(all)
    }

    fn token(&mut self, body: &str) -> TokenResult {
        let w = &mut self.world;
        block_on(crate::support::token_call(
            &w.engine,
            w.engine.store(),
            body.as_bytes(),
            None,
            &ServerKeys {
                signing: &w.key,
                verifying: &w.keys,
            },
            &mut w.rng,
            w.now,
        ))
    }

    /// Sends two token requests at the same instant, interleaved at every store call as
    /// `schedule` says.
    fn concurrent(&mut self, body: &str, schedule: u32) -> (TokenResult, TokenResult) {
        let mut rng_a = SeededRng(next_u64(&mut self.world.rng));
        let mut rng_b = SeededRng(next_u64(&mut self.world.rng));
        let w = &self.world;
        let engine = Engine::new(w.engine.config().clone(), Yielding(w.engine.store())).unwrap();
        let clients = w.engine.store();
        let keys = ServerKeys {
            signing: &w.key,
            verifying: &w.keys,
        };
        let a = crate::support::token_call(
            &engine,
            clients,
            body.as_bytes(),
            None,
            &keys,
            &mut rng_a,
            w.now,
        );
        let b = crate::support::token_call(
            &engine,
            clients,
            body.as_bytes(),
            None,
            &keys,
            &mut rng_b,
            w.now,
        );
        run_pair(a, b, schedule)
    }

    /// The claims of a fresh access token, validated like a resource server would. In light mode
    /// the signature is left to the checks when the token dies and at the end.
    fn claims(&self, access_token: &str) -> Option<AccessTokenClaims> {
        if !self.thorough {
            let (_, payload) =
                gatehouse_jose::jws::dangerous_decode_unverified(access_token).ok()?;
            return serde_json::from_slice(&payload).ok();
        }
        AccessTokenValidator::new(ISSUER, RESOURCE)
            .also_accept_audience(OTHER_RESOURCE)
            .with_leeway(0)
            .validate(access_token, &self.world.keys, self.now())
            .ok()
            .map(gatehouse_jose::AccessToken::into_claims)
    }

    /// How many codes, families (revoked), refresh and access tokens the run produced: lets a
    /// test see that sequences reach deep states.
    pub fn counts(&self) -> (usize, usize, usize, usize, usize) {
        (
            self.codes.len(),
            self.families.len(),
            self.families.iter().filter(|f| f.revoked.is_some()).count(),
            self.refresh.len(),
            self.access.len(),
        )
    }
}

fn next_u64(rng: &mut SeededRng) -> u64 {
    let mut bytes = [0u8; 8];
    rng.fill(&mut bytes);
    u64::from_le_bytes(bytes)
}
