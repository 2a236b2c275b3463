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

fn describe(client: &gatehouse_engine::store::ClientRecord) -> String {
    let kind = if client.secret_hash.is_some() {
        "confidential"
    } else {
        "public"
    };
    let origin = if client.is_dynamically_registered() {
        "self-registered"
    } else {
        "provisioned"
    };
    format!(
        "{}\t{}\t{kind}\t{origin}\tregistered {}",
        client.client_id,
        client.metadata.client_name().unwrap_or("-"),
        crate::time::utc(i64::try_from(client.issued_at.as_secs()).unwrap_or(i64::MAX)),
    )
}

pub(crate) fn list(target: &Target) -> Result<(), CliError> {
    runtime()?.block_on(async {
        let store = target.open().await?;
        let clients = store
            .clients()
            .await
            .map_err(|e| CliError::Io(e.to_string()))?;
        for client in &clients {
            println!("{}", describe(client));
        }
        eprintln!("{} client(s)", clients.len());
        Ok(())
    })
}

pub(crate) fn show(args: &ClientArgs) -> Result<(), CliError> {
    let id = ClientId::new(args.id.as_str()).map_err(|e| CliError::Usage(e.to_string()))?;
    runtime()?.block_on(async {
        let store = args.target.open().await?;
        match store
            .client(&id)
            .await
            .map_err(|e| CliError::Io(e.to_string()))?
        {
            Some(client) => {
                println!("{}", describe(&client));
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
