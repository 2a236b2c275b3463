//! MCP sessions bound to who opened them.
//!
//! A Streamable HTTP server hands out an `Mcp-Session-Id` and then accepts it with any valid
//! token; the MCP security best practices warn that a session id obtained by someone else must
//! not let them act in that session (session hijacking), and that a server must not trust a
//! session id as authentication. So the guard binds each session to the subject and client of
//! the token that opened it, without keeping state: the id the client sees is the server's id
//! followed by a MAC of (resource, subject, client, server's id) under the guard's session key.
//! On every request the guard checks that MAC against the token's subject and client, and passes
//! the server's own id on; a session id that fails (another person's, another client's, or
//! one the guard never issued) is answered `404 Not Found`, which MCP clients take as "start a
//! new session" (MCP 2025-11-25, Streamable HTTP, session management), and never forwarded.
//!
//! Guards that share a key (several instances of one deployment) accept each other's ids.

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::Principal;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Bytes of MAC appended: 128 bits, 22 characters.
const MAC_BYTES: usize = 16;

/// The key that binds session ids. Not `Clone`-able into logs: `Debug` is redacted.
#[derive(Clone)]
pub(crate) struct SessionKey {
    /// HMAC-SHA256 with the key already absorbed: cloned for each MAC, rather than keyed anew
    /// (two compressions fewer on every request).
    keyed: HmacSha256,
    /// The resource, part of every MAC: one key can serve several guards.
    resource: String,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey([redacted])")
    }
}

/// The key as HMAC-SHA-256's 64-byte block: RFC 2104 §2 pads a shorter key with zeros, so this
/// is the same key (and the same MACs) as the 32 bytes alone, in the type `KeyInit::new` takes
/// without a fallible conversion.
fn block_key(key: &[u8; 32]) -> [u8; 64] {
    let mut block = [0; 64];
    for (byte, key) in block.iter_mut().zip(key) {
        *byte = *key;
    }
    block
}

impl SessionKey {
    pub(crate) fn new(key: [u8; 32], resource: &str) -> Self {
        Self {
            keyed: HmacSha256::new(&block_key(&key).into()),
            resource: resource.to_owned(),
        }
    }

    fn mac(&self, principal: &Principal, server_id: &str) -> [u8; MAC_BYTES] {
        let mut mac = self.keyed.clone();
        // Length-prefixed, so that no two different tuples read the same.
        for part in [
            self.resource.as_str(),
            principal.subject(),
            principal.client_id(),
            server_id,
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        let mut bytes = [0; MAC_BYTES];
        for (byte, mac) in bytes.iter_mut().zip(mac.finalize().into_bytes()) {
            *byte = mac;
        }
        bytes
    }

    /// The id the client sees for the server's `server_id`, opened by `principal`. MCP session
    /// ids are visible ASCII (0x21–0x7E); so is this.
    pub(crate) fn bind(&self, server_id: &str, principal: &Principal) -> String {
        format!(
            "{server_id}.{}",
            Base64UrlUnpadded::encode_string(&self.mac(principal, server_id))
        )
    }

    /// The server's id behind `presented`, if `principal` opened that session.
    pub(crate) fn open<'a>(&self, presented: &'a str, principal: &Principal) -> Option<&'a str> {
        let (server_id, mac) = presented.rsplit_once('.')?;
        let mut decoded = [0; MAC_BYTES];
        let mac = Base64UrlUnpadded::decode(mac, &mut decoded).ok()?;
        bool::from(self.mac(principal, server_id).ct_eq(mac)).then_some(server_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_types::{ScopeSet, UnixTime};

    fn principal(subject: &str, client: &str) -> Principal {
        Principal::new(crate::principal::PrincipalParts {
            subject: subject.into(),
            client_id: client.into(),
            scopes: ScopeSet::new(),
            jti: None,
            expires_at: UnixTime::from_secs(u64::MAX),
            issuer: "https://auth.example.com".into(),
            resource: "https://mcp.example.com/mcp".into(),
            claims: Default::default(),
        })
    }

    #[test]
    fn the_padded_block_key_is_the_32_byte_key_rfc2104_2() {
        // Session ids issued before the key was padded (and by instances not yet upgraded) stay
        // valid: the MAC is the same.
        let key = [42; 32];
        let mut short = HmacSha256::new_from_slice(&key).unwrap();
        let mut padded = HmacSha256::new(&block_key(&key).into());
        short.update(b"session");
        padded.update(b"session");
        assert_eq!(
            short.finalize().into_bytes(),
            padded.finalize().into_bytes()
        );
    }

    #[test]
    fn mcp_session_hijacking_a_session_opens_only_for_its_subject_and_client() {
        let key = SessionKey::new([7; 32], "https://mcp.example.com/mcp");
        let alice = principal("alice", "app");
        let bound = key.bind("server-session-1", &alice);
        assert!(bound.starts_with("server-session-1."));
        assert!(bound.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_eq!(key.open(&bound, &alice), Some("server-session-1"));
        assert_eq!(key.open(&bound, &principal("bob", "app")), None);
        assert_eq!(key.open(&bound, &principal("alice", "other-app")), None);
        // The boundary between fields cannot be moved.
        assert_eq!(key.open(&bound, &principal("alic", "eapp")), None);
        assert_eq!(key.open("server-session-1", &alice), None);
        assert_eq!(
            key.open("server-session-1.AAAAAAAAAAAAAAAAAAAAAA", &alice),
            None
        );
        // Another resource's key, or another deployment's, does not open it.
        let other = SessionKey::new([7; 32], "https://mcp.example.com/other");
        assert_eq!(other.open(&bound, &alice), None);
        let elsewhere = SessionKey::new([8; 32], "https://mcp.example.com/mcp");
        assert_eq!(elsewhere.open(&bound, &alice), None);
        // A server id holding dots is kept whole.
        let dotted = key.bind("a.b.c", &alice);
        assert_eq!(key.open(&dotted, &alice), Some("a.b.c"));
    }
}
