//! `gatehouse jws verify`: check a token's signature with a key file, and optionally check it as
//! an RFC 9068 access token.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use clap::Args;
use gatehouse_jose::{
    AccessTokenValidator, Algorithm, DEFAULT_LEEWAY_SECS, JwsError, JwtError, KeySet, jws,
};
use serde_json::Value;

use crate::error::CliError;
use crate::keyfile::{KeyFile, RsaAlg};
use crate::output::{self, Json};
use crate::{input, time, token};

/// The long help of `gatehouse jws verify`.
pub(crate) const VERIFY_HELP: &str = "Verify a compact JWS (a JWT) with the keys of FILE and print its payload.\n\n\
FILE is a JWK or a JWK Set, public or private (a private key's public half is used). The key \
decides the algorithm: the token's \"alg\" must be the key's (RFC 8725 §3.1); \"none\" and HMAC \
are never accepted. With a \"kid\" the token is checked against that key only.\n\n\
This checks the signature and the JWS structure ONLY. It is not an RFC 9068 access-token \
validation: expiry, issuer, audience and \"typ\" are not looked at unless --issuer and \
--audience are given, which add the checks a resource server makes.\n\n\
Exit status: 0 valid (payload on standard output, pretty-printed if it is JSON), 1 invalid \
(the reason on standard error), 2 usage error (bad flags, unreadable or malformed key file).";

/// `gatehouse jws verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The key file: a JWK or a JWK Set (JSON), public or private.
    #[arg(long, value_name = "FILE")]
    jwk: PathBuf,
    /// The token, or `-` to read it from standard input.
    #[arg(value_name = "TOKEN")]
    token: String,
    /// Algorithm of RSA keys whose JWK has no "alg" (RS256 and PS256 share key types, and the
    /// token's header is not trusted to say).
    #[arg(long, value_enum, ignore_case = true)]
    alg: Option<RsaAlg>,
    /// Also validate as an RFC 9068 access token from this issuer (exact string); needs
    /// --audience.
    #[arg(long, value_name = "ISSUER", requires = "audience")]
    issuer: Option<String>,
    /// The resource the access token must be for (its "aud"); needs --issuer.
    #[arg(long, value_name = "RESOURCE", requires = "issuer")]
    audience: Option<String>,
    /// With --issuer: the time to check "exp", "nbf" and "iat" against, in seconds since the
    /// epoch [default: now].
    #[arg(long, value_name = "UNIX_SECONDS", requires = "issuer")]
    now: Option<u64>,
    /// With --issuer: clock skew allowed on "exp", "nbf" and "iat", in seconds.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_LEEWAY_SECS)]
    leeway: u64,
}

/// Verifies the token and prints its payload.
pub(crate) fn verify(args: &VerifyArgs) -> Result<(), CliError> {
    if args.jwk == Path::new("-") && args.token == "-" {
        return Err(CliError::Usage(
            "the key file and the token cannot both come from standard input".to_owned(),
        ));
    }
    let file = KeyFile::read(&args.jwk, args.alg)?;
    let keys = file.key_set()?;
    let token = input::token(&args.token)?;
    let unverified = jws::parse(&token).map_err(|e| malformed(&e, &token))?;
    let context = Context {
        kid: unverified.header().kid().map(str::to_owned),
        alg: unverified.header().alg(),
        keys: &keys,
        file: &file,
    };
    let (Some(issuer), Some(audience)) = (&args.issuer, &args.audience) else {
        let verified = unverified
            .verify_with(&keys)
            .map_err(|e| context.refusal(&e))?;
        print_payload(verified.payload())?;
        eprintln!(
            "valid: signature verified ({}); claims NOT checked (add --issuer and --audience \
             for an RFC 9068 access-token check)",
            context.key_used()
        );
        return Ok(());
    };
    let now = input::now(args.now)?;
    let validator = AccessTokenValidator::new(issuer, audience).with_leeway(args.leeway);
    match validator.validate(&token, &keys, now) {
        Ok(access) => {
            // Serialized from the typed claims: RFC 9068 members first, in the RFC's order.
            let claims = serde_json::to_string_pretty(access.claims())
                .map_err(|e| CliError::Io(format!("cannot serialize the claims: {e}")))?;
            output::stdout(format!("{claims}\n").as_bytes())?;
            let exp = access.claims().exp;
            let expiry = if exp > now {
                format!("expires in {}", time::span(exp - now))
            } else {
                format!(
                    "expired {} ago, accepted within the {} s leeway",
                    time::span(now - exp),
                    args.leeway
                )
            };
            eprintln!(
                "valid: RFC 9068 access token, signature verified ({}), {expiry}",
                context.key_used()
            );
            Ok(())
        }
        Err(JwtError::Jws(error)) => Err(context.refusal(&error)),
        Err(error) => {
            let expected = Expected {
                issuer,
                audience,
                leeway: args.leeway,
            };
            Err(claims_refusal(&error, &token, &expected, now))
        }
    }
}

/// What the user asked the access token to be, for messages.
struct Expected<'a> {
    issuer: &'a str,
    audience: &'a str,
    leeway: u64,
}

/// A token that did not even parse.
fn malformed(error: &JwsError, token: &str) -> CliError {
    CliError::Invalid {
        message: format!("invalid: {error}"),
        hints: token::shape_hint(token).into_iter().collect(),
    }
}

/// What is needed to explain a refusal.
struct Context<'a> {
    kid: Option<String>,
    alg: Algorithm,
    keys: &'a KeySet,
    file: &'a KeyFile,
}

impl Context<'_> {
    /// `key abc, ES256` or `ES256, token has no kid`.
    fn key_used(&self) -> String {
        match &self.kid {
            Some(kid) => format!("key {}, {}", output::kid(kid), self.alg),
            None => format!("{}, token has no kid", self.alg),
        }
    }

    /// The key file's keys as `abc (ES256), def (EdDSA)`.
    fn listing(&self) -> String {
        let keys: Vec<String> = self
            .keys
            .keys()
            .iter()
            .map(|key| match key.kid() {
                Some(kid) => format!("{} ({})", output::kid(kid), key.algorithm()),
                None => format!("no kid ({})", key.algorithm()),
            })
            .collect();
        keys.join(", ")
    }

    /// The message for a token whose signature check failed. Kids and algorithms are public and
    /// are what an operator needs to find the right key; no key material is printed.
    fn refusal(&self, error: &JwsError) -> CliError {
        let message = match (error, &self.kid) {
            (JwsError::NoMatchingKey, Some(kid)) => format!(
                "invalid: no key matches the token (kid {}; the key file has kids: {})",
                output::quoted(kid),
                self.listing()
            ),
            (JwsError::NoMatchingKey, None) => format!(
                "invalid: no key matches the token (it has no kid and alg {}; the key file has \
                 kids: {})",
                self.alg,
                self.listing()
            ),
            (JwsError::AlgorithmMismatch, kid) => format!(
                "invalid: the token's alg {} is not the algorithm of its key{} (RFC 8725 §3.1: \
                 the key decides the algorithm; the key file has kids: {})",
                self.alg,
                kid.as_deref()
                    .map(|kid| format!(" {}", output::quoted(kid)))
                    .unwrap_or_default(),
                self.listing()
            ),
            (other, _) => format!("invalid: {other}"),
        };
        let hints = match error {
            JwsError::NoMatchingKey | JwsError::AlgorithmMismatch => self
                .file
                .unusable()
                .map(|reason| format!("ignored {reason}"))
                .collect(),
            _ => Vec::new(),
        };
        CliError::Invalid { message, hints }
    }
}

/// The message for a signed token whose claims are not those of an acceptable access token.
/// Except for `typ`, these checks run after the signature verified, so quoting the claims is
/// quoting what the issuer signed.
fn claims_refusal(error: &JwtError, token: &str, expected: &Expected<'_>, now: u64) -> CliError {
    let (header, claims) = match jws::dangerous_decode_unverified(token) {
        Ok((header, payload)) => match output::parse_json(&payload) {
            Json::Unique(Value::Object(claims)) => (header, claims),
            _ => (header, serde_json::Map::new()),
        },
        Err(_) => (serde_json::Map::new(), serde_json::Map::new()),
    };
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let at = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_i64)
            .map(|t| format!("{name} is {} ({})", time::utc(t), time::relative(t, now)))
    };
    let shown = |value: Option<&Value>| value.map_or_else(|| "missing".to_owned(), output::snippet);
    let hint = match error {
        JwtError::WrongType => Some(format!(
            "the token's typ is {}; RFC 9068 access tokens have typ \"at+jwt\"",
            shown(header.get("typ"))
        )),
        JwtError::WrongIssuer => Some(format!(
            "the token's iss is {}; expected {}",
            shown(claims.get("iss")),
            output::quoted(expected.issuer)
        )),
        JwtError::WrongAudience => Some(format!(
            "the token's aud is {}; expected it to include {}",
            shown(claims.get("aud")),
            output::quoted(expected.audience)
        )),
        JwtError::Expired => at("exp").map(|t| format!("{t}; leeway {} s", expected.leeway)),
        JwtError::NotYetValid => at("nbf").map(|t| format!("{t}; leeway {} s", expected.leeway)),
        JwtError::IssuedInFuture => at("iat").map(|t| format!("{t}; leeway {} s", expected.leeway)),
        _ => None,
    };
    CliError::Invalid {
        message: format!("invalid: {error}"),
        hints: hint.into_iter().collect(),
    }
}

/// Prints a verified payload: pretty JSON when it is JSON, else the bytes as they are.
fn print_payload(payload: &[u8]) -> Result<(), CliError> {
    match output::parse_json(payload) {
        Json::Unique(value) => output::stdout(output::pretty(&value).as_bytes()),
        Json::Duplicate { member, .. } => {
            // Pretty-printing would silently drop one of the values; show what was signed.
            eprintln!(
                "warning: the payload repeats the member {}; it is printed as signed, and \
                 gatehouse refuses such claims in access tokens",
                output::quoted(&member)
            );
            print_raw(payload)
        }
        Json::Invalid => print_raw(payload),
    }
}

/// The bytes exactly, plus a newline on a terminal so the prompt does not run into them.
fn print_raw(payload: &[u8]) -> Result<(), CliError> {
    output::stdout(payload)?;
    if std::io::stdout().is_terminal() && !payload.ends_with(b"\n") {
        output::stdout(b"\n")?;
    }
    Ok(())
}
