//! The engine on each durable backend, end to end: register, authorize, redeem, refresh, replay
//! and revoke, then a look at the raw database (the SQLite file and its WAL, a `pg_dump` of the
//! PostgreSQL schema) for any secret in plain text.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use base64ct::Encoding;
use gatehouse_engine::{Engine, EngineConfig, RandomSource, ResourceConfig, Store};
use gatehouse_jose::{Algorithm, SigningKey};
use gatehouse_registration::{ClientMetadata, ClientMetadataPolicy};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_store::ServerStore;
use gatehouse_types::form::{FormParams, encode};
use gatehouse_types::{OAuthError, ScopeSet, UnixTime};
use support::*;

const ISSUER: &str = "https://auth.example.com";
const REDIRECT: &str = "http://127.0.0.1:33418/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        getrandom::fill(dest).unwrap();
    }
}

fn engine<S: Store>(store: S) -> Engine<S> {
    let mcp = ResourceConfig::new(
        ResourceUri::parse(RESOURCE).unwrap(),
        ScopeSet::parse("mcp:tools mcp:admin").unwrap(),
    )
    .with_default_scopes(ScopeSet::parse("mcp:tools").unwrap());
    Engine::new(EngineConfig::new(ISSUER, vec![mcp]).unwrap(), store).unwrap()
}

fn query_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    FormParams::parse(query.as_bytes())
        .unwrap()
        .single(name)
        .unwrap()
        .unwrap()
        .to_owned()
}

/// A token request through the engine's three steps: parse, resolve the client in the store,
/// decide.
async fn token<S: ServerStore>(
    engine: &Engine<S>,
    body: &str,
    key: &SigningKey,
    rng: &mut OsRandom,
    now: UnixTime,
) -> Result<gatehouse_engine::TokenResponse, gatehouse_engine::EndpointError> {
    let request = gatehouse_engine::TokenRequest::parse(body.as_bytes(), None)?;
    let client = engine.store().client(request.client().id()).await?;
    let verifying = gatehouse_jose::KeySet::new(vec![key.verifying_key()]);
    let keys = gatehouse_engine::ServerKeys {
        signing: key,
        verifying: &verifying,
    };
    Ok(engine
        .token(request, client, &keys, rng, now)
        .await?
        .response)
}

/// Runs a whole grant's life and returns every secret the engine handed out.
async fn life_of_a_grant<S: ServerStore>(engine: &Engine<S>) -> Vec<String> {
    let (key, mut rng) = (SigningKey::generate(Algorithm::Es256).unwrap(), OsRandom);
    let mut now = UnixTime::from_secs(1_800_000_000);
    let metadata = ClientMetadata::from_json(
        format!(
            r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"client_secret_post",
                "grant_types":["authorization_code","refresh_token"],"client_name":"Flows"}}"#
        )
        .as_bytes(),
    )
    .unwrap();
    let registration = engine
        .register(&ClientMetadataPolicy::new(), &metadata, &mut rng, now)
        .await
        .unwrap();
    let client_id = registration.client_id.as_str().to_owned();
    let secret = registration
        .client_secret
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    let registration_token = registration
        .registration_access_token
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();

    let authorize = |client_id: &str| {
        let params = encode([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
        ]);
        FormParams::parse(params.as_bytes()).unwrap()
    };
    let client = engine
        .store()
        .client(&gatehouse_types::ClientId::new(client_id.as_str()).unwrap())
        .await
        .unwrap();
    let request = engine
        .validate_authorization(&authorize(&client_id), client.as_ref())
        .unwrap();
    let redirect = engine
        .approve(&request, client.as_ref(), "alice", &mut rng, now)
        .await
        .unwrap();
    let code = query_param(&redirect, "code");
    let redeem = encode([
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
    ]);
    let first = token(engine, &redeem, &key, &mut rng, now).await.unwrap();
    let refresh_1 = first.refresh_token.clone().unwrap();

    now = now.saturating_add_secs(30);
    let refresh = |token: &str| {
        encode([
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
        ])
    };
    let second = token(engine, &refresh(&refresh_1), &key, &mut rng, now)
        .await
        .unwrap();
    let refresh_2 = second.refresh_token.clone().unwrap();
    assert_ne!(refresh_1, refresh_2, "rotated on use");

    // OAuth 2.1 §4.1.3: the code replayed fails, and revokes what was issued from it.
    let replay = token(engine, &redeem, &key, &mut rng, now)
        .await
        .unwrap_err();
    assert_eq!(replay.error_code().as_str(), "invalid_grant");
    let after_replay = token(engine, &refresh(&refresh_2), &key, &mut rng, now)
        .await
        .unwrap_err();
    assert_eq!(after_replay.error_code().as_str(), "invalid_grant");

    vec![secret, registration_token, code, refresh_1, refresh_2]
}

/// Every secret, in every form a careless store might keep it: as issued, without its prefix,
/// and (for the random part) as the raw bytes.
fn assert_absent(haystack: &[u8], secrets: &[String], what: &str) {
    for secret in secrets {
        let body = secret.split_once('_').map_or(secret.as_str(), |(_, b)| b);
        for needle in [secret.as_bytes(), body.as_bytes()] {
            assert!(
                !haystack.windows(needle.len()).any(|w| w == needle),
                "{what} holds a secret in plain text"
            );
        }
        if let Ok(raw) = base64ct::Base64UrlUnpadded::decode_vec(body) {
            assert!(
                !haystack.windows(raw.len()).any(|w| w == raw.as_slice()),
                "{what} holds a secret's raw bytes"
            );
        }
    }
}

#[tokio::test]
async fn sqlite_end_to_end_and_no_secret_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.db");
    let store = gatehouse_store::SqliteStore::open(&path).await.unwrap();
    // The engine (and with it the store) stays open while the files are read: once the store is
    // dropped, its threads close their connections, and the last to close folds the WAL into
    // the database file and removes it, possibly while the directory is being read.
    let engine = engine(store);
    let secrets = life_of_a_grant(&engine).await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    drop(engine);
    assert!(bytes.len() > 4096, "the database and its WAL were read");
    assert_absent(&bytes, &secrets, "the SQLite file or WAL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_end_to_end_and_no_secret_in_a_dump() {
    let Some(schema) = PgSchema::create().await else {
        eprintln!("{POSTGRES_ENV} unset: PostgreSQL skipped");
        return;
    };
    let store = gatehouse_store::PostgresStore::open(&schema.url())
        .await
        .unwrap();
    let secrets = life_of_a_grant(&engine(store)).await;
    let dump = std::process::Command::new("pg_dump")
        .args(["--data-only", "--schema", &schema.name, "--dbname"])
        .arg(postgres_url().unwrap())
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let text = String::from_utf8(dump.stdout).unwrap();
    assert!(text.contains("COPY"), "the dump holds the data");
    // bytea columns appear as hex in a dump: look for that form too.
    let hex_secrets: Vec<String> = secrets
        .iter()
        .filter_map(|s| {
            let body = s.split_once('_').map_or(s.as_str(), |(_, b)| b);
            base64ct::Base64UrlUnpadded::decode_vec(body)
                .ok()
                .map(|raw| raw.iter().map(|b| format!("{b:02x}")).collect())
        })
        .collect();
    assert_absent(text.as_bytes(), &secrets, "the dump");
    assert_absent(text.as_bytes(), &hex_secrets, "the dump (hex)");
    schema.drop_schema().await;
}
