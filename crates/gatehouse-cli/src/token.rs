//! `gatehouse token decode`: show a token's header and claims WITHOUT verifying it, for people
//! debugging, with the times spelled out.

use clap::Args;
use gatehouse_jose::{ACCESS_TOKEN_TYPE, Algorithm, jws};
use serde_json::{Map, Value};

use crate::error::CliError;
use crate::output::{self, Json};
use crate::{input, time};

/// The label printed before any decoded content, so that nobody mistakes it for a verified token.
pub(crate) const UNVERIFIED: &str = "UNVERIFIED — signature not checked";

/// The long help of `gatehouse token decode`.
pub(crate) const DECODE_HELP: &str = "Decode a JWT WITHOUT verifying its signature and print {\"header\": …, \
\"payload\": …} as JSON on standard output. Standard error starts with the line \"UNVERIFIED — \
signature not checked\" and then explains the algorithm, the type and the times (exp, iat, nbf \
as UTC dates and relative to now).\n\n\
Nothing shown here can be trusted: anyone can write any claims into a token. Use `gatehouse jws \
verify` to check the signature.\n\n\
Exit status: 0 decoded, 1 not a decodable JWS, 2 usage error.";

/// `gatehouse token decode`.
#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// The token, or `-` to read it from standard input.
    #[arg(value_name = "TOKEN")]
    token: String,
    /// The time to show the token's times relative to, in seconds since the epoch
    /// [default: now].
    #[arg(long, value_name = "UNIX_SECONDS")]
    now: Option<u64>,
}

/// Decodes and prints the token.
pub(crate) fn decode(args: &DecodeArgs) -> Result<(), CliError> {
    let token = input::token(&args.token)?;
    let (header, payload) =
        jws::dangerous_decode_unverified(&token).map_err(|e| CliError::Invalid {
            message: format!("not decodable: {e}"),
            hints: shape_hint(&token).into_iter().collect(),
        })?;
    let now = i64::try_from(input::now(args.now)?).unwrap_or(i64::MAX);

    let mut notes = Vec::new();
    let payload = match output::parse_json(&payload) {
        Json::Unique(value) => value,
        Json::Duplicate { value, member } => {
            notes.push(format!(
                "the payload repeats the member {}; the last value is shown, and gatehouse \
                 refuses such tokens",
                output::quoted(&member)
            ));
            value
        }
        Json::Invalid => match String::from_utf8(payload) {
            Ok(text) => {
                notes.push("the payload is not JSON; it is shown as a string".to_owned());
                Value::String(text)
            }
            Err(_) => {
                notes.push(
                    "the payload is binary; it is shown base64url-encoded, as in the token"
                        .to_owned(),
                );
                Value::String(token.split('.').nth(1).unwrap_or_default().to_owned())
            }
        },
    };

    let mut lines = header_lines(&header);
    if let Value::Object(claims) = &payload {
        lines.extend(time_lines(claims, now));
    }
    lines.extend(notes);

    let mut document = Map::new();
    document.insert("header".to_owned(), Value::Object(header));
    document.insert("payload".to_owned(), payload);
    eprintln!("{UNVERIFIED}");
    output::stdout(output::pretty(&Value::Object(document)).as_bytes())?;
    for line in lines {
        eprintln!("{line}");
    }
    Ok(())
}

/// `alg` (and whether gatehouse could ever accept it), `kid`, and what `typ` says the token is.
fn header_lines(header: &Map<String, Value>) -> Vec<String> {
    let mut lines = Vec::new();
    let kid = match header.get("kid").and_then(Value::as_str) {
        Some(kid) => format!(", kid: {}", output::kid(kid)),
        None => String::new(),
    };
    lines.push(match header.get("alg") {
        Some(Value::String(alg)) if Algorithm::from_name(alg).is_some() => {
            format!("alg: {alg}{kid}")
        }
        Some(Value::String(alg)) => format!(
            "alg: {}{kid} — gatehouse never accepts this algorithm; only ES256, EdDSA, RS256 \
             and PS256 verify",
            output::quoted(alg)
        ),
        _ => format!("alg: missing{kid} — no verifier accepts this token"),
    });
    match header.get("typ").and_then(Value::as_str) {
        Some(typ)
            if typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
                || typ.eq_ignore_ascii_case("application/at+jwt") =>
        {
            lines.push(format!("typ: {typ} — an RFC 9068 access token"));
        }
        Some(typ) => lines.push(format!(
            "typ: {} — not an RFC 9068 access token (those have typ \"at+jwt\")",
            output::quoted(typ)
        )),
        None => lines.push(
            "typ: missing — not an RFC 9068 access token (those have typ \"at+jwt\")".to_owned(),
        ),
    }
    if header.contains_key("crit") || header.contains_key("b64") {
        lines.push(
            "the header has crit or b64, which gatehouse refuses (RFC 7515 §4.1.11, RFC 7797)"
                .to_owned(),
        );
    }
    lines
}

/// `exp`, `iat` and `nbf` as UTC dates and relative to `now`.
fn time_lines(claims: &Map<String, Value>, now: i64) -> Vec<String> {
    let mut lines = Vec::new();
    for name in ["exp", "iat", "nbf"] {
        let Some(value) = claims.get(name) else {
            continue;
        };
        let Some(at) = numeric_date(value) else {
            lines.push(format!(
                "{name}: {} is not a NumericDate (seconds since the epoch, RFC 7519 §2)",
                output::snippet(value)
            ));
            continue;
        };
        let ago = time::span(now.abs_diff(at));
        let past = at <= now;
        let relative = match (name, past) {
            ("exp", true) => format!("expired {ago} ago"),
            ("exp", false) => format!("expires in {ago}"),
            ("iat", true) => format!("issued {ago} ago"),
            ("iat", false) => format!("issued in the future, {ago} from now"),
            (_, true) => format!("valid since {ago} ago"),
            (_, false) => format!("not valid for another {ago}"),
        };
        lines.push(format!("{name}: {} — {relative}", time::utc(at)));
    }
    lines
}

/// A NumericDate: a JSON number of seconds, possibly fractional (RFC 7519 §2), rounded down.
fn numeric_date(value: &Value) -> Option<i64> {
    let number = value.as_number()?;
    if let Some(secs) = number.as_i64() {
        return Some(secs);
    }
    if number.as_u64().is_some() {
        return Some(i64::MAX);
    }
    // `as` saturates for out-of-range floats, which is what a display wants.
    #[allow(clippy::cast_possible_truncation)]
    number
        .as_f64()
        .filter(|f| f.is_finite())
        .map(|f| f.floor() as i64)
}

/// What a string that is not a JWS probably is, when its shape says so.
pub(crate) fn shape_hint(token: &str) -> Option<String> {
    if token
        .get(..7)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("bearer "))
    {
        return Some("remove the \"Bearer \" prefix: pass the token alone".to_owned());
    }
    match token.matches('.').count() {
        0 => Some(
            "the token has no dots, so it is opaque (a refresh token, an authorization code, or \
             an access token from a server that does not issue JWTs); only JWTs can be decoded"
                .to_owned(),
        ),
        4 => Some(
            "the token has five segments: it looks like a JWE (an encrypted JWT); gatehouse \
             reads signed JWTs (JWS) only"
                .to_owned(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_explained_relative_to_now() {
        let claims = json!({"exp": 1_000_540, "iat": 999_700, "nbf": "soon"});
        let lines = time_lines(claims.as_object().unwrap(), 1_000_000);
        assert_eq!(
            lines,
            [
                "exp: 1970-01-12 13:55:40 UTC — expires in 9 min",
                "iat: 1970-01-12 13:41:40 UTC — issued 5 min ago",
                "nbf: \"soon\" is not a NumericDate (seconds since the epoch, RFC 7519 §2)",
            ]
        );
    }

    #[test]
    fn numeric_dates() {
        assert_eq!(numeric_date(&json!(12)), Some(12));
        assert_eq!(numeric_date(&json!(12.9)), Some(12));
        assert_eq!(numeric_date(&json!(u64::MAX)), Some(i64::MAX));
        assert_eq!(numeric_date(&json!(-1e300)), Some(i64::MIN));
        assert_eq!(numeric_date(&json!("12")), None);
    }

    #[test]
    fn shapes() {
        assert!(shape_hint("opaque-refresh-token").is_some());
        assert!(shape_hint("a.b.c.d.e").unwrap().contains("JWE"));
        assert!(shape_hint("Bearer a.b.c").unwrap().contains("Bearer"));
        assert_eq!(shape_hint("a.b.c"), None);
    }
}
