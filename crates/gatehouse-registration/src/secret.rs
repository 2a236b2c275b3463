//! Secrets that registration hands out: the client secret
//! ([RFC 7591 §3.2.1](https://www.rfc-editor.org/rfc/rfc7591#section-3.2.1)) and the registration
//! access token ([RFC 7592 §3](https://www.rfc-editor.org/rfc/rfc7592#section-3)).
//!
//! Both wrap [`SecretString`]: they print as `[redacted]`, are not `Clone`, compare in constant
//! time (only the length can show) and are zeroed in memory when dropped. Each is its own type so
//! that a client secret cannot be passed where a registration access token is expected.

use std::fmt;

use gatehouse_types::SecretString;
use serde::{Deserialize, Serialize};

macro_rules! secret {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::new(value))
            }

            /// The secret itself, for sending it to its owner once. Never log it; compare with
            /// `==`, which takes the same time whatever the contents.
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret! {
    /// A `client_secret`: issued in the registration response
    /// ([RFC 7591 §3.2.1](https://www.rfc-editor.org/rfc/rfc7591#section-3.2.1)), and echoed by
    /// the client in an update request
    /// ([RFC 7592 §2.2](https://www.rfc-editor.org/rfc/rfc7592#section-2.2)).
    ClientSecret
}

secret! {
    /// A `registration_access_token`: the bearer token that authorizes reads, updates and
    /// deletes of one registration
    /// ([RFC 7592 §3](https://www.rfc-editor.org/rfc/rfc7592#section-3)).
    RegistrationAccessToken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = ClientSecret::new("cf136dc3c1fc93f31185e5885805d");
        assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
        let token = RegistrationAccessToken::new("reg-23410913-abewfq.123483");
        assert!(!format!("{token:?}").contains("reg-"));
        assert_eq!(token.expose_secret(), "reg-23410913-abewfq.123483");
    }

    #[test]
    fn serializes_as_the_bare_string() {
        let secret = ClientSecret::new("s");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"s\"");
        let back: ClientSecret = serde_json::from_str("\"s\"").unwrap();
        assert_eq!(back.expose_secret(), "s");
        assert_eq!(back, secret);
    }

    #[test]
    fn equality_compares_contents() {
        assert_eq!(ClientSecret::new("abc"), ClientSecret::new("abc"));
        assert_ne!(ClientSecret::new("abc"), ClientSecret::new("abd"));
        assert_ne!(
            RegistrationAccessToken::new("abc"),
            RegistrationAccessToken::new("abcd")
        );
    }
}
