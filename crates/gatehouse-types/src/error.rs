//! OAuth error responses: [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) and
//! the codes later RFCs added to the same registry.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::string_enum::{InvalidValue, is_nqschar};

string_enum! {
    /// An OAuth `error` code.
    pub enum ErrorCode: "error", __check_nqschar {
        /// `invalid_request` (RFC 6749 §4.1.2.1, §5.2).
        InvalidRequest => "invalid_request",
        /// `invalid_client` (RFC 6749 §5.2): client authentication failed.
        InvalidClient => "invalid_client",
        /// `invalid_grant` (RFC 6749 §5.2).
        InvalidGrant => "invalid_grant",
        /// `unauthorized_client` (RFC 6749 §5.2).
        UnauthorizedClient => "unauthorized_client",
        /// `unsupported_grant_type` (RFC 6749 §5.2).
        UnsupportedGrantType => "unsupported_grant_type",
        /// `invalid_scope` (RFC 6749 §5.2).
        InvalidScope => "invalid_scope",
        /// `access_denied` (RFC 6749 §4.1.2.1).
        AccessDenied => "access_denied",
        /// `unsupported_response_type` (RFC 6749 §4.1.2.1).
        UnsupportedResponseType => "unsupported_response_type",
        /// `server_error` (RFC 6749 §4.1.2.1).
        ServerError => "server_error",
        /// `temporarily_unavailable` (RFC 6749 §4.1.2.1).
        TemporarilyUnavailable => "temporarily_unavailable",
        /// `invalid_target` (RFC 8707 §2): a `resource` the server does not serve.
        InvalidTarget => "invalid_target",
        /// `invalid_token` (RFC 6750 §3.1).
        InvalidToken => "invalid_token",
        /// `insufficient_scope` (RFC 6750 §3.1).
        InsufficientScope => "insufficient_scope",
        /// `unsupported_token_type` (RFC 7009 §2.2.1).
        UnsupportedTokenType => "unsupported_token_type",
        /// `invalid_redirect_uri` (RFC 7591 §3.2.2).
        InvalidRedirectUri => "invalid_redirect_uri",
        /// `invalid_client_metadata` (RFC 7591 §3.2.2).
        InvalidClientMetadata => "invalid_client_metadata",
        /// `invalid_software_statement` (RFC 7591 §3.2.2).
        InvalidSoftwareStatement => "invalid_software_statement",
        /// `unapproved_software_statement` (RFC 7591 §3.2.2).
        UnapprovedSoftwareStatement => "unapproved_software_statement",
        /// `invalid_dpop_proof` (RFC 9449 §5, §7.1): the DPoP proof is missing where required,
        /// or invalid.
        InvalidDpopProof => "invalid_dpop_proof",
        /// `use_dpop_nonce` (RFC 9449 §8, §9): the proof must carry the nonce of the
        /// `DPoP-Nonce` response header.
        UseDpopNonce => "use_dpop_nonce",
    }
}

impl ErrorCode {
    /// The HTTP status this error is answered with when it is not a redirect.
    ///
    /// [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2): 400 unless stated;
    /// `invalid_client` is 401 (with `WWW-Authenticate`) when the client tried to authenticate;
    /// RFC 6750 §3.1: `invalid_token` 401, `insufficient_scope` 403.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope | Self::AccessDenied => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// A human-readable `error_description`, limited to `NQSCHAR`
/// ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2): "Values for the
/// "error_description" parameter MUST NOT include characters outside the set %x20-21 / %x23-5B /
/// %x5D-7E"). The same rule makes it safe inside an RFC 6750 quoted-string.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ErrorDescription(String);

/// Longest description accepted from a peer; ours are one sentence.
const MAX_DESCRIPTION_LEN: usize = 1024;

impl ErrorDescription {
    /// Parses a description, refusing characters outside `NQSCHAR`.
    pub fn new(text: impl Into<String>) -> Result<Self, InvalidValue> {
        let text = text.into();
        if text.len() > MAX_DESCRIPTION_LEN {
            return Err(InvalidValue {
                kind: "error_description",
                reason: "longer than 1024 bytes",
            });
        }
        if !text.bytes().all(is_nqschar) {
            return Err(InvalidValue {
                kind: "error_description",
                reason: "contains a character outside %x20-21 / %x23-5B / %x5D-7E",
            });
        }
        Ok(Self(text))
    }

    /// Builds a description from any text, replacing what `NQSCHAR` does not allow: quotes
    /// become `'`, "§" (which every Gatehouse error message uses to cite a section) becomes
    /// `section `, other characters `?`. Cut at 1024 bytes. For error messages, which quote
    /// user input.
    pub fn sanitized(text: &str) -> Self {
        let mut clean = String::with_capacity(text.len().min(MAX_DESCRIPTION_LEN));
        let mut ascii = [0; 1];
        for c in text.chars() {
            let piece: &str = match c {
                '"' => "'",
                '\u{a7}' => "section ",
                c if c.is_ascii() && is_nqschar(c as u8) => c.encode_utf8(&mut ascii),
                _ => "?",
            };
            if clean.len() + piece.len() > MAX_DESCRIPTION_LEN {
                break;
            }
            clean.push_str(piece);
        }
        Self(clean)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ErrorDescription {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ErrorDescription> for String {
    fn from(value: ErrorDescription) -> Self {
        value.0
    }
}

impl fmt::Display for ErrorDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ErrorDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// The JSON error body of [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error code.
    pub error: ErrorCode,
    /// What went wrong, for the developer of the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<ErrorDescription>,
    /// A page about the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
    /// Members this crate does not know, preserved.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ErrorResponse {
    /// An error with a code and no description.
    pub fn new(error: ErrorCode) -> Self {
        Self {
            error,
            error_description: None,
            error_uri: None,
            extra: BTreeMap::new(),
        }
    }

    /// Adds a description; text outside `NQSCHAR` is replaced (see
    /// [`ErrorDescription::sanitized`]).
    pub fn with_description(mut self, text: &str) -> Self {
        self.error_description = Some(ErrorDescription::sanitized(text));
        self
    }

    /// Parses an error body from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The HTTP status to answer with (see [`ErrorCode::http_status`]).
    pub fn http_status(&self) -> u16 {
        self.error.http_status()
    }
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error_description {
            Some(description) => write!(f, "{}: {}", self.error, description),
            None => write!(f, "{}", self.error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_section_5_2_example_parses() {
        let body = br#"{"error":"invalid_request"}"#;
        let parsed = ErrorResponse::from_json(body).unwrap();
        assert_eq!(parsed.error, ErrorCode::InvalidRequest);
        assert_eq!(parsed.http_status(), 400);
    }

    #[test]
    fn rfc6749_section_5_2_description_refuses_quote_and_backslash() {
        assert!(ErrorDescription::new("bad \"thing\"").is_err());
        assert!(ErrorDescription::new("bad \\ thing").is_err());
        assert!(ErrorDescription::new("caf\u{e9}").is_err());
        assert!(ErrorDescription::new("line\nbreak").is_err());
        let body = br#"{"error":"invalid_request","error_description":"a \"b\""}"#;
        assert!(ErrorResponse::from_json(body).is_err());
    }

    #[test]
    fn sanitized_description_is_always_valid() {
        let d = ErrorDescription::sanitized("redirect_uri \"javascript:\\x\" caf\u{e9}\n");
        assert_eq!(d.as_str(), "redirect_uri 'javascript:?x' caf??");
        assert!(ErrorDescription::new(d.as_str()).is_ok());
    }

    #[test]
    fn sanitized_spells_out_section_signs_and_stays_within_1024_bytes() {
        let d = ErrorDescription::sanitized("RFC 7662 \u{a7}2.1: token REQUIRED");
        assert_eq!(d.as_str(), "RFC 7662 section 2.1: token REQUIRED");
        let long = ErrorDescription::sanitized(&"\u{a7}".repeat(300));
        assert!(long.as_str().len() <= MAX_DESCRIPTION_LEN);
        assert!(ErrorDescription::new(long.as_str()).is_ok());
        assert_eq!(
            ErrorDescription::sanitized(&"a".repeat(2000))
                .as_str()
                .len(),
            1024
        );
    }

    #[test]
    fn statuses_follow_rfc6749_and_rfc6750() {
        assert_eq!(ErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(ErrorCode::InvalidToken.http_status(), 401);
        assert_eq!(ErrorCode::InsufficientScope.http_status(), 403);
        assert_eq!(ErrorCode::InvalidTarget.http_status(), 400);
        assert_eq!(ErrorCode::ServerError.http_status(), 500);
    }

    #[test]
    fn unknown_members_and_codes_round_trip() {
        let body = r#"{"error":"authorization_pending","error_description":"wait","interval":5}"#;
        let parsed = ErrorResponse::from_json(body.as_bytes()).unwrap();
        assert!(!parsed.error.is_known());
        let again = serde_json::to_string(&parsed).unwrap();
        assert_eq!(
            serde_json::from_str::<ErrorResponse>(&again).unwrap(),
            parsed
        );
        assert_eq!(parsed.extra["interval"], 5);
    }
}
