//! Passwords of local users: argon2id (RFC 9106) at the argon2 crate's defaults, which are
//! OWASP's recommendation (19 MiB, 2 passes, 1 lane), stored as PHC strings so that the
//! parameters can be raised later without invalidating existing hashes.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Why a password could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Empty passwords are refused.
    #[error("the password is empty")]
    Empty,
    /// Longer than [`MAX_PASSWORD_BYTES`].
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    /// The hasher failed (no randomness for the salt).
    #[error("could not hash the password: {0}")]
    Hasher(String),
}

/// The longest password accepted: long enough for any passphrase, short enough that a login
/// form cannot be used to make the server hash megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A fixed argon2id hash to verify against when the user does not exist, so that an unknown
/// name costs the same time as a wrong password (no user enumeration by timing).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$H8iNmyRGBHkBOvnwnk8MTU5RCPcNc3o1xdV3aNbx9dU";

/// Hashes `password` with argon2id and a random salt, as a PHC string.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hasher(e.to_string()))
}

/// Whether `password` matches `phc` (constant time in the argon2 crate). A malformed hash never
/// matches.
pub fn verify(phc: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Spends the time of one verification and returns `false`: call it when the user does not
/// exist.
pub fn verify_unknown_user(password: &str) -> bool {
    let _ = verify(DUMMY_HASH, password);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify() {
        let phc = hash("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify(&phc, "correct horse battery staple"));
        assert!(!verify(&phc, "correct horse battery stapl"));
        assert_ne!(hash("correct horse battery staple").unwrap(), phc, "salted");
    }

    #[test]
    fn refuses_empty_and_oversized_passwords() {
        assert_eq!(hash(""), Err(PasswordError::Empty));
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert_eq!(hash(&long), Err(PasswordError::TooLong));
        assert!(!verify(DUMMY_HASH, &long));
    }

    #[test]
    fn the_dummy_hash_parses_so_unknown_users_cost_a_full_verification() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_unknown_user("anything"));
        assert!(!verify("not a phc string", "anything"));
    }
}
