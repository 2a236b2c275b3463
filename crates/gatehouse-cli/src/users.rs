//! `gatehouse users add NAME`: a local user for `login.mode = "local"`.

use std::io::BufRead;
use std::path::PathBuf;

use gatehouse_store::{DatabaseUrl, ServerStore, UserRecord, password};

use crate::error::CliError;
use crate::serve::{load_config, runtime};

/// Which database: a configuration file's, or the demo's.
#[derive(Debug, clap::Args)]
pub(crate) struct Target {
    /// The configuration file whose `database` to use.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "gatehouse.toml",
        conflicts_with = "demo"
    )]
    config: PathBuf,
    /// Use the database of `gatehouse serve --demo` in the working directory.
    #[arg(long)]
    demo: bool,
}

impl Target {
    /// The configuration: the file's, or the demo's.
    pub(crate) fn config(&self) -> Result<gatehouse_axum::Config, CliError> {
        if self.demo {
            Ok(gatehouse_axum::Config::demo(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                8080,
            ))))
        } else {
            load_config(&self.config)
        }
    }

    pub(crate) async fn open(&self) -> Result<gatehouse_store::AnyStore, CliError> {
        let database = self.config()?.database;
        let url = DatabaseUrl::parse(&database).map_err(|e| CliError::Usage(e.to_string()))?;
        gatehouse_store::open(&url)
            .await
            .map_err(|e| CliError::Io(e.to_string()))
    }
}

/// Arguments of `gatehouse users add`.
#[derive(Debug, clap::Args)]
pub(crate) struct AddArgs {
    /// The user name (also the `sub` of their tokens).
    name: String,
    #[command(flatten)]
    target: Target,
}

pub(crate) fn add(args: &AddArgs) -> Result<(), CliError> {
    if args.name.is_empty() || args.name.len() > 256 || args.name.chars().any(char::is_control) {
        return Err(CliError::Usage(
            "the user name must be 1 to 256 characters without control characters".into(),
        ));
    }
    // The password comes from standard input (one line), never from the command line, where
    // other users of the machine could read it.
    eprintln!("password for {} (one line on standard input):", args.name);
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Io(format!("cannot read the password: {e}")))?;
    let secret = line.trim_end_matches(['\n', '\r']);
    let hash = password::hash(secret).map_err(|e| CliError::Usage(e.to_string()))?;
    runtime()?.block_on(async {
        let store = args.target.open().await?;
        let user = UserRecord {
            name: args.name.clone(),
            password_hash: hash,
            created_at: crate::time::now_unix(),
        };
        match store.add_user(user).await {
            Ok(()) => {
                println!("added user {}", args.name);
                Ok(())
            }
            Err(gatehouse_engine::store::StoreError::Duplicate) => Err(CliError::Usage(format!(
                "user {} exists already",
                args.name
            ))),
            Err(e) => Err(CliError::Io(e.to_string())),
        }
    })
}

/// `gatehouse keys rotate`.
pub(crate) fn rotate(target: &Target) -> Result<(), CliError> {
    let config = target.config()?;
    let alg = config
        .signing_alg()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    runtime()?.block_on(async {
        let store = target.open().await?;
        let vault =
            gatehouse_axum::open_vault(&config).map_err(|e| CliError::Usage(e.to_string()))?;
        let kid = gatehouse_axum::rotate_now(&store, &vault, alg, crate::time::now_unix())
            .await
            .map_err(|e| CliError::Io(e.to_string()))?;
        println!(
            "new signing key {kid}; the previous keys stay published until their tokens expire"
        );
        Ok(())
    })
}
