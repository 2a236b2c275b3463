//! The `gatehouse` binary, run the way a user runs it: keys generated into files, tokens signed
//! with the JOSE library, verified and decoded by the command, exit codes and messages checked.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use gatehouse_jose::{
    AccessTokenClaims, Algorithm, Audience, Jwk, SigningKey, jws, sign_access_token,
};
use serde_json::{Value, json};

const ISSUER: &str = "https://auth.example.com";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const NOW: u64 = 1_700_000_000;

/// A directory of its own for each test, removed afterwards.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "gatehouse-cli-test-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir(&path).unwrap();
        Self(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn gatehouse<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    gatehouse_with_stdin(args, None)
}

fn gatehouse_with_stdin<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        let written = child.stdin.take().unwrap().write_all(input.as_bytes());
        // A command that refuses its arguments exits without reading stdin; the pipe is then
        // closed under us, which is not a failure of the test.
        if let Err(error) = written {
            assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
        }
    }
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().expect("exited normally"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// `gatehouse keys generate --alg ALG --out DIR/NAME`, and the key read back with the library.
fn generate(dir: &TempDir, alg: &str, name: &str) -> (PathBuf, SigningKey) {
    let (path, key, _) = generate_with_note(dir, alg, name);
    (path, key)
}

/// Like [`generate`], also returning what was printed on standard error.
fn generate_with_note(dir: &TempDir, alg: &str, name: &str) -> (PathBuf, SigningKey, String) {
    let path = dir.path(name);
    let run = gatehouse(&[
        "keys",
        "generate",
        "--alg",
        alg,
        "--out",
        path.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "", "the private key goes to the file only");
    let key = read_private_key(&path);
    (path, key, run.stderr)
}

fn read_private_key(path: &Path) -> SigningKey {
    let jwk = Jwk::from_json(&std::fs::read(path).unwrap()).unwrap();
    SigningKey::from_jwk(&jwk).unwrap()
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// A token with exactly this header, signed by `key` (or with an empty signature).
fn raw_token(header: &Value, payload: &[u8], key: Option<&SigningKey>) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload)
    );
    let signature = key.map(|k| k.sign(input.as_bytes()).unwrap());
    format!("{input}.{}", b64url(&signature.unwrap_or_default()))
}

fn claims(now: u64) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "alice".into(),
        aud: Audience::One(RESOURCE.into()),
        exp: now + 600,
        iat: now,
        jti: "jti-1".into(),
        client_id: "client-1".into(),
        nbf: None,
        scope: Some("mcp:tools".into()),
        extra: Default::default(),
    }
}

fn payload() -> Value {
    json!({"sub": "alice", "scope": "mcp:tools", "n": 1})
}

fn verify(key_file: &Path, token: &str) -> Run {
    gatehouse(&["jws", "verify", "--jwk", key_file.to_str().unwrap(), token])
}

#[test]
fn help_and_version() {
    let run = gatehouse(&["--help"]);
    assert_eq!(run.code, 0);
    for word in [
        "keys",
        "jws",
        "token",
        "serve",
        "users",
        "clients",
        "Exit status",
    ] {
        assert!(run.stdout.contains(word), "{word}: {}", run.stdout);
    }
    let run = gatehouse(&["--version"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout.trim(),
        format!("gatehouse {}", env!("CARGO_PKG_VERSION"))
    );

    let run = gatehouse(&["jws", "verify", "--help"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("not an RFC 9068 access-token"),
        "{}",
        run.stdout
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["serve"][..],
        &["frobnicate"],
        &["keys", "generate", "--alg", "HS256"],
        &["keys", "generate", "--alg", "none"],
        &["keys", "generate", "--force"],
        &["jws", "verify", "some.token.here"],
        &["jws", "verify", "--jwk"],
        &[
            "jws", "verify", "--jwk", "k.json", "--issuer", ISSUER, "a.b.c",
        ],
        &["token", "decode"],
        &["token", "decode", "a.b.c", "--bogus"],
    ] {
        let run = gatehouse(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.is_empty());
    }
}

#[test]
fn generate_sign_and_verify_every_algorithm() {
    let dir = TempDir::new();
    for alg in ["ES256", "EdDSA", "RS256", "PS256"] {
        let (path, key, note) = generate_with_note(&dir, alg, &format!("{alg}.jwk"));

        // A private JWK with kid = RFC 7638 thumbprint, alg and use.
        let value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(value["alg"], alg);
        assert_eq!(value["use"], "sig");
        assert!(value["d"].is_string());
        assert_eq!(key.algorithm(), Algorithm::from_name(alg).unwrap());
        assert_eq!(value["kid"], key.verifying_key().thumbprint());
        assert_eq!(key.kid(), key.verifying_key().thumbprint());

        // The note names the kid. RSA signing is ring's now (decision 0016): no RUSTSEC-2023-0071
        // caveat any more.
        assert!(note.contains(key.kid()), "{note}");
        assert!(!note.contains("RUSTSEC-2023-0071"), "{note}");

        let token = jws::sign(&key, Some("JWT"), payload().to_string().as_bytes()).unwrap();
        let run = verify(&path, &token);
        assert_eq!(run.code, 0, "{alg}: {}", run.stderr);
        assert_eq!(
            serde_json::from_str::<Value>(&run.stdout).unwrap(),
            payload()
        );
        assert!(
            run.stdout.contains("\n  \""),
            "pretty-printed: {}",
            run.stdout
        );
        assert!(run.stderr.starts_with("valid: "), "{}", run.stderr);
        assert!(run.stderr.contains("NOT checked"), "{}", run.stderr);

        // The public JWK derived by `keys public` verifies too.
        let run = gatehouse(&["keys", "public", path.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let public: Value = serde_json::from_str(&run.stdout).unwrap();
        assert!(public.get("d").is_none());
        assert_eq!(public["kid"], key.kid());
        let public_path = dir.write(&format!("{alg}.pub.jwk"), &run.stdout);
        assert_eq!(verify(&public_path, &token).code, 0);
    }
}

#[test]
fn generate_prints_a_private_jwk_by_default() {
    let run = gatehouse(&["keys", "generate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let value: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["alg"], "ES256", "ES256 is the default");
    assert_eq!(value["kty"], "EC");
    assert!(value["d"].is_string());
    assert!(run.stderr.contains(value["kid"].as_str().unwrap()));

    let run = gatehouse(&["keys", "generate", "--alg", "eddsa"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let value: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        value["alg"], "EdDSA",
        "algorithm names are accepted in any case"
    );

    let run = gatehouse(&["keys", "generate", "--format", "pem"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("-----BEGIN PRIVATE KEY-----"));
    SigningKey::from_pkcs8_pem(&run.stdout, Algorithm::Es256).unwrap();
}

#[test]
fn out_refuses_to_overwrite_without_force() {
    let dir = TempDir::new();
    let path = dir.write("existing.jwk", "keep me");
    let args = ["keys", "generate", "--out", path.to_str().unwrap()];
    let run = gatehouse(&args);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");

    let run = gatehouse(&[&args[..], &["--force"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    read_private_key(&path);
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);
}

#[cfg(unix)]
#[test]
fn out_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new();
    let (path, _) = generate(&dir, "EdDSA", "key.jwk");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Replacing a world-readable file leaves a private one.
    let open = dir.write("open.jwk", "{}");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = gatehouse(&[
        "keys",
        "generate",
        "--out",
        open.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mode = std::fs::metadata(&open).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn tampered_token_is_invalid() {
    let dir = TempDir::new();
    let (path, key) = generate(&dir, "ES256", "key.jwk");
    let token = jws::sign(&key, None, payload().to_string().as_bytes()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let forged = b64url(json!({"sub": "admin"}).to_string().as_bytes());
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    let run = verify(&path, &tampered);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "", "nothing of an invalid token is printed");
    assert_eq!(run.stderr.trim(), "invalid: signature verification failed");

    // A flipped signature character, and a truncated token, are refused too.
    let mut bytes = token.clone().into_bytes();
    let last = bytes.len() - 5;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let run = verify(&path, &String::from_utf8(bytes).unwrap());
    assert_eq!(run.code, 1, "{}", run.stderr);
    let run = verify(&path, &token[..token.len() - 10]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("invalid: "), "{}", run.stderr);
}

#[test]
fn alg_none_and_hmac_are_refused() {
    let dir = TempDir::new();
    let (path, key) = generate(&dir, "ES256", "key.jwk");
    let none = raw_token(&json!({"alg": "none"}), b"{\"sub\":\"admin\"}", None);
    let run = verify(&path, &none);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("invalid: unsupported algorithm \"none\""),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");

    let hmac = raw_token(
        &json!({"alg": "HS256", "kid": key.kid()}),
        b"{\"sub\":\"admin\"}",
        Some(&key),
    );
    let run = verify(&path, &hmac);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("\"HS256\""), "{}", run.stderr);
}

#[test]
fn wrong_key_is_invalid_and_says_which_keys_exist() {
    let dir = TempDir::new();
    let (path_a, key_a) = generate(&dir, "ES256", "a.jwk");
    let (path_b, key_b) = generate(&dir, "ES256", "b.jwk");
    let token = jws::sign(&key_a, None, b"{}").unwrap();
    let run = verify(&path_b, &token);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.lines().next().unwrap(),
        format!(
            "invalid: no key matches the token (kid \"{}\"; the key file has kids: {} (ES256))",
            key_a.kid(),
            key_b.kid()
        )
    );

    // Without a kid the key of the right algorithm is tried, and the signature fails.
    let no_kid = raw_token(&json!({"alg": "ES256"}), b"{}", Some(&key_a));
    let run = verify(&path_b, &no_kid);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.trim(), "invalid: signature verification failed");
    assert_eq!(verify(&path_a, &no_kid).code, 0);

    // A key of another algorithm: the key decides, not the header.
    let (path_ed, key_ed) = generate(&dir, "EdDSA", "ed.jwk");
    let claimed = raw_token(
        &json!({"alg": "ES256", "kid": key_ed.kid()}),
        b"{}",
        Some(&key_a),
    );
    let run = verify(&path_ed, &claimed);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("RFC 8725"), "{}", run.stderr);

    // No private key material ever appears in messages.
    for (path, name) in [(&path_a, "a"), (&path_b, "b"), (&path_ed, "ed")] {
        let value: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let d = value["d"].as_str().unwrap();
        for token in [&token, &no_kid, &claimed] {
            let run = verify(path, token);
            assert!(!run.stderr.contains(d), "{name}");
            assert!(!run.stdout.contains(d), "{name}");
        }
    }
}

#[test]
fn jwks_with_several_keys() {
    let dir = TempDir::new();
    let keys: Vec<SigningKey> = ["ES256", "EdDSA", "RS256", "PS256"]
        .iter()
        .enumerate()
        .map(|(i, alg)| generate(&dir, alg, &format!("{i}.jwk")).1)
        .collect();
    let mut jwks: Vec<Value> = keys
        .iter()
        .map(|k| serde_json::from_str(&k.verifying_key().to_jwk().to_json()).unwrap())
        .collect();
    // A key the verifier cannot use (encryption) does not spoil the set.
    let mut enc = jwks[0].clone();
    enc["use"] = json!("enc");
    enc["kid"] = json!("encryption-key");
    jwks.push(enc);
    let path = dir.write("jwks.json", &json!({"keys": jwks}).to_string());

    for key in &keys {
        let token = jws::sign(key, None, b"{\"ok\":true}").unwrap();
        let run = verify(&path, &token);
        assert_eq!(run.code, 0, "{}: {}", key.algorithm(), run.stderr);
        assert_eq!(
            serde_json::from_str::<Value>(&run.stdout).unwrap(),
            json!({"ok": true})
        );
    }

    let (_, stranger) = generate(&dir, "ES256", "stranger.jwk");
    let token = jws::sign(&stranger, None, b"{}").unwrap();
    let run = verify(&path, &token);
    assert_eq!(run.code, 1);
    let first = run.stderr.lines().next().unwrap();
    for key in &keys {
        assert!(first.contains(key.kid()), "{first}");
    }
    assert!(
        run.stderr
            .contains("hint: ignored key #5 (kid encryption-key)"),
        "{}",
        run.stderr
    );

    // `keys public` of a set is a set.
    let run = gatehouse(&["keys", "public", path.to_str().unwrap()]);
    assert_eq!(run.code, 2, "a published set must not silently lose a key");
    let private_set = dir.write(
        "private-set.json",
        &format!(
            "{{\"keys\":[{},{}]}}",
            keys[0].to_jwk().to_json(),
            keys[1].to_jwk().to_json()
        ),
    );
    let run = gatehouse(&["keys", "public", private_set.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let set: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(set["keys"].as_array().unwrap().len(), 2);
    assert!(!run.stdout.contains("\"d\""));
    // A private set verifies with its public halves.
    let token = jws::sign(&keys[1], None, b"{}").unwrap();
    assert_eq!(verify(&private_set, &token).code, 0);
}

#[test]
fn rsa_key_without_alg_needs_the_alg_flag() {
    let dir = TempDir::new();
    let key = SigningKey::generate(Algorithm::Rs256).unwrap();
    let mut jwk = key.verifying_key().to_jwk();
    jwk.alg = None;
    let path = dir.write("rsa.jwk", &jwk.to_json());
    let token = jws::sign(&key, None, b"{}").unwrap();

    let run = verify(&path, &token);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--alg RS256 or --alg PS256"),
        "{}",
        run.stderr
    );

    let with = |alg: &str| {
        gatehouse(&[
            "jws",
            "verify",
            "--alg",
            alg,
            "--jwk",
            path.to_str().unwrap(),
            &token,
        ])
    };
    let run = with("RS256");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = with("PS256");
    assert_eq!(run.code, 1, "an RS256 token is not a PS256 one");
    assert!(run.stderr.contains("RFC 8725"), "{}", run.stderr);
}

#[test]
fn unusable_key_files_are_usage_errors() {
    let dir = TempDir::new();
    let (_, key) = generate(&dir, "ES256", "key.jwk");
    let token = jws::sign(&key, None, b"{}").unwrap();
    let missing = dir.path("missing.jwk");
    let run = verify(&missing, &token);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot read key file"),
        "{}",
        run.stderr
    );

    for (name, contents, expected) in [
        ("garbage.jwk", "not json", "not a usable JWK"),
        ("array.jwk", "[1, 2]", "not a usable JWK"),
        ("empty-set.jwk", "{\"keys\": []}", "no keys"),
        (
            "oct.jwk",
            "{\"kty\": \"oct\", \"k\": \"AAAA\"}",
            "no usable key",
        ),
        (
            "pem.key",
            "-----BEGIN PRIVATE KEY-----\nMC4CAQ==\n-----END PRIVATE KEY-----\n",
            "PEM",
        ),
    ] {
        let path = dir.write(name, contents);
        let run = verify(&path, &token);
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{name}: {}", run.stderr);
    }

    // A private key whose public members belong to another key is refused, not half-used.
    let other = SigningKey::generate(Algorithm::Es256).unwrap();
    let mut value: Value = serde_json::from_str(&key.to_jwk().to_json()).unwrap();
    let other_value: Value = serde_json::from_str(&other.to_jwk().to_json()).unwrap();
    value["d"] = other_value["d"].clone();
    let path = dir.write("inconsistent.jwk", &value.to_string());
    let run = verify(&path, &token);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains(other_value["d"].as_str().unwrap()));
}

#[test]
fn token_from_stdin() {
    let dir = TempDir::new();
    let (path, key) = generate(&dir, "EdDSA", "key.jwk");
    let token = jws::sign(&key, None, payload().to_string().as_bytes()).unwrap();
    let args = ["jws", "verify", "--jwk", path.to_str().unwrap(), "-"];
    let run = gatehouse_with_stdin(&args, Some(&format!("{token}\n")));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&run.stdout).unwrap(),
        payload()
    );

    let run = gatehouse_with_stdin(&args, Some(""));
    assert_eq!(run.code, 2, "{}", run.stderr);

    let run = gatehouse_with_stdin(&["token", "decode", "-"], Some(&token));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let decoded: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(decoded["payload"], payload());

    let run = gatehouse_with_stdin(&["jws", "verify", "--jwk", "-", "-"], Some(&token));
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn payload_that_is_not_json_is_printed_as_is() {
    let dir = TempDir::new();
    let (path, key) = generate(&dir, "ES256", "key.jwk");
    let token = jws::sign(&key, None, b"hello, world").unwrap();
    let run = verify(&path, &token);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "hello, world");
}

#[test]
fn token_decode_is_labelled_unverified() {
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let token = sign_access_token(&key, &claims(NOW)).unwrap();
    let now = (NOW + 60).to_string();
    let run = gatehouse(&["token", "decode", &token, "--now", &now]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr.lines().next().unwrap(),
        "UNVERIFIED — signature not checked"
    );
    let decoded: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        decoded["header"],
        json!({"alg": "ES256", "typ": "at+jwt", "kid": key.kid()})
    );
    assert_eq!(
        decoded["payload"],
        serde_json::to_value(claims(NOW)).unwrap()
    );
    for line in [
        "typ: at+jwt — an RFC 9068 access token",
        "exp: 2023-11-14 22:23:20 UTC — expires in 9 min",
        "iat: 2023-11-14 22:13:20 UTC — issued 1 min ago",
    ] {
        assert!(run.stderr.contains(line), "{line}: {}", run.stderr);
    }

    let later = (NOW + 900).to_string();
    let run = gatehouse(&["token", "decode", &token, "--now", &later]);
    assert!(run.stderr.contains("expired 5 min ago"), "{}", run.stderr);
}

#[test]
fn token_decode_shows_what_verify_refuses() {
    let none = raw_token(&json!({"alg": "none"}), b"{\"sub\":\"admin\"}", None);
    let run = gatehouse(&["token", "decode", &none]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.starts_with("UNVERIFIED"), "{}", run.stderr);
    assert!(run.stderr.contains("never accepts"), "{}", run.stderr);

    let run = gatehouse(&["token", "decode", "an-opaque-refresh-token"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.starts_with("not decodable: "), "{}", run.stderr);
    assert!(run.stderr.contains("opaque"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(!run.stderr.contains("UNVERIFIED"));

    let run = gatehouse(&["token", "decode", "e30.!!!.x"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
}

#[test]
fn access_token_checks_with_issuer_and_audience() {
    let dir = TempDir::new();
    let (path, key) = generate(&dir, "ES256", "key.jwk");
    let token = sign_access_token(&key, &claims(NOW)).unwrap();
    let check = |issuer: &str, audience: &str, now: u64| {
        gatehouse(&[
            "jws",
            "verify",
            "--jwk",
            path.to_str().unwrap(),
            "--issuer",
            issuer,
            "--audience",
            audience,
            "--now",
            &now.to_string(),
            &token,
        ])
    };
    let run = check(ISSUER, RESOURCE, NOW + 60);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.parse::<Value>().unwrap()["sub"], "alice");
    assert!(
        run.stderr.contains("RFC 9068 access token"),
        "{}",
        run.stderr
    );

    let run = check(ISSUER, RESOURCE, NOW + 900);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with("invalid: token has expired"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("5 min ago"), "{}", run.stderr);

    let run = check(ISSUER, "https://other.example.com/mcp", NOW);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("audience"), "{}", run.stderr);
    assert!(
        run.stderr.contains(RESOURCE),
        "the hint shows the token's aud"
    );

    let run = check("https://evil.example.com", RESOURCE, NOW);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("issuer"), "{}", run.stderr);

    // A signed JWT that is not an access token.
    let plain = jws::sign(
        &key,
        Some("JWT"),
        &serde_json::to_vec(&claims(NOW)).unwrap(),
    )
    .unwrap();
    let run = gatehouse(&[
        "jws",
        "verify",
        "--jwk",
        path.to_str().unwrap(),
        "--issuer",
        ISSUER,
        "--audience",
        RESOURCE,
        &plain,
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("at+jwt"), "{}", run.stderr);
}
