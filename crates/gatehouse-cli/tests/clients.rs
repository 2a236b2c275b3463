//! Declared clients (`[[clients]]`) through the binary, as an operator uses them: a machine client
//! that gets tokens with `client_credentials` (MCP's client credentials extension, SEP-1046) and
//! calls the MCP server with them, a resource server that introspects the tokens of its resource
//! and only those (RFC 7662 §4, decision 0007), and what happens when the configuration changes
//! between starts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64ct::Encoding as _;
use serde_json::Value;
use support::{free_port, request, terminate};

const JOB_SECRET: &str = "job-secret-0123456789-abcdefghijklmnop";
const JOB_SECRET_ROTATED: &str = "job-secret-rotated-0123456789-abcdefgh";
const SERVER_SECRET: &str = "server-secret-0123456789-abcdefghijkl";

/// The machine client and, unless `without_server`, the resource server of `/mcp`.
fn clients(port: u16, job_scope: &str, without_server: bool) -> String {
    let job = format!(
        "[[clients]]\nclient_id = \"reports-job\"\nclient_name = \"Nightly reports\"\n\
         client_secret_env = \"JOB_SECRET\"\ngrant_types = [\"client_credentials\"]\n\
         scope = \"{job_scope}\"\n"
    );
    let server = format!(
        "[[clients]]\nclient_id = \"mcp-server\"\nclient_secret_env = \"SERVER_SECRET\"\n\
         grant_types = [\"urn:ietf:params:oauth:grant-type:token-exchange\"]\n\
         introspection_resources = [\"http://127.0.0.1:{port}/mcp\"]\n"
    );
    if without_server {
        job
    } else {
        format!("{job}{server}")
    }
}

fn write_config(dir: &Path, port: u16, clients: &str) -> String {
    let path = dir.join("gatehouse.toml");
    std::fs::write(
        &path,
        format!(
            "issuer = \"http://127.0.0.1:{port}\"\nlisten = \"127.0.0.1:{port}\"\n\
             database = \"sqlite://state.db\"\n\
             [[resources]]\nresource = \"http://127.0.0.1:{port}/mcp\"\n\
             scopes_supported = [\"mcp:tools\", \"mcp:admin\"]\nbuiltin = \"demo\"\n\
             [[resources]]\nresource = \"http://127.0.0.1:{port}/files\"\n\
             scopes_supported = [\"files:read\"]\n\
             [[resources]]\nresource = \"http://127.0.0.1:{port}/search\"\n\
             scopes_supported = [\"mcp:tools\"]\n\
             {clients}"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

/// RFC 6749 §2.3.1: HTTP Basic with the form-urlencoded id and secret (both plain here).
fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64ct::Base64::encode_string(format!("{id}:{secret}").as_bytes())
    )
}

/// A form POST authenticated with HTTP Basic; the status and the JSON body.
fn post(port: u16, path: &str, authorization: &str, form: &str) -> (u16, Value) {
    let (status, _, body) = request(
        port,
        "POST",
        path,
        &[
            ("Authorization", authorization),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form,
    );
    let body = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{status}: {body}"));
    (status, body)
}

fn gatehouse(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// `clients list`: each client id with its origin (the fourth column).
fn listed(dir: &Path, config: &str) -> Vec<(String, String)> {
    let output = support::succeeded(gatehouse(dir, &["clients", "list", "--config", config]));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            (columns[0].to_owned(), columns[3].to_owned())
        })
        .collect()
}

#[test]
fn declared_machine_and_resource_server_clients_work_and_follow_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let config = write_config(
        dir.path(),
        port,
        &clients(port, "mcp:tools files:read", false),
    );
    let env = [("JOB_SECRET", JOB_SECRET), ("SERVER_SECRET", SERVER_SECRET)];
    let server = support::start(dir.path(), &["serve", "--config", &config], &env);

    // The grant is advertised (RFC 8414 §2).
    let (_, metadata) = support::get(port, "/.well-known/oauth-authorization-server");
    let metadata: Value = serde_json::from_str(&metadata).unwrap();
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&"client_credentials".into()),
        "{metadata}"
    );

    // SEP-1046 / OAuth 2.1 §4.2: a token for the machine itself, audience-bound (RFC 8707), no
    // refresh token.
    let job = basic("reports-job", JOB_SECRET);
    let mcp_resource = format!("resource={origin}/mcp");
    let (status, issued) = post(
        port,
        "/token",
        &job,
        &format!("grant_type=client_credentials&{mcp_resource}"),
    );
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["scope"], "mcp:tools");
    assert!(issued.get("refresh_token").is_none(), "{issued}");
    let mcp_token = issued["access_token"].as_str().unwrap().to_owned();

    // The guard accepts it like any other token.
    let (status, body) = support::mcp_initialize(port, &mcp_token);
    assert_eq!(status, 200, "{body}");

    // A scope outside the client's registered `scope` is not granted (RFC 6749 §3.3).
    let (status, refused) = post(
        port,
        "/token",
        &job,
        &format!("grant_type=client_credentials&scope=mcp%3Aadmin&{mcp_resource}"),
    );
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // A wrong secret is `invalid_client` (RFC 6749 §5.2).
    let (status, refused) = post(
        port,
        "/token",
        &basic("reports-job", "not-the-secret-0123456789-abcdefghijk"),
        "grant_type=client_credentials",
    );
    assert_eq!(
        (status, refused["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // RFC 8693: the resource server of /mcp exchanges the token it received for one to /search,
    // acting for the same subject.
    let (status, exchanged) = post(
        port,
        "/token",
        &basic("mcp-server", SERVER_SECRET),
        &format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
             &subject_token={mcp_token}\
             &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token\
             &resource={origin}/search"
        ),
    );
    assert_eq!(status, 200, "{exchanged}");
    assert_eq!(
        exchanged["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    let (_, payload) = gatehouse_jose::jws::dangerous_decode_unverified(
        exchanged["access_token"].as_str().unwrap(),
    )
    .unwrap();
    let payload: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        (&payload["sub"], &payload["aud"], &payload["act"]),
        (
            &Value::from("reports-job"),
            &Value::from(format!("{origin}/search")),
            &serde_json::json!({"sub": "mcp-server"})
        )
    );
    // The resource server lists only the exchange: it may not get tokens for itself (RFC 6749
    // §5.2).
    let server_auth = basic("mcp-server", SERVER_SECRET);
    let (status, refused) = post(
        port,
        "/token",
        &server_auth,
        "grant_type=client_credentials",
    );
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("unauthorized_client"))
    );

    // RFC 7662 §4: the resource server introspects its own resource's tokens...
    let (status, active) = post(
        port,
        "/introspect",
        &server_auth,
        &format!("token={mcp_token}"),
    );
    assert_eq!(status, 200);
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["sub"], "reports-job");
    assert_eq!(active["client_id"], "reports-job");
    assert_eq!(active["aud"], format!("{origin}/mcp"));
    // ...and not another resource's (decision 0007).
    let (_, files) = post(
        port,
        "/token",
        &job,
        &format!("grant_type=client_credentials&resource={origin}/files"),
    );
    assert_eq!(files["scope"], "files:read", "{files}");
    let (status, inactive) = post(
        port,
        "/introspect",
        &server_auth,
        &format!("token={}", files["access_token"].as_str().unwrap()),
    );
    assert_eq!(
        (status, &inactive),
        (200, &serde_json::json!({"active": false}))
    );

    assert!(terminate(server.child).success());
    assert_eq!(
        listed(dir.path(), &config),
        [
            ("mcp-server".to_owned(), "declared".to_owned()),
            ("reports-job".to_owned(), "declared".to_owned()),
        ]
    );

    // Changed between starts: the resource server's entry removed, the job's scope narrowed and
    // its secret rotated. The change applies; the removal is reported and the client kept.
    let config = write_config(dir.path(), port, &clients(port, "mcp:tools", true));
    let env = [
        ("JOB_SECRET", JOB_SECRET_ROTATED),
        ("SERVER_SECRET", SERVER_SECRET),
    ];
    let server = support::start(
        dir.path(),
        &["serve", "--config", &config],
        &[env[0], env[1], ("RUST_LOG", "warn")],
    );
    let warning = std::iter::from_fn(|| server.stderr.recv_timeout(Duration::from_secs(10)).ok())
        .find(|line| line.contains("no longer in the configuration"))
        .expect("the removed declaration is reported");
    assert!(warning.contains("mcp-server"), "{warning}");
    let (status, _) = post(port, "/token", &job, "grant_type=client_credentials");
    assert_eq!(status, 401, "the old secret no longer works");
    let job = basic("reports-job", JOB_SECRET_ROTATED);
    let (status, narrowed) = post(
        port,
        "/token",
        &job,
        &format!("grant_type=client_credentials&resource={origin}/files"),
    );
    assert_eq!(
        (status, narrowed["error"].as_str()),
        (400, Some("invalid_scope")),
        "files:read is no longer the job's: {narrowed}"
    );
    assert!(terminate(server.child).success());
    assert_eq!(
        listed(dir.path(), &config),
        [
            (
                "mcp-server".to_owned(),
                "declared (no longer in the configuration)".to_owned()
            ),
            ("reports-job".to_owned(), "declared".to_owned()),
        ]
    );
}

#[test]
fn a_declaration_that_cannot_be_applied_stops_the_start_with_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // A secret that is not in the environment.
    let config = write_config(dir.path(), port, &clients(port, "mcp:tools", true));
    let output = gatehouse(dir.path(), &["serve", "--config", &config]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("clients[0].client_secret_env") && stderr.contains("JOB_SECRET"),
        "{stderr}"
    );

    // An id that a client which registered itself already holds: declaring it would take that
    // client over.
    let config = write_config(dir.path(), port, "");
    let server = support::start(dir.path(), &["serve", "--config", &config], &[]);
    let (status, body) = support::register_public_client(port);
    assert_eq!(status, 201, "{body}");
    let registered: Value = serde_json::from_str(&body).unwrap();
    assert!(terminate(server.child).success());
    let taken = format!(
        "[[clients]]\nclient_id = \"{}\"\ntoken_endpoint_auth_method = \"none\"\n\
         redirect_uris = [\"http://127.0.0.1:1/cb\"]\n",
        registered["client_id"].as_str().unwrap()
    );
    let config = write_config(dir.path(), port, &taken);
    let output = gatehouse(dir.path(), &["serve", "--config", &config]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("was not declared here"),
        "{output:?}"
    );
}

/// `clients add … --json` and `clients update`, the clients they make used at the token
/// endpoint: the secret printed once works, and a rotated one replaces it at once.
#[test]
fn clients_added_on_the_command_line_work_and_can_be_changed() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, "");
    let json = |output: std::process::Output| -> Value {
        serde_json::from_slice(&support::succeeded(output).stdout).unwrap()
    };
    let added = json(gatehouse(
        dir.path(),
        &[
            "clients",
            "add",
            "Nightly reports",
            "--grant",
            "client_credentials",
            "--scope",
            "mcp:tools",
            "--json",
            "--config",
            &config,
        ],
    ));
    let id = added["client_id"].as_str().unwrap().to_owned();
    let secret = added["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        added["grant_types"],
        serde_json::json!(["client_credentials"])
    );
    assert_eq!(added["scope"], "mcp:tools");
    // What the rules of [[clients]] refuse, the command refuses, naming its option.
    let refused = gatehouse(
        dir.path(),
        &[
            "clients",
            "add",
            "Public",
            "--grant",
            "client_credentials",
            "--auth",
            "none",
            "--config",
            &config,
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--grant"),
        "{refused:?}"
    );

    let server = support::start(dir.path(), &["serve", "--config", &config], &[]);
    let (status, issued) = post(
        port,
        "/token",
        &basic(&id, &secret),
        "grant_type=client_credentials",
    );
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["scope"], "mcp:tools");

    // Rotated while the server runs: the old secret stops working at once (the store is read
    // at every authentication), the new one works.
    let updated = json(gatehouse(
        dir.path(),
        &[
            "clients",
            "update",
            &id,
            "--rotate-secret",
            "--scope",
            "mcp:tools mcp:admin",
            "--json",
            "--config",
            &config,
        ],
    ));
    let rotated = updated["client_secret"].as_str().unwrap();
    assert_ne!(rotated, secret);
    let (status, _) = post(
        port,
        "/token",
        &basic(&id, &secret),
        "grant_type=client_credentials",
    );
    assert_eq!(status, 401);
    let (status, issued) = post(
        port,
        "/token",
        &basic(&id, rotated),
        "grant_type=client_credentials&scope=mcp%3Aadmin",
    );
    assert_eq!(
        (status, issued["scope"].as_str()),
        (200, Some("mcp:admin")),
        "{issued}"
    );
    assert!(terminate(server.child).success());

    assert_eq!(
        listed(dir.path(), &config),
        [(id, "provisioned".to_owned())]
    );
}
