//! What the load examples share: the servers they start, and the OAuth flow that gets them a
//! grant (registration, authorization that approves at once, the code's redemption).

#![allow(dead_code)]

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub(crate) const REDIRECT: &str = "http://localhost:33418/callback";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A child process (in a process group of its own), stopped when dropped.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        // A peer script execs node; kill the process group to be sure. The `--` matters:
        // without it Debian's procps `kill` reads `-13054` as `-1` and signals every process the
        // user owns.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The resident memory of process `pid`, in KiB (0 if it is gone).
pub(crate) fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// The CPU time that process `pid` and its live child processes (and theirs) have used so far,
/// in user space and in the kernel. What a server spends per request is a steadier figure than its rate on a
/// machine whose neighbours come and go: the rate moves with whatever else runs, the work per
/// request does not.
pub(crate) fn cpu_time(pid: u32) -> CpuTime {
    static TICKS_PER_SECOND: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let ticks_per_second = *TICKS_PER_SECOND.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    });
    let (mut user, mut system) = (0, 0);
    let mut pending = vec![pid];
    while let Some(pid) = pending.pop() {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // proc(5): the fields after the command name, which is in parentheses and may hold
        // spaces; utime and stime are the 14th and 15th fields of the whole line.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| {
            fields
                .get(n)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        user += field(11);
        system += field(12);
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        pending.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    let time = |ticks: u64| Duration::from_micros(ticks * 1_000_000 / ticks_per_second);
    CpuTime {
        user: time(user),
        system: time(system),
    }
}

/// CPU time, in user space and in the kernel.
#[derive(Clone, Copy)]
pub(crate) struct CpuTime {
    pub(crate) user: Duration,
    pub(crate) system: Duration,
}

impl CpuTime {
    /// The time used since `before`.
    pub(crate) fn since(self, before: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(before.user),
            system: self.system.saturating_sub(before.system),
        }
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `gatehouse serve`'s configuration for a load run, in `dir`: a loopback issuer on `port`,
/// durable SQLite, sign-in auto-approved for `subject`, no rate limits, and the resource `/mcp`
/// with `resource_lines` in its entry, then `sections`; its path.
pub(crate) fn load_config(
    dir: &std::path::Path,
    port: u16,
    subject: &str,
    resource_lines: &str,
    sections: &str,
) -> std::path::PathBuf {
    let config = dir.join("gatehouse.toml");
    std::fs::write(
        &config,
        format!(
            r#"issuer = "http://127.0.0.1:{port}"
listen = "127.0.0.1:{port}"
database = "sqlite://{db}"
[login]
mode = "auto-approve"
auto_approve_subject = "{subject}"
[rate_limits]
enabled = false
[[resources]]
resource = "http://127.0.0.1:{port}/mcp"
scopes_supported = ["mcp:tools"]
{resource_lines}
{sections}"#,
            db = dir.join("gatehouse.db").display()
        ),
    )
    .unwrap();
    config
}

/// Starts `command` in a process group of its own.
pub(crate) fn spawn(command: &mut Command) -> Running {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    Running(
        command
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?}: {e}")),
    )
}

/// Waits (at most two minutes) until `url` answers at all.
pub(crate) async fn wait_for(http: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while http.get(url).send().await.is_err() {
        assert!(Instant::now() < deadline, "{url} did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A grant from the authorization server at `issuer`, through its registration, authorization
/// (which approves at once) and token endpoints, for a public client of its own that may
/// refresh: the client id and the token response.
pub(crate) async fn grant(
    http: &reqwest::Client,
    issuer: &str,
    resource: Option<&str>,
    scope: Option<&str>,
) -> (String, Value) {
    let metadata: Value = http
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut registration = json!({
        "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "client_name": "gatehouse load"
    });
    if let Some(scope) = scope {
        registration["scope"] = scope.into();
    }
    let registered: Value = http
        .post(metadata["registration_endpoint"].as_str().unwrap())
        .json(&registration)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let mut authorize =
        reqwest::Url::parse(metadata["authorization_endpoint"].as_str().unwrap()).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "load");
    if let Some(scope) = scope {
        authorize.query_pairs_mut().append_pair("scope", scope);
    }
    if let Some(resource) = resource {
        authorize
            .query_pairs_mut()
            .append_pair("resource", resource);
    }
    let response = http.get(authorize).send().await.unwrap();
    let location = response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("{issuer}: authorize answered {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned();
    let code = reqwest::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let mut redemption = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", client_id.as_str()),
    ];
    if let Some(resource) = resource {
        redemption.push(("resource", resource));
    }
    let tokens: Value = http
        .post(metadata["token_endpoint"].as_str().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&redemption))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (client_id, tokens)
}
