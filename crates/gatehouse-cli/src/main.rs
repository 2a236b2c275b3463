//! The `gatehouse` command: the authorization server (`serve`), its users and clients, and token
//! and key tools for operators of OAuth 2.1-protected MCP servers.

mod audit;
mod clients;
mod config;
mod error;
mod input;
mod jws;
mod keyfile;
mod keys;
mod output;
mod resources;
mod serve;
mod time;
mod token;
mod users;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// OAuth 2.1 authorization for MCP servers.
#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    after_help = "Exit status: 0 success; 1 the token is invalid (jws verify) or not decodable \
(token decode), or the resources drifted (resources check); 2 usage error (bad flags, unreadable or malformed files, a configuration \
that cannot start)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the authorization server.
    Serve(serve::ServeArgs),
    /// Manage local users (login.mode = "local").
    #[command(subcommand)]
    Users(UsersCommand),
    /// Inspect and delete registered clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Check a configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Generate signing keys and derive their public JWKs.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Verify signed tokens (JWS) with a JWK or JWK Set.
    #[command(subcommand)]
    Jws(JwsCommand),
    /// Inspect tokens without verifying them.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Read the audit log: security events and MCP tool calls.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Check the protected resources against their MCP servers.
    #[command(subcommand)]
    Resources(ResourcesCommand),
}

#[derive(Debug, Subcommand)]
enum ResourcesCommand {
    /// List each gateway upstream's tools against `tool_scopes`: exit 0 when they agree, 1 on
    /// drift (a tool without a scope where tools are mapped, or a mapping whose tool is gone),
    /// 2 when an upstream cannot be listed.
    Check(resources::CheckArgs),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// List events, newest first: sign-ins, consents, tokens, and every MCP call a resource's
    /// guard decided.
    List(audit::ListArgs),
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add a user; the password is read from standard input and stored as an argon2id hash.
    Add(users::AddArgs),
    /// List the users.
    List(users::ListArgs),
    /// Delete a user: their grants are revoked and their sessions ended, on every running
    /// instance.
    Delete(users::UserArgs),
    /// Change a user's password (read from standard input); their sessions end.
    Passwd(users::UserArgs),
}

#[derive(Debug, Subcommand)]
enum ClientsCommand {
    /// Add a client an operator vets: a resource server that introspects, a machine client, a
    /// first-party app. Prints its id and, for secret methods, its secret (only this once).
    Add(clients::AddArgs),
    /// Change a client added with `clients add`; options not given keep their values.
    Update(clients::UpdateArgs),
    /// List the registered clients.
    List(users::Target),
    /// Show one client's registration.
    Show(clients::ClientArgs),
    /// Delete a client and revoke its grants.
    Delete(clients::ClientArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file without starting: exit 0, or 2 naming the key and why.
    Check(config::CheckArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate a signing key; print it (or write it to --out) as a private JWK.
    #[command(long_about = keys::GENERATE_HELP)]
    Generate(keys::GenerateArgs),
    /// Print the public JWK (or JWK Set) of a key file.
    #[command(long_about = keys::PUBLIC_HELP)]
    Public(keys::PublicArgs),
    /// Rotate the server's signing key now: the new key signs at once, the others stay
    /// published until their tokens expire. Running servers pick it up within a minute.
    Rotate(users::Target),
}

#[derive(Debug, Subcommand)]
enum JwsCommand {
    /// Verify a token's signature and print its payload (not an access-token validation by
    /// itself; see --help).
    #[command(long_about = jws::VERIFY_HELP)]
    Verify(jws::VerifyArgs),
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Show a token's header and claims, UNVERIFIED.
    #[command(long_about = token::DECODE_HELP)]
    Decode(token::DecodeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    error::finish(match &cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Users(UsersCommand::Add(args)) => users::add(args),
        Command::Users(UsersCommand::List(args)) => users::list(args),
        Command::Users(UsersCommand::Delete(args)) => users::delete(args),
        Command::Users(UsersCommand::Passwd(args)) => users::passwd(args),
        Command::Clients(ClientsCommand::Add(args)) => clients::add(args),
        Command::Clients(ClientsCommand::Update(args)) => clients::update(args),
        Command::Clients(ClientsCommand::List(target)) => clients::list(target),
        Command::Clients(ClientsCommand::Show(args)) => clients::show(args),
        Command::Clients(ClientsCommand::Delete(args)) => clients::delete(args),
        Command::Config(ConfigCommand::Check(args)) => config::check(args),
        Command::Keys(KeysCommand::Generate(args)) => keys::generate(args),
        Command::Keys(KeysCommand::Public(args)) => keys::public(args),
        Command::Keys(KeysCommand::Rotate(target)) => users::rotate(target),
        Command::Jws(JwsCommand::Verify(args)) => jws::verify(args),
        Command::Token(TokenCommand::Decode(args)) => token::decode(args),
        Command::Audit(AuditCommand::List(args)) => audit::list(args),
        Command::Resources(ResourcesCommand::Check(args)) => resources::check(args),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definitions_are_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
