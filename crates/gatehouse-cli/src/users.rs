//! `gatehouse users add | list | delete | passwd`: the local users of `login.mode = "local"`.

use std::io::BufRead;
use std::path::PathBuf;

use gatehouse_store::{ServerStore, UserRecord, password};

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
        gatehouse_store::open(&self.config()?.database)
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

/// The password for `name`, from one line of standard input (never from the command line,
/// where other users of the machine could read it), as an argon2id hash.
fn password_from_stdin(name: &str) -> Result<String, CliError> {
    eprintln!("password for {name} (one line on standard input):");
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Io(format!("cannot read the password: {e}")))?;
    let secret = line.trim_end_matches(['\n', '\r']);
    password::hash(secret).map_err(|e| CliError::Usage(e.to_string()))
}

pub(crate) fn add(args: &AddArgs) -> Result<(), CliError> {
    if args.name.is_empty() || args.name.len() > 256 || args.name.chars().any(char::is_control) {
        return Err(CliError::Usage(
            "the user name must be 1 to 256 characters without control characters".into(),
        ));
    }
    let hash = password_from_stdin(&args.name)?;
    runtime()?.block_on(async {
        let store = args.target.open().await?;
        let user = UserRecord {
            name: args.name.clone(),
            password_hash: hash,
            created_at: gatehouse_axum::now(),
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

/// Arguments of `gatehouse users list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// One JSON object a line: name, created_at, failed_sign_ins.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

/// `gatehouse users list`: every local user, by name.
pub(crate) fn list(args: &ListArgs) -> Result<(), CliError> {
    runtime()?.block_on(async {
        let store = args.target.open().await?;
        let users = store
            .users()
            .await
            .map_err(|e| CliError::Io(e.to_string()))?;
        for user in &users {
            let failures = store
                .sign_in_failures(&user.name)
                .await
                .map_err(|e| CliError::Io(e.to_string()))?
                .unwrap_or_default();
            let created = i64::try_from(user.created_at.as_secs()).unwrap_or(i64::MAX);
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "name": user.name,
                        "created_at": crate::time::utc(created),
                        "failed_sign_ins": failures.count,
                    })
                );
            } else {
                println!(
                    "{}\tadded {}\t{} failed sign-in(s) in a row",
                    user.name,
                    crate::time::utc(created),
                    failures.count
                );
            }
        }
        eprintln!("{} user(s)", users.len());
        Ok(())
    })
}

/// Arguments naming one user.
#[derive(Debug, clap::Args)]
pub(crate) struct UserArgs {
    /// The user name.
    name: String,
    #[command(flatten)]
    target: Target,
}

/// `gatehouse users delete NAME`: the user, their grants (refresh tokens and access tokens,
/// refused by every running instance within seconds) and their sessions.
pub(crate) fn delete(args: &UserArgs) -> Result<(), CliError> {
    runtime()?.block_on(async {
        let store = args.target.open().await?;
        let io = |e: gatehouse_engine::store::StoreError| CliError::Io(e.to_string());
        // A person an identity provider vouched for (`corp:…`) has no local user, but their
        // grants, sessions and kept tokens end the same way.
        let federated = store.identity(&args.name).await.map_err(io)?;
        if store.delete_user(&args.name).await.map_err(io)? {
            println!(
                "deleted user {}; their grants are revoked and their sessions ended",
                args.name
            );
            Ok(())
        } else if let Some(identity) = federated {
            store
                .replace_identity_tokens(&args.name, identity.version, None, gatehouse_axum::now())
                .await
                .map_err(io)?;
            println!(
                "{}: their grants are revoked, their sessions ended and the identity provider's tokens dropped; they can sign in again while the provider admits them",
                args.name
            );
            Ok(())
        } else {
            Err(CliError::Usage(format!("no user {}", args.name)))
        }
    })
}

/// `gatehouse users passwd NAME`: a new password (from standard input); the user's sessions end.
pub(crate) fn passwd(args: &UserArgs) -> Result<(), CliError> {
    runtime()?.block_on(async {
        let store = args.target.open().await?;
        if store
            .user(&args.name)
            .await
            .map_err(|e| CliError::Io(e.to_string()))?
            .is_none()
        {
            return Err(CliError::Usage(format!("no user {}", args.name)));
        }
        let hash = password_from_stdin(&args.name)?;
        if store
            .set_password(&args.name, hash)
            .await
            .map_err(|e| CliError::Io(e.to_string()))?
        {
            println!(
                "changed the password of {}; their sessions are ended",
                args.name
            );
            Ok(())
        } else {
            Err(CliError::Usage(format!("no user {}", args.name)))
        }
    })
}

/// `gatehouse keys rotate`.
pub(crate) fn rotate(target: &Target) -> Result<(), CliError> {
    let config = target.config()?;
    let alg = config.tokens.signing_alg;
    runtime()?.block_on(async {
        let store = target.open().await?;
        let vault =
            gatehouse_axum::open_vault(&config).map_err(|e| CliError::Usage(e.to_string()))?;
        let kid = gatehouse_axum::rotate_now(&store, &vault, alg, gatehouse_axum::now())
            .await
            .map_err(|e| CliError::Io(e.to_string()))?;
        println!(
            "new signing key {kid}; the previous keys stay published until their tokens expire"
        );
        Ok(())
    })
}
