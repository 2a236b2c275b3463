//! The `gatehouse` command: token and key tools for operators of OAuth 2.1-protected MCP
//! servers. The authorization server itself (`gatehouse serve`) and the `users` and `clients`
//! commands arrive later.

mod error;
mod input;
mod jws;
mod keyfile;
mod keys;
mod output;
mod time;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// OAuth 2.1 authorization for MCP servers: key and token tools.
#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    after_help = "Exit status: 0 success; 1 the token is invalid (jws verify) or not decodable \
(token decode); 2 usage error (bad flags, unreadable or malformed files).\n\n\
Coming later: `serve` (the authorization server), `users` and `clients`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate signing keys and derive their public JWKs.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Verify signed tokens (JWS) with a JWK or JWK Set.
    #[command(subcommand)]
    Jws(JwsCommand),
    /// Inspect tokens without verifying them.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate a signing key; print it (or write it to --out) as a private JWK.
    #[command(long_about = keys::GENERATE_HELP)]
    Generate(keys::GenerateArgs),
    /// Print the public JWK (or JWK Set) of a key file.
    #[command(long_about = keys::PUBLIC_HELP)]
    Public(keys::PublicArgs),
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
        Command::Keys(KeysCommand::Generate(args)) => keys::generate(args),
        Command::Keys(KeysCommand::Public(args)) => keys::public(args),
        Command::Jws(JwsCommand::Verify(args)) => jws::verify(args),
        Command::Token(TokenCommand::Decode(args)) => token::decode(args),
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
