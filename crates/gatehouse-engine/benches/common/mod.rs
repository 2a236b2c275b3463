//! The harness shared by the engine's criterion benchmark (`benches/engine.rs`) and its
//! instruction-count example (`examples/engine_cost.rs`): one engine, one public client, one
//! validated authorization request, and the requests both measure.

#![allow(
    dead_code,
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use gatehouse_engine::{
    AuthorizationRequest, Engine, EngineConfig, MemoryStore, RandomSource, ResourceConfig,
    TokenResponse,
};
use gatehouse_jose::{AccessTokenClaims, Audience, SigningKey};
use gatehouse_registration::{ClientMetadata, ClientMetadataPolicy};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::form::{FormParams, encode};
use gatehouse_types::{ClientId, ScopeSet, UnixTime};

pub const REDIRECT: &str = "http://127.0.0.1:33418/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);

/// Runs a future that never waits (the memory store answers at once).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// SplitMix64, so that every run does the same work.
pub struct Rng(pub u64);

impl RandomSource for Rng {
    fn fill(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            for (byte, value) in chunk.iter_mut().zip(z.to_le_bytes()) {
                *byte = value;
            }
        }
    }
}

/// An engine with one resource, a registered public client and its validated request.
pub struct Harness {
    pub engine: Engine<MemoryStore>,
    pub client: ClientId,
    pub request: AuthorizationRequest,
}

impl Harness {
    pub fn new(rng: &mut Rng) -> Self {
        let resource = ResourceConfig::new(
            ResourceUri::parse("https://mcp.example.com/mcp").unwrap(),
            ScopeSet::parse("mcp:tools mcp:admin").unwrap(),
        );
        let config = EngineConfig::new("https://auth.example.com", vec![resource]).unwrap();
        let engine = Engine::new(config, MemoryStore::new()).unwrap();
        let metadata = ClientMetadata::from_json(
            format!(
                r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none",
                    "grant_types":["authorization_code","refresh_token"]}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        let client = block_on(engine.register(&ClientMetadataPolicy::new(), &metadata, rng, NOW))
            .unwrap()
            .client_id;
        let params = FormParams::parse(
            encode([
                ("response_type", "code"),
                ("client_id", client.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("scope", "mcp:tools"),
            ])
            .as_bytes(),
        )
        .unwrap();
        let client_record = engine.store().client(&client).unwrap();
        let request = engine
            .validate_authorization(&params, client_record.as_ref())
            .unwrap();
        Self {
            engine,
            client,
            request,
        }
    }

    /// Approves the request and returns the code from the redirect.
    pub fn new_code(&self, rng: &mut Rng) -> String {
        let client = self.engine.store().client(&self.client).unwrap();
        let redirect =
            block_on(
                self.engine
                    .approve(&self.request, client.as_ref(), "alice", rng, NOW),
            )
            .unwrap();
        let query = redirect.split_once('?').unwrap().1;
        let form = FormParams::parse(query.as_bytes()).unwrap();
        form.single("code").unwrap().unwrap().to_owned()
    }

    pub fn redeem_body(&self, code: &str) -> String {
        encode([
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", self.client.as_str()),
        ])
    }

    pub fn refresh_body(&self, refresh_token: &str) -> String {
        encode([
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", self.client.as_str()),
        ])
    }

    /// The token endpoint's three steps: parse, resolve the client, decide.
    pub fn token(&self, body: &str, key: &SigningKey, rng: &mut Rng) -> TokenResponse {
        let request = gatehouse_engine::TokenRequest::parse(body.as_bytes(), None).unwrap();
        let client = self.engine.store().client(request.client().id()).unwrap();
        // Code and refresh grants verify no token: an empty set of verifying keys costs nothing.
        let keys = gatehouse_engine::ServerKeys {
            signing: key,
            verifying: &gatehouse_jose::KeySet::default(),
        };
        block_on(self.engine.token(request, client, &keys, rng, NOW))
            .unwrap()
            .response
    }

    /// Claims like the engine's, for signing alone.
    pub fn claims(&self) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://auth.example.com".into(),
            sub: "alice".into(),
            aud: Audience::One("https://mcp.example.com/mcp".into()),
            exp: NOW.as_secs() + 600,
            iat: NOW.as_secs(),
            jti: "0f8e5b1c6a7d4e2f9b3a2c1d0e9f8a7b".into(),
            client_id: self.client.as_str().to_owned(),
            nbf: None,
            scope: Some("mcp:tools".into()),
            extra: BTreeMap::new(),
        }
    }
}
