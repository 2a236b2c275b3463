//! `gatehouse-conformance`: a black-box conformance checker for an OAuth 2.1 authorization
//! server and an MCP resource it protects, run over HTTP against live servers.
//!
//! ```text
//! gatehouse-conformance --issuer URL --resource URL [--expectations FILE] [--report FILE.json]
//!     [--other-resource URL] [--expiry-leeway SECS] [--max-expiry-wait SECS]
//!     [--machine-client ID] [--keyed-client ID --keyed-client-key FILE] [--exchanger ID]
//! ```
//!
//! The target must approve authorization requests without a person: `GET /authorize` must answer
//! with a redirect to the redirect URI carrying a code (Gatehouse: `[login] mode =
//! "auto-approve"`). Exit status: 0 when every outcome matches the expectations, 1 when any
//! differs, 2 on a usage or setup error.

mod checks;
mod context;
mod expectations;
mod http;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::context::Context;
use crate::expectations::Expectations;
use crate::report::Report;

/// Checks a running OAuth 2.1 authorization server and MCP resource against the RFCs.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The issuer identifier of the authorization server, exactly as it publishes it.
    #[arg(long)]
    issuer: String,
    /// The protected resource (canonical URI; an MCP Streamable HTTP endpoint).
    #[arg(long)]
    resource: String,
    /// TOML file of checks expected to fail or be skipped, each with a reason.
    #[arg(long)]
    expectations: Option<PathBuf>,
    /// Where to write the JSON report.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Another MCP resource of the same authorization server: a token issued for it must be
    /// refused by `--resource` (audience checks; skipped without it).
    #[arg(long)]
    other_resource: Option<String>,
    /// Seconds past a token's expiry that the resource may still accept it (its clock leeway).
    #[arg(long, default_value_t = 60)]
    expiry_leeway: u64,
    /// The longest wait, in seconds, for an access token to expire; longer lifetimes skip the
    /// expiry check.
    #[arg(long, default_value_t = 180)]
    max_expiry_wait: u64,
    /// A declared `client_credentials` client (SEP-1046); its secret in the environment variable
    /// GATEHOUSE_CONFORMANCE_MACHINE_SECRET.
    #[arg(long, value_name = "CLIENT_ID")]
    machine_client: Option<String>,
    /// A declared `private_key_jwt` client allowed `client_credentials` (RFC 7523).
    #[arg(long, value_name = "CLIENT_ID", requires = "keyed_client_key")]
    keyed_client: Option<String>,
    /// The private JWK of `--keyed-client`.
    #[arg(long, value_name = "FILE", requires = "keyed_client")]
    keyed_client_key: Option<PathBuf>,
    /// The declared resource server of `--resource`, allowed the token-exchange grant (RFC 8693);
    /// its secret in GATEHOUSE_CONFORMANCE_EXCHANGER_SECRET. Exchanges for `--other-resource`.
    #[arg(long, value_name = "CLIENT_ID")]
    exchanger: Option<String>,
}

/// A declared client named on the command line, its secret from `variable`.
fn declared(id: Option<&String>, variable: &str) -> Result<Option<context::Client>, String> {
    let Some(id) = id else {
        return Ok(None);
    };
    let secret =
        std::env::var(variable).map_err(|_| format!("{variable} must hold the secret of {id}"))?;
    Ok(Some(context::Client {
        id: id.clone(),
        secret: Some(secret),
        registration_access_token: None,
        registration_client_uri: None,
    }))
}

fn declared_clients(args: &Args) -> Result<checks::machine::DeclaredClients, String> {
    let keyed = match (&args.keyed_client, &args.keyed_client_key) {
        (Some(id), Some(path)) => Some((
            id.clone(),
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )),
        _ => None,
    };
    Ok(checks::machine::DeclaredClients {
        machine: declared(
            args.machine_client.as_ref(),
            "GATEHOUSE_CONFORMANCE_MACHINE_SECRET",
        )?,
        keyed,
        exchanger: declared(
            args.exchanger.as_ref(),
            "GATEHOUSE_CONFORMANCE_EXCHANGER_SECRET",
        )?,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let catalogue = checks::catalogue();
    let ids: Vec<&str> = catalogue.iter().map(|c| c.id).collect();
    let expectations = match &args.expectations {
        Some(path) => match Expectations::load(path, &ids) {
            Ok(e) => e,
            Err(error) => {
                eprintln!("gatehouse-conformance: {error}");
                return ExitCode::from(2);
            }
        },
        None => Expectations::default(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("gatehouse-conformance: cannot start the runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let http = match http::Http::new() {
        Ok(h) => h,
        Err(error) => {
            eprintln!("gatehouse-conformance: {error}");
            return ExitCode::from(2);
        }
    };
    let mut ctx = Context::new(http, args.issuer.clone(), args.resource.clone());
    ctx.other_resource = args.other_resource.clone();
    ctx.expiry_leeway_secs = args.expiry_leeway;
    ctx.max_expiry_wait_secs = args.max_expiry_wait;
    let declared = match declared_clients(&args) {
        Ok(declared) => declared,
        Err(error) => {
            eprintln!("gatehouse-conformance: {error}");
            return ExitCode::from(2);
        }
    };
    let mut report = Report::default();
    runtime.block_on(run(&mut ctx, &mut report, &declared));
    report.complete(&catalogue);
    let summary = report.summarize(&expectations);
    if let Some(path) = &args.report {
        let json = report.to_json(&args.issuer, &args.resource, &expectations);
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        if let Err(error) = std::fs::write(path, text) {
            eprintln!(
                "gatehouse-conformance: cannot write {}: {error}",
                path.display()
            );
            return ExitCode::from(2);
        }
    }
    if summary.unexpected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run(ctx: &mut Context, report: &mut Report, declared: &checks::machine::DeclaredClients) {
    checks::rfc8414::run(ctx, report).await;
    checks::rfc9728::run(ctx, report).await;
    checks::rfc7591::run(ctx, report).await;
    // Started early so that waiting for the token to expire overlaps the other checks.
    let expiry = checks::mcp_2025_11_25::start_expiry(ctx, report).await;
    checks::rfc7592::run(ctx, report).await;
    checks::oauth21_authorize::run(ctx, report).await;
    checks::oauth21_token::run(ctx, report).await;
    checks::rfc8707::run(ctx, report).await;
    checks::rfc9068::run(ctx, report).await;
    checks::rfc9449::run(ctx, report).await;
    checks::refresh::run(ctx, report).await;
    checks::rfc9700::run(ctx, report).await;
    checks::rfc7009::run(ctx, report).await;
    checks::rfc7662::run(ctx, report).await;
    checks::machine::run(ctx, report, declared).await;
    checks::rfc6750::run(ctx, report).await;
    checks::mcp_2025_11_25::run(ctx, report).await;
    checks::mcp_2026_07_28::run(ctx, report).await;
    checks::mcp_2025_11_25::finish_expiry(ctx, report, expiry).await;
}
