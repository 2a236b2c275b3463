//! String-valued registry enums whose unknown values round-trip but cannot be built by users.
//!
//! OAuth is full of IANA registries (grant types, error codes, auth methods). A peer may send a
//! value registered after this crate was written; dropping or rejecting it would break
//! round-tripping of documents. Such values land in a hidden `_Custom` variant that only the
//! parser can create, so code matching on the enum cannot accidentally invent one (the ruma
//! pattern).

use std::fmt;

/// A registry value this crate does not know. Only the parsers of this workspace create it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrivOwnedStr(Box<str>);

impl PrivOwnedStr {
    #[doc(hidden)]
    pub fn __new(value: &str) -> Self {
        Self(value.into())
    }

    /// The value as it was received.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PrivOwnedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A registry value with characters its syntax does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} value: {reason}")]
pub struct InvalidValue {
    /// Which registry the value was parsed for, e.g. `grant_type`.
    pub kind: &'static str,
    /// Why it was refused.
    pub reason: &'static str,
}

/// Longest registry value accepted. Registered values are short; this bounds hostile input.
pub(crate) const MAX_REGISTRY_VALUE_LEN: usize = 256;

/// Checks a registry value: non-empty, bounded, and only visible ASCII (`%x21-7E`).
#[doc(hidden)]
pub fn __check_token(kind: &'static str, value: &str) -> Result<(), InvalidValue> {
    __check_chars(kind, value, |b| (0x21..=0x7e).contains(&b))
}

/// Like [`__check_token`] but spaces are allowed between values (`response_type=code id_token`).
#[doc(hidden)]
pub fn __check_spaced(kind: &'static str, value: &str) -> Result<(), InvalidValue> {
    __check_chars(kind, value, |b| (0x20..=0x7e).contains(&b))?;
    if value.starts_with(' ') || value.ends_with(' ') || value.contains("  ") {
        return Err(InvalidValue {
            kind,
            reason: "values are separated by exactly one space",
        });
    }
    Ok(())
}

/// `NQSCHAR` of [RFC 6749 Appendix A](https://www.rfc-editor.org/rfc/rfc6749#appendix-A):
/// `%x20-21 / %x23-5B / %x5D-7E`, the syntax of `error` and `error_description`.
pub(crate) fn is_nqschar(b: u8) -> bool {
    matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e)
}

#[doc(hidden)]
pub fn __check_nqschar(kind: &'static str, value: &str) -> Result<(), InvalidValue> {
    __check_chars(kind, value, is_nqschar)
}

fn __check_chars(
    kind: &'static str,
    value: &str,
    allowed: impl Fn(u8) -> bool,
) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue {
            kind,
            reason: "empty",
        });
    }
    if value.len() > MAX_REGISTRY_VALUE_LEN {
        return Err(InvalidValue {
            kind,
            reason: "longer than 256 bytes",
        });
    }
    if !value.bytes().all(allowed) {
        return Err(InvalidValue {
            kind,
            reason: "contains a character outside its syntax",
        });
    }
    Ok(())
}

/// Declares a registry enum: known variants with their wire strings, plus a hidden variant for
/// values this crate does not know.
///
/// `check` names the syntax of unknown values (`__check_token`, `__check_spaced`,
/// `__check_nqschar`) and `kind` the parameter name used in error messages.
#[macro_export]
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $kind:literal, $check:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $value:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
            #[doc(hidden)]
            _Custom($crate::PrivOwnedStr),
        }

        impl $name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $value, )*
                    Self::_Custom(s) => s.as_str(),
                }
            }

            /// Parses a wire value; values this crate does not know are kept as they are.
            pub fn parse(value: &str) -> ::std::result::Result<Self, $crate::InvalidValue> {
                match value {
                    $( $value => Ok(Self::$variant), )*
                    other => {
                        $crate::__string_enum_support::$check($kind, other)?;
                        Ok(Self::_Custom($crate::PrivOwnedStr::__new(other)))
                    }
                }
            }

            /// Whether this is one of the values this crate names.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::_Custom(_))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::InvalidValue;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl ::std::convert::TryFrom<&str> for $name {
            type Error = $crate::InvalidValue;
            fn try_from(s: &str) -> ::std::result::Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let value = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Self::parse(&value).map_err(::serde::de::Error::custom)
            }
        }
    };
}

/// Items the [`string_enum!`] macro expands to; not part of the public API.
#[doc(hidden)]
pub mod __support {
    pub use super::{__check_nqschar, __check_spaced, __check_token};
}
