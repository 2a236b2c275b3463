//! `gatehouse serve`: the authorization server.

use std::net::SocketAddr;
use std::path::PathBuf;

use base64ct::Encoding;
use gatehouse_axum::config::LogFormat;
use gatehouse_axum::{Config, Gatehouse};
use gatehouse_store::{ServerStore, UserRecord, password};

use crate::error::CliError;

/// Arguments of `gatehouse serve`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["config", "demo"])))]
pub(crate) struct ServeArgs {
    /// The configuration file (TOML; see the configuration contract in the README).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Zero-configuration quickstart: a SQLite file `gatehouse-demo.db` in the working
    /// directory, local sign-in with a demo user whose password is printed once, and the
    /// demo MCP server at `/mcp` behind the guard, with scopes `mcp:tools` and `mcp:admin`
    /// (`admin_reset` needs `mcp:admin`).
    #[arg(long)]
    demo: bool,
    /// With --demo: the address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        requires = "demo"
    )]
    listen: SocketAddr,
}

/// Reads and checks the configuration file.
pub(crate) fn load_config(path: &std::path::Path) -> Result<Config, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    Config::from_toml(&text).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

/// How long a stopping server waits for its last audit records to be stored.
const AUDIT_FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A multi-threaded runtime for the commands that talk to the store or the network.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Io(format!("cannot start the async runtime: {e}")))
}

pub(crate) fn serve(args: &ServeArgs) -> Result<(), CliError> {
    let config = match &args.config {
        Some(path) => load_config(path)?,
        None => Config::demo(args.listen),
    };
    init_logging(&config.log);
    runtime()?.block_on(run(config, args.demo))
}

/// Log lines on standard error as `[log]` says: text (colour only on a terminal: a log file
/// gets no escape codes) or one JSON object a line; `RUST_LOG` overrides the level. Every line
/// a request causes carries the request's id (the `request` span).
fn init_logging(log: &gatehouse_axum::config::Log) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        _ => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

async fn run(config: Config, demo: bool) -> Result<(), CliError> {
    // Before anything answers: a SIGTERM that arrives as soon as the server does must stop it
    // gracefully, not kill it.
    let shutdown = shutdown_signal();
    let address = config.listen;
    // Bind first: a port in use is the most common start-up error, and it should not leave a
    // half-initialised database behind.
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {address}: {e}")))?;
    // The recorder goes in before the server is built, so that nothing it records is lost.
    let metrics = match &config.metrics.listen {
        Some(listen) => {
            let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
                CliError::Usage(format!("cannot listen on {listen} (metrics.listen): {e}"))
            })?;
            let handle = gatehouse_axum::metrics::install()
                .map_err(|e| CliError::Io(format!("metrics: {e}")))?;
            Some((listener, handle))
        }
        None => None,
    };
    let gatehouse = Gatehouse::start(config)
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?;
    if demo {
        demo_user(&gatehouse).await?;
    }
    let config = gatehouse.config();
    println!("Gatehouse is listening on http://{address}");
    println!("  issuer:    {}", config.issuer);
    println!(
        "  metadata:  {}/.well-known/oauth-authorization-server",
        config.issuer.trim_end_matches('/')
    );
    for resource in &config.resources {
        let served = match (&resource.upstream, &resource.builtin) {
            (Some(upstream), _) => format!("   (guarded gateway to {upstream})"),
            (None, Some(builtin)) => format!("   (guarded, built-in {builtin} MCP server)"),
            (None, None) => String::new(),
        };
        println!("  resource:  {}{served}", resource.resource);
    }
    let metrics = metrics.map(|(listener, handle)| {
        if let Ok(address) = listener.local_addr() {
            println!("  metrics:   http://{address}/metrics");
        }
        let http = gatehouse.config().http.clone();
        tokio::spawn(async move {
            let router = gatehouse_axum::metrics::router(handle);
            if let Err(error) =
                gatehouse_axum::serve(listener, router, &http, std::future::pending()).await
            {
                tracing::warn!(%error, "the metrics listener stopped");
            }
        })
    });
    let served = gatehouse_axum::serve(
        listener,
        gatehouse.router(),
        &gatehouse.config().http,
        shutdown,
    )
    .await;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    // The audit of the last requests may still be queued for its background writer; a store
    // that no longer answers must not keep the process from ending.
    if tokio::time::timeout(AUDIT_FLUSH_WAIT, gatehouse.flush_audit())
        .await
        .is_err()
    {
        tracing::warn!("the last audit records could not be stored before the server stopped");
    }
    served.map_err(|e| CliError::Io(format!("the server stopped: {e}")))?;
    println!("Gatehouse stopped.");
    Ok(())
}

/// The demo user `demo`: created on the first start with a random password printed once.
async fn demo_user(gatehouse: &Gatehouse) -> Result<(), CliError> {
    let store = gatehouse.store();
    let existing = store
        .user("demo")
        .await
        .map_err(|e| CliError::Io(e.to_string()))?;
    if existing.is_some() {
        println!(
            "Demo user: demo (its password was printed when it was created; `gatehouse users add` makes another)"
        );
        return Ok(());
    }
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|e| CliError::Io(e.to_string()))?;
    let secret = base64ct::Base64UrlUnpadded::encode_string(&bytes);
    let hash = password::hash(&secret).map_err(|e| CliError::Io(e.to_string()))?;
    store
        .add_user(UserRecord {
            name: "demo".into(),
            password_hash: hash,
            created_at: gatehouse_axum::now(),
        })
        .await
        .map_err(|e| CliError::Io(e.to_string()))?;
    println!(
        "Demo user: demo   password: {secret}   (shown once; it is stored only as an argon2id hash)"
    );
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, finish the requests in flight, exit.
///
/// The handlers are installed when this is called, not when the future is first polled: the
/// server polls it only between accepts, and a signal that came before would have had its
/// default action, ending the process with no graceful stop (seen once in CI, as a restarted
/// server's SIGTERM right after its first answer).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::terminate()).and_then(|terminate| {
            signal(SignalKind::interrupt()).map(|interrupt| (terminate, interrupt))
        })
    };
    async move {
        #[cfg(unix)]
        if let Ok((mut terminate, mut interrupt)) = signals {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
