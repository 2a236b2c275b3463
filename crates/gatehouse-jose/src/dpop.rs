//! DPoP proofs ([RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)): a JWT that a client signs
//! for one HTTP request with a key it holds, so that a token bound to that key is useless to
//! whoever steals it.
//!
//! [`verify_proof`] makes the checks of RFC 9449 §4.3 that need only the proof and the request:
//! the JWS, `typ`, an asymmetric `alg`, a public `jwk` that verifies the signature, the required
//! claims, `htm`, `htu` (compared as §4.3 says), the `iat` window, a server nonce (§8, §9) and
//! `ath` (§4.3 item 12). What needs state is the caller's, as with assertions: refusing a `jti`
//! seen before (§11.1), and matching the proof's key thumbprint to the `cnf.jkt` of the token it
//! accompanies (§6.1, §7.1).
//!
//! [`NonceSource`] derives the server nonces of §8 and §9 from a deployment key and the time,
//! so that every instance hands out and accepts the same ones without shared state.
//!
//! [`DpopProver`] is the client's side: it makes proofs, for clients written in Rust and for
//! tests.

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::Digest as _;

use gatehouse_types::uri;

use crate::jws::{self, Header};
use crate::{Algorithm, Jwk, JwsError, KeyError, SigningKey, VerifyingKey, b64};

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_PROOF_TYPE: &str = "dpop+jwt";

/// The longest `jti` accepted: it is stored, per proof, by whoever refuses replays.
pub const MAX_JTI_LEN: usize = 128;

/// Why a DPoP proof was refused. Each is an `invalid_dpop_proof` (RFC 9449 §5, §7.1), except
/// [`DpopError::UseNonce`], which is `use_dpop_nonce` (§8, §9).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// Not a well-formed JWS, an unsupported or symmetric `alg`, or a bad signature (§4.3 items
    /// 2, 5, 6).
    #[error("the DPoP proof is not a valid JWS: {0}")]
    Jws(#[from] JwsError),
    /// `typ` is not `dpop+jwt` (§4.3 item 4).
    #[error("the DPoP proof's typ is not dpop+jwt")]
    WrongType,
    /// No `jwk` header, or one that is not a usable public key of the header's `alg` (§4.3 items
    /// 5, 6).
    #[error("the DPoP proof's jwk is missing or unusable: {0}")]
    Key(KeyError),
    /// The `jwk` header holds private key members (§4.3 item 7).
    #[error("the DPoP proof's jwk contains a private key")]
    PrivateKey,
    /// A required claim is missing, or not of its type (§4.2, §4.3 item 3).
    #[error("the DPoP proof has no valid {0} claim")]
    MissingClaim(&'static str),
    /// `htm` is not the request's method (§4.3 item 8).
    #[error("the DPoP proof is for another HTTP method")]
    WrongMethod,
    /// `htu` is not the request's URI (§4.3 item 9).
    #[error("the DPoP proof is for another URI")]
    WrongUri,
    /// `iat` is outside the accepted window (§4.3 item 11, §11.1).
    #[error("the DPoP proof was not created recently")]
    Stale,
    /// The server requires a nonce and the proof has none, or not a current one (§8, §9).
    #[error("the DPoP proof needs a current server nonce")]
    UseNonce,
    /// `ath` is missing or is not the hash of the access token presented with it (§4.3 item
    /// 12).
    #[error("the DPoP proof's ath does not match the access token")]
    WrongAccessTokenHash,
}

impl DpopError {
    /// The OAuth error code: `use_dpop_nonce` for a missing or stale nonce, otherwise
    /// `invalid_dpop_proof` (RFC 9449 §5 at the token endpoint, §7.1 at a resource).
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::UseNonce => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

/// What the request that carries a proof looks like, and what the server requires of it.
#[derive(Debug, Clone)]
pub struct ProofExpectations<'a> {
    method: &'a str,
    uri: &'a str,
    now: u64,
    max_age_secs: u64,
    leeway_secs: u64,
    access_token: Option<&'a str>,
    nonces: Nonces<'a>,
    keys: Option<&'a ProofKeyCache>,
}

/// Which nonces a proof may carry.
#[derive(Debug, Clone, Copy)]
enum Nonces<'a> {
    /// None required.
    Any,
    /// One of these.
    OneOf(&'a [&'a str]),
    /// One this source accepts at the time of the request.
    From(&'a NonceSource),
}

impl<'a> ProofExpectations<'a> {
    /// The default of how old a proof may be (§11.1 leaves the window to the server; a proof is
    /// made for one request, and its `jti` is remembered this long).
    pub const DEFAULT_MAX_AGE_SECS: u64 = 300;
    /// The default of how far in the future `iat` may be, for clocks that differ.
    pub const DEFAULT_LEEWAY_SECS: u64 = 60;

    /// A proof for an HTTP request with `method` to `uri` (the full URI the request was made
    /// to, as the server knows itself; its query and fragment are ignored), received at `now`.
    pub fn new(method: &'a str, uri: &'a str, now: u64) -> Self {
        Self {
            method,
            uri,
            now,
            max_age_secs: Self::DEFAULT_MAX_AGE_SECS,
            leeway_secs: Self::DEFAULT_LEEWAY_SECS,
            access_token: None,
            nonces: Nonces::Any,
            keys: None,
        }
    }

    /// Keys imported for earlier proofs, kept in `cache`: a client proves with one key for a
    /// whole grant, and importing it from its JWK (an Ed25519 point's decompression, an RSA
    /// modulus, a P-256 point's check) is a good part of a proof's cost.
    pub fn key_cache(mut self, cache: &'a ProofKeyCache) -> Self {
        self.keys = Some(cache);
        self
    }

    /// The proof accompanies this access token: its `ath` must be the token's hash (§4.3 item
    /// 12). At a resource server; not at the token endpoint.
    pub fn access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }

    /// The server requires a nonce: one of `nonces`, the ones it currently hands out (§8, §9).
    /// Empty: no nonce required (a nonce in the proof is then ignored).
    pub fn nonces(mut self, nonces: &'a [&'a str]) -> Self {
        self.nonces = if nonces.is_empty() {
            Nonces::Any
        } else {
            Nonces::OneOf(nonces)
        };
        self
    }

    /// The server requires a nonce from `source`: its current one or the previous one (§8, §9).
    pub fn nonce_source(mut self, source: &'a NonceSource) -> Self {
        self.nonces = Nonces::From(source);
        self
    }

    /// How old a proof may be, and how far ahead its `iat` may be.
    pub fn window(mut self, max_age_secs: u64, leeway_secs: u64) -> Self {
        self.max_age_secs = max_age_secs;
        self.leeway_secs = leeway_secs;
        self
    }
}

/// Proof keys already imported, by their RFC 7638 thumbprint and algorithm (what the key is: the
/// thumbprint hashes every member that defines it, so a JWK of the same thumbprint is the same
/// key). At most [`ProofKeyCache::CAPACITY`] keys; when full it starts again empty, which costs
/// an import per key once more and bounds what a flood of throwaway keys can hold.
#[derive(Default)]
pub struct ProofKeyCache {
    /// Algorithm → thumbprint → key: looked up by `&str`, without building a key.
    keys: std::sync::Mutex<
        std::collections::HashMap<Algorithm, std::collections::HashMap<String, VerifyingKey>>,
    >,
}

impl ProofKeyCache {
    /// Keys kept at most.
    pub const CAPACITY: usize = 10_000;

    /// The key of `jwk` (whose thumbprint is `jkt`) for `alg`, imported once.
    fn get_or_import(
        &self,
        jwk: &Jwk,
        jkt: &str,
        alg: Algorithm,
    ) -> Result<VerifyingKey, DpopError> {
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(key) = keys.get(&alg).and_then(|of_alg| of_alg.get(jkt)) {
            return Ok(key.clone());
        }
        let key = VerifyingKey::from_jwk_as(jwk, alg).map_err(DpopError::Key)?;
        if keys
            .values()
            .map(std::collections::HashMap::len)
            .sum::<usize>()
            >= Self::CAPACITY
        {
            keys.clear();
        }
        keys.entry(alg)
            .or_default()
            .insert(jkt.to_owned(), key.clone());
        Ok(key)
    }
}

impl std::fmt::Debug for ProofKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKeyCache").finish_non_exhaustive()
    }
}

/// A proof that passed every check of [`verify_proof`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    jkt: String,
    jti: String,
    iat: u64,
}

impl VerifiedProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key: what `cnf.jkt` binds (§6.1).
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// `jti`, for the caller's replay check (§11.1): at most [`MAX_JTI_LEN`] bytes.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// `iat`: a replay record for the `jti` is needed until `iat` plus the window has passed.
    pub fn iat(&self) -> u64 {
        self.iat
    }
}

/// Checks a DPoP proof against the request it came with (RFC 9449 §4.3, items 2 to 12; the
/// caller has checked item 1, one `DPoP` header, and checks `jti` replay and the `cnf.jkt`
/// binding).
pub fn verify_proof(
    proof: &str,
    expected: &ProofExpectations<'_>,
) -> Result<VerifiedProof, DpopError> {
    let unverified = jws::parse(proof)?;
    let header = unverified.header();
    if !is_proof_type(header.typ()) {
        return Err(DpopError::WrongType);
    }
    let jwk = header_jwk(header)?;
    // §4.3 item 7. Checked before the key is used: a proof must never make the server hold a
    // client's private key as if it were public.
    if jwk.is_private() {
        return Err(DpopError::PrivateKey);
    }
    let jkt = jwk.thumbprint().map_err(DpopError::Key)?;
    let key = match expected.keys {
        Some(cache) => cache.get_or_import(&jwk, &jkt, header.alg())?,
        None => VerifyingKey::from_jwk_as(&jwk, header.alg()).map_err(DpopError::Key)?,
    };
    let verified = unverified.verify(&key)?;
    let claims = crate::json::parse_object(verified.payload())
        .map_err(|_| DpopError::MissingClaim("payload"))?;

    let jti = string_claim(&claims, "jti")?;
    if jti.is_empty() || jti.len() > MAX_JTI_LEN {
        return Err(DpopError::MissingClaim("jti"));
    }
    let htm = string_claim(&claims, "htm")?;
    let htu = string_claim(&claims, "htu")?;
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or(DpopError::MissingClaim("iat"))?;
    // §4.3 item 8: "The htm claim matches the HTTP method of the current request." Methods are
    // case-sensitive (RFC 9110 §9.1).
    if htm != expected.method {
        return Err(DpopError::WrongMethod);
    }
    // §4.3 item 9, with the normalisation the section recommends.
    match (normalized_htu(htu), normalized_htu(expected.uri)) {
        (Some(presented), Some(request)) if presented == request => {}
        _ => return Err(DpopError::WrongUri),
    }
    // §4.3 item 10 before 11: a client whose clock is off learns the nonce, which lets it
    // recover (§8.1).
    let nonce = claims.get("nonce").and_then(Value::as_str);
    let nonce_accepted = match expected.nonces {
        Nonces::Any => true,
        Nonces::OneOf(nonces) => nonce.is_some_and(|nonce| nonces.contains(&nonce)),
        Nonces::From(source) => nonce.is_some_and(|nonce| source.accepts(nonce, expected.now)),
    };
    if !nonce_accepted {
        return Err(DpopError::UseNonce);
    }
    if iat > expected.now.saturating_add(expected.leeway_secs)
        || iat.saturating_add(expected.max_age_secs) < expected.now
    {
        return Err(DpopError::Stale);
    }
    if let Some(token) = expected.access_token {
        // Encoded on the stack: this runs on every request to a resource.
        let digest = sha2::Sha256::digest(token.as_bytes());
        let mut encoded = [0u8; 43];
        let hash =
            <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode(&digest, &mut encoded)
                .map_err(|_| DpopError::WrongAccessTokenHash)?;
        match claims.get("ath").and_then(Value::as_str) {
            Some(ath) if ath == hash => {}
            _ => return Err(DpopError::WrongAccessTokenHash),
        }
    }
    Ok(VerifiedProof {
        jkt,
        jti: jti.to_owned(),
        iat,
    })
}

/// `ath`: the base64url SHA-256 of the access token's ASCII (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    b64::encode(&sha2::Sha256::digest(token.as_bytes()))
}

/// `typ` is `dpop+jwt`. Media type names compare without regard to case, and RFC 7515 §4.1.9
/// lets `application/` be omitted, so it is accepted when present.
fn is_proof_type(typ: Option<&str>) -> bool {
    typ.is_some_and(|typ| {
        let typ = match typ.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => typ.get(12..),
            _ => Some(typ),
        };
        typ.is_some_and(|typ| typ.eq_ignore_ascii_case(DPOP_PROOF_TYPE))
    })
}

fn header_jwk(header: &Header) -> Result<Jwk, DpopError> {
    match header.get("jwk") {
        Some(Value::Object(object)) => Jwk::from_object(object).map_err(DpopError::Key),
        Some(_) => Err(DpopError::Key(KeyError::Json(
            "jwk is not an object".into(),
        ))),
        None => Err(DpopError::Key(KeyError::Json("no jwk header".into()))),
    }
}

fn string_claim<'c>(
    claims: &'c Map<String, Value>,
    name: &'static str,
) -> Result<&'c str, DpopError> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .ok_or(DpopError::MissingClaim(name))
}

/// An absolute `http` or `https` URI without its query and fragment, normalised as RFC 9449 §4.3
/// recommends: syntax-based (RFC 3986 §6.2.2: case of the scheme, the host and percent-encodings;
/// percent-encoded unreserved characters decoded) and scheme-based (§6.2.3: the default port
/// dropped, an empty path made `/`). `None` for anything else: such a proof matches no request.
fn normalized_htu(uri: &str) -> Option<String> {
    let components = uri::split(uri)?;
    let scheme = components.scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let authority = uri::split_authority(components.authority?);
    // Credentials in the authority are not part of any URI a server is requested at.
    if authority.userinfo.is_some() || authority.host.is_empty() {
        return None;
    }
    // RFC 3986 §3.2.3 allows an empty port; it means the default, like the default itself.
    let port = authority.port.filter(|port| !port.is_empty());
    if port.is_some_and(|port| !uri::is_valid_port(port)) {
        return None;
    }
    let mut normalized = format!(
        "{scheme}://{}",
        percent_normalized(authority.host)?.to_ascii_lowercase()
    );
    if let Some(port) = port.filter(|port| *port != default_port) {
        normalized.push(':');
        normalized.push_str(port);
    }
    match components.path {
        "" => normalized.push('/'),
        path => normalized.push_str(&percent_normalized(path)?),
    }
    Some(normalized)
}

/// Percent-encodings in upper case, and those of unreserved characters decoded (RFC 3986
/// §6.2.2.1, §6.2.2.2). `None` for a `%` not followed by two hex digits.
fn percent_normalized(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        if byte != b'%' {
            out.push(char::from(byte));
            continue;
        }
        let high = char::from(bytes.next()?).to_digit(16)?;
        let low = char::from(bytes.next()?).to_digit(16)?;
        let decoded = u8::try_from(high * 16 + low).ok()?;
        if decoded.is_ascii_alphanumeric() || matches!(decoded, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(decoded));
        } else {
            out.push_str(&format!("%{decoded:02X}"));
        }
    }
    Some(out)
}

/// Server nonces (RFC 9449 §8 at the authorization server, §9 at a resource server), derived
/// rather than stored: the nonce of a time step is an HMAC of the step under a key every
/// instance of a deployment shares, so every instance hands out and accepts the same nonces with
/// no state and no coordination. A nonce is accepted during its own step and the next, so a
/// client that just fetched one does not meet a change of step.
///
/// "The nonce value MUST be unpredictable" (§8): it is 128 bits of HMAC-SHA-256 output, and the
/// label keeps the nonces of one server (the token endpoint, each resource) from being accepted
/// by another.
#[derive(Clone)]
pub struct NonceSource {
    key: ring::hmac::Key,
    label: String,
    step_secs: u64,
}

impl std::fmt::Debug for NonceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceSource")
            .field("label", &self.label)
            .field("step_secs", &self.step_secs)
            .finish_non_exhaustive()
    }
}

impl NonceSource {
    /// The default step: a nonce lives for one to two of them.
    pub const DEFAULT_STEP_SECS: u64 = 300;

    /// Nonces under `secret` (a key of the deployment, 32 bytes or more of it) for the server
    /// `label` names (an issuer's token endpoint, a resource), changing every `step_secs`
    /// (at least 1).
    pub fn new(secret: &[u8], label: impl Into<String>, step_secs: u64) -> Self {
        Self {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
            label: label.into(),
            step_secs: step_secs.max(1),
        }
    }

    /// The nonce to hand out at `now` (in `DPoP-Nonce`).
    pub fn current(&self, now: u64) -> String {
        self.nonce(now / self.step_secs)
    }

    /// Whether `nonce` is accepted at `now`: the current step's, or the previous one's.
    pub fn accepts(&self, nonce: &str, now: u64) -> bool {
        let step = now / self.step_secs;
        nonce == self.nonce(step) || nonce == self.nonce(step.saturating_sub(1))
    }

    fn nonce(&self, step: u64) -> String {
        let mut context = ring::hmac::Context::with_key(&self.key);
        // Length-prefixed: no label and step read as another.
        context.update(&(self.label.len() as u64).to_be_bytes());
        context.update(self.label.as_bytes());
        context.update(&step.to_be_bytes());
        let tag = context.sign();
        b64::encode(tag.as_ref().get(..16).unwrap_or_default())
    }
}

/// A client's DPoP key, which makes proofs (RFC 9449 §4).
pub struct DpopProver {
    key: SigningKey,
    jwk: Jwk,
    jkt: String,
}

impl std::fmt::Debug for DpopProver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopProver")
            .field("alg", &self.key.algorithm())
            .field("jkt", &self.jkt)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct ProofHeader<'a> {
    typ: &'static str,
    alg: &'static str,
    jwk: &'a Jwk,
}

#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: &'a str,
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

impl DpopProver {
    /// A prover with a new key of `alg` (ES256 is what most servers accept).
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        Ok(Self::new(SigningKey::generate(alg)?))
    }

    /// A prover with this key.
    pub fn new(key: SigningKey) -> Self {
        let public = key.verifying_key();
        let jkt = public.thumbprint();
        let mut jwk = public.to_jwk();
        // Only the public key's own members: no `kid`, `use` or `alg` a server could read more
        // into than the thumbprint does.
        jwk.kid = None;
        jwk.key_use = None;
        jwk.alg = None;
        Self { key, jwk, jkt }
    }

    /// The thumbprint of the key: the `dpop_jkt` of an authorization request (§10) and the
    /// `cnf.jkt` of the tokens bound to it.
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// A proof for a request with `method` to `uri` at `now`, with a fresh random `jti`; with
    /// `access_token` at a resource (its `ath`), and the server's `nonce` once it asked for one.
    pub fn proof(
        &self,
        method: &str,
        uri: &str,
        now: u64,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, JwsError> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|_| KeyError::Random)?;
        let jti = b64::encode(&random);
        // The URI the proof is for, without its query and fragment (§4.2).
        let htu = uri.split(['?', '#']).next().unwrap_or_default();
        let header = ProofHeader {
            typ: DPOP_PROOF_TYPE,
            alg: self.key.algorithm().as_str(),
            jwk: &self.jwk,
        };
        let claims = ProofClaims {
            jti: &jti,
            htm: method,
            htu,
            iat: now,
            ath: access_token.map(access_token_hash),
            nonce,
        };
        let header = serde_json::to_vec(&header)
            .map_err(|_| JwsError::Malformed("header cannot be serialized"))?;
        let claims = serde_json::to_vec(&claims)
            .map_err(|_| JwsError::Malformed("claims cannot be serialized"))?;
        jws::sign_with_header(&self.key, &header, &claims)
    }
}

#[cfg(test)]
mod tests {
    use super::{NonceSource, is_proof_type, normalized_htu};

    #[test]
    fn nonces_change_each_step_and_are_accepted_for_two() {
        let source = NonceSource::new(&[7; 32], "https://as.example.com/token", 300);
        let (t0, t1, t2) = (
            1_800_000_000 / 300 * 300,
            1_800_000_300 / 300 * 300,
            1_800_000_600 / 300 * 300,
        );
        let nonce = source.current(t0);
        assert_eq!(nonce.len(), 22);
        assert_eq!(source.current(t0 + 299), nonce);
        assert_ne!(source.current(t1), nonce);
        assert!(source.accepts(&nonce, t0));
        assert!(source.accepts(&nonce, t1 + 299));
        assert!(!source.accepts(&nonce, t2));
        assert!(!source.accepts("", t0));
        // Another instance with the same key hands out the same nonce; another key or another
        // server's label does not (RFC 9449 §9: a resource's nonces are its own).
        assert_eq!(
            NonceSource::new(&[7; 32], "https://as.example.com/token", 300).current(t0),
            nonce
        );
        assert_ne!(
            NonceSource::new(&[8; 32], "https://as.example.com/token", 300).current(t0),
            nonce
        );
        assert_ne!(
            NonceSource::new(&[7; 32], "https://mcp.example.com/mcp", 300).current(t0),
            nonce
        );
    }

    #[test]
    fn htu_is_compared_after_rfc_3986_normalisation() {
        let same = [
            (
                "https://Server.Example.com/token",
                "https://server.example.com/token",
            ),
            (
                "HTTPS://server.example.com:443/token",
                "https://server.example.com/token",
            ),
            ("http://server.example.com:80", "http://server.example.com/"),
            (
                "https://server.example.com/a%7eb",
                "https://server.example.com/a~b",
            ),
            (
                "https://server.example.com/a%2fb",
                "https://server.example.com/a%2Fb",
            ),
            (
                "https://server.example.com/t?x=1#f",
                "https://server.example.com/t",
            ),
            ("https://[::1]:8443/mcp", "https://[::1]:8443/mcp"),
        ];
        for (a, b) in same {
            assert_eq!(normalized_htu(a), normalized_htu(b), "{a} vs {b}");
            assert!(normalized_htu(a).is_some(), "{a}");
        }
        let different = [
            (
                "https://server.example.com/token",
                "http://server.example.com/token",
            ),
            (
                "https://server.example.com:8443/token",
                "https://server.example.com/token",
            ),
            (
                "https://server.example.com/Token",
                "https://server.example.com/token",
            ),
            (
                "https://server.example.com/token/",
                "https://server.example.com/token",
            ),
            (
                "https://server.example.com/a%2fb",
                "https://server.example.com/a/b",
            ),
        ];
        for (a, b) in different {
            assert_ne!(normalized_htu(a), normalized_htu(b), "{a} vs {b}");
        }
        for bad in [
            "server.example.com/token",
            "ftp://server.example.com/",
            "https://user@server.example.com/",
            "https:///token",
            "https://server.example.com:x/",
            "https://server.example.com/%zz",
        ] {
            assert_eq!(normalized_htu(bad), None, "{bad}");
        }
    }

    #[test]
    fn typ_is_dpop_jwt_in_any_case_with_or_without_application() {
        for typ in ["dpop+jwt", "DPoP+JWT", "application/dpop+jwt"] {
            assert!(is_proof_type(Some(typ)), "{typ}");
        }
        for typ in ["jwt", "at+jwt", "dpop", "application/jwt", ""] {
            assert!(!is_proof_type(Some(typ)), "{typ}");
        }
        assert!(!is_proof_type(None));
    }
}
