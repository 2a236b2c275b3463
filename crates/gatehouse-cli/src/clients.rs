//! `gatehouse clients list | show ID | delete ID`.

use gatehouse_store::ServerStore;
use gatehouse_types::ClientId;

use crate::error::CliError;
use crate::serve::runtime;
use crate::users::Target;

/// Arguments naming one client.
#[derive(Debug, clap::Args)]
pub(crate) struct ClientArgs {
    /// The client id.
    id: String,
    #[command(flatten)]
    target: Target,
}

/// Where a client came from, as `clients list` says it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Registered itself (RFC 7591).
    SelfRegistered,
    /// Declared in the configuration's `[[clients]]`.
    Declared,
    /// Declared once, but no longer in the configuration: kept until deleted.
    NoLongerDeclared,
    /// Added by an operator otherwise.
    Provisioned,
}

impl Origin {
    fn of(
        client: &gatehouse_engine::store::ClientRecord,
        declared: &[ClientId],
        config: &gatehouse_axum::Config,
    ) -> Self {
        if client.is_dynamically_registered() {
            Self::SelfRegistered
        } else if !declared.contains(&client.client_id) {
            Self::Provisioned
        } else if config
            .clients
            .iter()
            .any(|entry| entry.client_id == client.client_id.as_str())
        {
            Self::Declared
        } else {
            Self::NoLongerDeclared
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::SelfRegistered => "self-registered",
            Self::Declared => "declared",
            Self::NoLongerDeclared => "declared (no longer in the configuration)",
            Self::Provisioned => "provisioned",
        }
    }
}

fn describe(client: &gatehouse_engine::store::ClientRecord, origin: Origin) -> String {
    let kind = if client.secret_hash.is_some() {
        "confidential"
    } else {
        "public"
    };
    let origin = origin.as_str();
    format!(
        "{}\t{}\t{kind}\t{origin}\tregistered {}",
        client.client_id,
        client.metadata.client_name().unwrap_or("-"),
        crate::time::utc(i64::try_from(client.issued_at.as_secs()).unwrap_or(i64::MAX)),
    )
}

pub(crate) fn list(target: &Target) -> Result<(), CliError> {
    let config = target.config()?;
    runtime()?.block_on(async {
        let store = target.open().await?;
        let clients = store
            .clients()
            .await
            .map_err(|e| CliError::Io(e.to_string()))?;
        let declared = store
            .declared_clients()
            .await
            .map_err(|e| CliError::Io(e.to_string()))?;
        for client in &clients {
            println!(
                "{}",
                describe(client, Origin::of(client, &declared, &config))
            );
        }
        eprintln!("{} client(s)", clients.len());
        Ok(())
    })
}

pub(crate) fn show(args: &ClientArgs) -> Result<(), CliError> {
    let id = ClientId::new(args.id.as_str()).map_err(|e| CliError::Usage(e.to_string()))?;
    let config = args.target.config()?;
    runtime()?.block_on(async {
        let store = args.target.open().await?;
        let declared = store
            .declared_clients()
            .await
            .map_err(|e| CliError::Io(e.to_string()))?;
        match store
            .client(&id)
            .await
            .map_err(|e| CliError::Io(e.to_string()))?
        {
            Some(client) => {
                println!(
                    "{}",
                    describe(&client, Origin::of(&client, &declared, &config))
                );
                println!("{}", client.metadata.to_metadata().to_json());
                Ok(())
            }
            None => Err(CliError::Usage(format!("no client {id}"))),
        }
    })
}

pub(crate) fn delete(args: &ClientArgs) -> Result<(), CliError> {
    let id = ClientId::new(args.id.as_str()).map_err(|e| CliError::Usage(e.to_string()))?;
    runtime()?.block_on(async {
        let store = args.target.open().await?;
        if store
            .delete_client(&id)
            .await
            .map_err(|e| CliError::Io(e.to_string()))?
        {
            println!("deleted client {id}; its grants are revoked");
            Ok(())
        } else {
            Err(CliError::Usage(format!("no client {id}")))
        }
    })
}
