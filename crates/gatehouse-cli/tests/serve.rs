//! `gatehouse serve --demo`, `users add` and `clients list`, run as a user runs them: the binary
//! in a fresh working directory, spoken to over HTTP, stopped with SIGTERM, started again.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{free_port, get, request, terminate};

/// Runs `gatehouse ARGS` in `dir` with `stdin` on its standard input.
fn gatehouse_with_stdin(
    dir: &std::path::Path,
    args: &[&str],
    stdin: &[u8],
) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Writes `gatehouse.toml` in `dir`: a SQLite file there, rate limits off, the demo MCP server,
/// and `extra` (TOML tables); its path.
fn sqlite_config(dir: &std::path::Path, port: u16, extra: &str) -> String {
    let config = dir.join("gatehouse.toml");
    std::fs::write(
        &config,
        format!(
            "issuer = \"http://127.0.0.1:{port}\"\nlisten = \"127.0.0.1:{port}\"\ndatabase = \"sqlite://state.db\"\n\
             {extra}\
             [rate_limits]\nenabled = false\n\
             [[resources]]\nresource = \"http://127.0.0.1:{port}/mcp\"\nscopes_supported = [\"mcp:tools\"]\nbuiltin = \"demo\"\n"
        ),
    )
    .unwrap();
    config.to_str().unwrap().to_owned()
}

/// Starts `serve --demo` in `dir`; returns the child and the lines it printed until it listens.
fn start(dir: &std::path::Path, port: u16) -> (Child, Vec<String>) {
    start_with(
        dir,
        &["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")],
    )
}

/// Starts `gatehouse ARGS` in `dir`; returns the child and the lines it printed until it
/// listens.
fn start_with(dir: &std::path::Path, args: &[&str]) -> (Child, Vec<String>) {
    let running = support::start(dir, args, &[("RUST_LOG", "warn")]);
    (running.child, running.lines)
}

/// A SIGTERM right after the server's first answer is a graceful stop (exit status 0), not the
/// signal's default action. The handlers used to be installed only when the accept loop first
/// polled for a shutdown, which it need not do before a waiting connection is answered: CI once
/// saw a restarted server killed by the SIGTERM that followed its first answer. The window was
/// narrow (a loaded machine widened it), so this repeats the sequence; the handlers are now
/// installed before the server binds.
#[test]
fn a_sigterm_right_after_the_first_answer_is_a_graceful_stop() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..5 {
        let port = free_port();
        let (child, _) = start(dir.path(), port);
        let (status, _) = get(port, "/readyz");
        assert!(status.contains("200"), "{status}");
        let exit = terminate(child);
        assert!(exit.success(), "{exit:?}");
    }
}

#[test]
fn serve_demo_answers_stops_on_sigterm_and_keeps_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (child, lines) = start(dir.path(), port);
    let password_line = lines
        .iter()
        .find(|l| l.starts_with("Demo user: demo   password: "))
        .unwrap_or_else(|| panic!("no demo password printed: {lines:?}"));
    let password = password_line.split_whitespace().nth(4).unwrap().to_owned();
    assert!(password.len() >= 16, "{password}");

    let (status, body) = get(port, "/.well-known/oauth-authorization-server");
    assert!(status.contains("200"), "{status}");
    let metadata: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(metadata["issuer"], format!("http://127.0.0.1:{port}"));
    let (status, jwks) = get(port, "/.well-known/jwks.json");
    assert!(status.contains("200"));
    let (status, _) = get(port, "/readyz");
    assert!(status.contains("200"), "{status}");

    // The demo MCP server at /mcp, behind the guard: a challenge naming its RFC 9728 metadata.
    let (status, _) = get(port, "/mcp");
    assert!(status.contains("401"), "{status}");
    let (status, document) = get(port, "/.well-known/oauth-protected-resource/mcp");
    assert!(status.contains("200"), "{status}");
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    assert_eq!(document["resource"], format!("http://127.0.0.1:{port}/mcp"));
    assert_eq!(
        document["scopes_supported"],
        serde_json::json!(["mcp:admin", "mcp:tools"])
    );

    // SIGTERM: a graceful stop, exit status 0.
    let exit = terminate(child);
    assert!(exit.success(), "{exit:?}");
    assert!(dir.path().join("gatehouse-demo.db").exists());
    let key_file = dir.path().join("gatehouse-demo.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(
        mode & 0o777,
        0o600,
        "the generated encryption key is private"
    );
    let database = std::fs::read(dir.path().join("gatehouse-demo.db")).unwrap();
    assert!(
        !database
            .windows(password.len())
            .any(|w| w == password.as_bytes())
    );

    // Started again: the same signing key, the same user, no new password.
    let (child, lines) = start(dir.path(), port);
    assert!(lines.iter().all(|l| !l.contains("password: ")), "{lines:?}");
    let (_, jwks_again) = get(port, "/.well-known/jwks.json");
    assert_eq!(jwks, jwks_again, "the signing key survived the restart");
    let exit = terminate(child);
    assert!(exit.success(), "{exit:?}");

    // The commands that work on the same database.
    support::succeeded(gatehouse_with_stdin(
        dir.path(),
        &["users", "add", "alice", "--demo"],
        b"a long passphrase\n",
    ));
    let again = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["users", "add", "alice", "--demo"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "empty password refused");
    let users = |args: &[&str], stdin: &[u8]| {
        let args: Vec<&str> = ["users"]
            .into_iter()
            .chain(args.iter().copied())
            .chain(["--demo"])
            .collect();
        gatehouse_with_stdin(dir.path(), &args, stdin)
    };
    let listed = users(&["list", "--json"], b"");
    assert!(listed.status.success());
    let names: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["alice", "demo"]);
    assert!(
        users(&["passwd", "alice"], b"another long passphrase\n")
            .status
            .success()
    );
    assert_eq!(users(&["passwd", "nobody"], b"x\n").status.code(), Some(2));
    assert_eq!(users(&["delete", "nobody"], b"").status.code(), Some(2));
    assert!(users(&["delete", "alice"], b"").status.success());
    let listed = String::from_utf8_lossy(&users(&["list"], b"").stdout).into_owned();
    assert!(
        !listed.contains("alice") && listed.contains("demo"),
        "{listed}"
    );
    // An immediate key rotation: after a restart the new key is published beside the old one.
    support::succeeded(
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["keys", "rotate", "--demo"])
            .current_dir(dir.path())
            .output()
            .unwrap(),
    );
    let (child, _) = start(dir.path(), port);
    let (_, rotated) = get(port, "/.well-known/jwks.json");
    assert!(terminate(child).success());
    let count = |jwks: &str| {
        serde_json::from_str::<serde_json::Value>(jwks).unwrap()["keys"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((count(&jwks), count(&rotated)), (1, 2));

    let list = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["clients", "list", "--demo"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(list.status.success());
}

#[test]
fn serve_refuses_a_bad_configuration_with_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gatehouse.toml");
    std::fs::write(
        &config,
        "issuer = \"https://auth.example.com\"\n[login]\nmode = \"auto-approve\"\n[[resources]]\nresource = \"https://mcp.example.com/mcp\"\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("login.mode"), "{stderr}");

    // A production issuer without the encryption key variable: refused, naming the variable.
    std::fs::write(
        &config,
        format!(
            "issuer = \"https://auth.example.com\"\nlisten = \"127.0.0.1:{}\"\ndatabase = \"sqlite://state.db\"\n[keys]\nencryption_key_env = \"GATEHOUSE_TEST_UNSET_KEY\"\n[[resources]]\nresource = \"https://mcp.example.com/mcp\"\nscopes_supported = [\"mcp:tools\"]\n",
            free_port()
        ),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .current_dir(dir.path())
        .env_remove("GATEHOUSE_TEST_UNSET_KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("GATEHOUSE_TEST_UNSET_KEY"), "{stderr}");
}

/// Revocations made by another process (`gatehouse clients delete`, `gatehouse users delete`)
/// reach a running SQLite server's guard within about two seconds, not when the token expires.
#[test]
fn a_revocation_by_another_process_reaches_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = sqlite_config(
        dir.path(),
        port,
        "[login]\nmode = \"auto-approve\"\nauto_approve_subject = \"alice\"\n",
    );
    let added = gatehouse_with_stdin(
        dir.path(),
        &["users", "add", "alice", "--config", &config],
        b"a long passphrase\n",
    );
    assert!(added.status.success());
    let (child, _) = start_with(dir.path(), &["serve", "--config", &config]);

    // A client and an access token, as an MCP client gets them.
    let token = |client_id: &str| {
        let redirect = "http://127.0.0.1:33418/callback";
        let (status, head, _) = request(
            port,
            "GET",
            &format!(
                "/authorize?response_type=code&client_id={client_id}&redirect_uri={redirect}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&scope=mcp:tools"
            ),
            &[],
            "",
        );
        assert_eq!(status, 303, "{head}");
        let code = head
            .lines()
            .find_map(|line| line.strip_prefix("location: "))
            .and_then(|location| location.split("code=").nth(1))
            .and_then(|rest| rest.split('&').next())
            .unwrap()
            .to_owned();
        let form = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={redirect}&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&client_id={client_id}"
        );
        let (status, _, body) = request(
            port,
            "POST",
            "/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form,
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let register = || {
        let (status, _, body) = request(
            port,
            "POST",
            "/register",
            &[("Content-Type", "application/json")],
            r#"{"redirect_uris":["http://127.0.0.1:33418/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}"#,
        );
        assert_eq!(status, 201, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["client_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mcp = |token: &str| support::mcp_initialize(port, token).0;
    let until_refused = |token: &str| {
        let start = Instant::now();
        while mcp(token) != 401 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the running server still accepts a token revoked by another process"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        start.elapsed()
    };
    let cli = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .args(["--config", &config])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };

    let client = register();
    let access = token(&client);
    assert_eq!(mcp(&access), 200);
    cli(&["clients", "delete", &client]);
    let by_client = until_refused(&access);

    let client = register();
    let access = token(&client);
    assert_eq!(mcp(&access), 200);
    cli(&["users", "delete", "alice"]);
    let by_user = until_refused(&access);
    eprintln!("refused after {by_client:?} (clients delete), {by_user:?} (users delete)");
    assert!(terminate(child).success());
}

/// The audit table is written in the background, in batches gathered over a few milliseconds:
/// a graceful stop writes what is still queued before the process ends. Every registration
/// answered before the SIGTERM is in the audit log after it.
#[test]
fn a_graceful_stop_stores_the_audit_records_still_queued() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = sqlite_config(dir.path(), port, "");
    let (child, _) = start_with(dir.path(), &["serve", "--config", &config]);
    const REGISTRATIONS: usize = 40;
    for _ in 0..REGISTRATIONS {
        let (status, body) = support::register_public_client(port);
        assert_eq!(status, 201, "{body}");
    }
    assert!(terminate(child).success());
    let registered = support::audit_list(std::path::Path::new(&config), &[], &[])
        .iter()
        .filter(|event| event["kind"] == "client_registered")
        .count();
    assert_eq!(registered, REGISTRATIONS);
}
