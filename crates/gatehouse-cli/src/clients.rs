//! `gatehouse clients add NAME | update ID | list | show ID | delete ID`.

use gatehouse_engine::Store as _;
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

/// What `clients add` and `clients update` may set: the keys of `[[clients]]`, as options.
#[derive(Debug, clap::Args)]
pub(crate) struct Settings {
    /// How it authenticates at the token endpoint: client_secret_basic (the default for a new
    /// client), client_secret_post, private_key_jwt (with --jwks-uri), or none (a public
    /// client).
    #[arg(long = "auth", value_name = "METHOD")]
    auth: Option<String>,
    /// For private_key_jwt: the https URL of the client's JWK Set.
    #[arg(long = "jwks-uri", value_name = "URL")]
    jwks_uri: Option<String>,
    /// A redirect URI (repeat for several); needed with the authorization_code grant.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// A grant it may use: authorization_code, refresh_token, client_credentials (repeat for
    /// several). A new client without any gets authorization_code and refresh_token when it has
    /// a redirect URI, and none otherwise (a resource server that only introspects).
    #[arg(long = "grant", value_name = "GRANT")]
    grants: Vec<String>,
    /// A scope it may be granted, at most (repeat, or give several separated by spaces).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// A resource of this server whose tokens it may introspect (RFC 7662 §4; repeat for
    /// several).
    #[arg(long = "introspect", value_name = "RESOURCE")]
    introspect: Vec<String>,
    /// Whether every token request of the client must carry a DPoP proof, so that all its tokens
    /// are bound to its key (RFC 9449 §5.2, `dpop_bound_access_tokens`).
    #[arg(long = "dpop", value_name = "BOOL")]
    dpop: Option<bool>,
    /// Print one JSON object (with client_secret when a new secret was drawn).
    #[arg(long)]
    json: bool,
}

/// Arguments of `gatehouse clients add`.
#[derive(Debug, clap::Args)]
pub(crate) struct AddArgs {
    /// The client's name, shown on the consent page.
    name: String,
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    target: Target,
}

/// Arguments of `gatehouse clients update`.
#[derive(Debug, clap::Args)]
pub(crate) struct UpdateArgs {
    /// The client id.
    id: String,
    /// A new name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Draw a new secret (shown once); the old one stops working at once.
    #[arg(long)]
    rotate_secret: bool,
    /// A list option given replaces the whole list; `--introspect=` (empty) clears it.
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    target: Target,
}

/// Names a field of `[[clients]]` as the option that sets it, for error messages.
fn option_for(field: &str) -> String {
    match field {
        "client_id" => "the client id",
        "client_name" => "NAME",
        "token_endpoint_auth_method" => "--auth",
        "redirect_uris" => "--redirect-uri",
        "grant_types" => "--grant",
        "scope" => "--scope",
        "introspection_resources" => "--introspect",
        "dpop_bound_access_tokens" => "--dpop",
        "jwks_uri" | "jwks" => "--jwks-uri",
        other => other,
    }
    .to_owned()
}

/// A list option: `None` when not given, the values (empty ones dropped) when given.
fn given(values: &[String]) -> Option<Vec<String>> {
    (!values.is_empty()).then(|| values.iter().filter(|v| !v.is_empty()).cloned().collect())
}

impl Settings {
    /// `entry` with the options given applied.
    fn apply(&self, entry: &mut gatehouse_axum::config::DeclaredClient) {
        if let Some(auth) = &self.auth {
            entry.token_endpoint_auth_method = auth.clone();
            if auth != "private_key_jwt" {
                entry.jwks = None;
                entry.jwks_uri = None;
            }
        }
        if let Some(uri) = &self.jwks_uri {
            entry.jwks_uri = Some(uri.clone());
            entry.jwks = None;
        }
        if let Some(uris) = given(&self.redirect_uris) {
            entry.redirect_uris = uris;
        }
        if let Some(grants) = given(&self.grants) {
            entry.grant_types = grants;
        }
        if let Some(scopes) = given(&self.scopes) {
            entry.scope = (!scopes.is_empty()).then(|| scopes.join(" "));
        }
        if let Some(resources) = given(&self.introspect) {
            entry.introspection_resources = resources;
        }
        if let Some(dpop) = self.dpop {
            entry.dpop_bound_access_tokens = dpop;
        }
    }
}

/// Prints a client just added or changed, with its new secret if one was drawn: the only time
/// anyone sees it.
fn print_client(
    client: &gatehouse_engine::store::ClientRecord,
    secret: Option<&gatehouse_types::SecretString>,
    json: bool,
) {
    if json {
        let mut object = match serde_json::to_value(client.metadata.to_metadata()) {
            Ok(serde_json::Value::Object(members)) => members,
            _ => serde_json::Map::new(),
        };
        object.insert("client_id".into(), client.client_id.as_str().into());
        if let Some(secret) = secret {
            object.insert("client_secret".into(), secret.expose_secret().into());
        }
        object.insert(
            "introspection_resources".into(),
            client
                .introspection_resources
                .iter()
                .map(ToString::to_string)
                .collect(),
        );
        let object = serde_json::Value::Object(object);
        println!("{object}");
        return;
    }
    println!("client_id: {}", client.client_id);
    if let Some(secret) = secret {
        println!("client_secret: {}", secret.expose_secret());
        eprintln!("the secret is shown only now: Gatehouse keeps only its hash");
    }
    println!("{}", client.metadata.to_metadata().to_json());
}

fn io(error: impl std::fmt::Display) -> CliError {
    CliError::Io(error.to_string())
}

fn usage(error: impl std::fmt::Display) -> CliError {
    CliError::Usage(error.to_string())
}

pub(crate) fn add(args: &AddArgs) -> Result<(), CliError> {
    let config = args.target.config()?;
    let mut entry: gatehouse_axum::config::DeclaredClient = serde_json::from_value(
        serde_json::json!({"client_id": gatehouse_axum::new_client_id(), "client_name": args.name}),
    )
    .map_err(usage)?;
    entry.grant_types = if args.settings.redirect_uris.is_empty() {
        Vec::new()
    } else {
        entry.grant_types
    };
    args.settings.apply(&mut entry);
    let now = gatehouse_axum::now();
    let (client, secret) =
        gatehouse_axum::provision(&config, &entry, &option_for, None, now).map_err(usage)?;
    runtime()?.block_on(async {
        let store = args.target.open().await?;
        store.insert_client(client.clone()).await.map_err(io)?;
        print_client(&client, secret.as_ref(), args.settings.json);
        Ok(())
    })
}

pub(crate) fn update(args: &UpdateArgs) -> Result<(), CliError> {
    let id = ClientId::new(args.id.as_str()).map_err(usage)?;
    let config = args.target.config()?;
    runtime()?.block_on(async {
        let store = args.target.open().await?;
        let current = store
            .client(&id)
            .await
            .map_err(io)?
            .ok_or_else(|| usage(format!("no client {id}")))?;
        let declared = store.declared_clients().await.map_err(io)?;
        match Origin::of(&current, &declared, &config) {
            Origin::Provisioned => {}
            Origin::SelfRegistered => {
                return Err(usage(format!(
                    "{id} registered itself and changes its registration itself (RFC 7592); delete it instead"
                )));
            }
            Origin::Declared | Origin::NoLongerDeclared => {
                return Err(usage(format!(
                    "{id} is declared in the configuration's [[clients]]: change it there"
                )));
            }
        }
        let mut entry = gatehouse_axum::entry_of(&current);
        if let Some(name) = &args.name {
            entry.client_name = Some(name.clone());
        }
        args.settings.apply(&mut entry);
        let keep = (!args.rotate_secret)
            .then_some(current.secret_hash)
            .flatten();
        let (mut client, secret) =
            gatehouse_axum::provision(&config, &entry, &option_for, keep, gatehouse_axum::now())
                .map_err(usage)?;
        client.issued_at = current.issued_at;
        if !store.replace_client(client.clone()).await.map_err(io)? {
            return Err(usage(format!("no client {id}")));
        }
        print_client(&client, secret.as_ref(), args.settings.json);
        Ok(())
    })
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
    let kind = if *client.metadata.token_endpoint_auth_method()
        != gatehouse_types::TokenEndpointAuthMethod::None
    {
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
