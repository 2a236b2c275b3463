//! Scopes ([RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One `scope-token`: `1*NQCHAR`, i.e. `%x21 / %x23-5B / %x5D-7E`
/// ([RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

/// Why a string is not a scope or a scope list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// An empty scope token (also what two spaces in a row produce).
    #[error("empty scope token (RFC 6749 §3.3: scope-token = 1*NQCHAR, separated by one space)")]
    Empty,
    /// A character outside `NQCHAR`.
    #[error("scope contains a character outside NQCHAR (RFC 6749 §3.3)")]
    InvalidCharacter,
    /// Longer than the bound this crate accepts.
    #[error("scope is longer than 8192 bytes")]
    TooLong,
}

/// Bound on a scope token and on a whole `scope` parameter, against hostile input.
const MAX_SCOPE_LEN: usize = 8192;

fn is_nqchar(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e)
}

impl Scope {
    /// Parses one scope token.
    pub fn new(value: impl Into<String>) -> Result<Self, ScopeError> {
        let value = value.into();
        if value.is_empty() {
            return Err(ScopeError::Empty);
        }
        if value.len() > MAX_SCOPE_LEN {
            return Err(ScopeError::TooLong);
        }
        if !value.bytes().all(is_nqchar) {
            return Err(ScopeError::InvalidCharacter);
        }
        Ok(Self(value))
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Scope {
    type Error = ScopeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<&str> for Scope {
    type Error = ScopeError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Scope> for String {
    fn from(value: Scope) -> Self {
        value.0
    }
}

impl std::str::FromStr for Scope {
    type Err = ScopeError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::new(value)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A set of scopes, as the `scope` parameter carries them: space-delimited and order-independent
/// ([RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)). The empty set is the
/// empty string. Serialized in sorted order, so equal sets serialize equally.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a `scope` parameter: `scope-token *( SP scope-token )`, or the empty string.
    /// Repeated tokens collapse into one.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        if value.len() > MAX_SCOPE_LEN {
            return Err(ScopeError::TooLong);
        }
        if value.is_empty() {
            return Ok(Self::new());
        }
        value.split(' ').map(Scope::new).collect()
    }

    /// Whether `scope` is in the set.
    pub fn contains(&self, scope: &Scope) -> bool {
        self.0.contains(scope)
    }

    /// Whether the set holds a scope with this name.
    pub fn contains_str(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }

    /// Whether every scope of `self` is in `other` (a refresh may narrow, never widen).
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scopes of `self` that are also in `other`.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    /// Adds a scope; returns whether it was new.
    pub fn insert(&mut self, scope: Scope) -> bool {
        self.0.insert(scope)
    }

    /// The number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a ScopeSet {
    type Item = &'a Scope;
    type IntoIter = std::collections::btree_set::Iter<'a, Scope>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl TryFrom<String> for ScopeSet {
    type Error = ScopeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl std::str::FromStr for ScopeSet {
    type Err = ScopeError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl From<ScopeSet> for String {
    fn from(value: ScopeSet) -> Self {
        value.to_string()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_section_3_3_scope_syntax() {
        let set = ScopeSet::parse("tools:read openid offline_access").unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!(set.to_string(), "offline_access openid tools:read");
        assert_eq!(ScopeSet::parse("").unwrap(), ScopeSet::new());
        assert_eq!(ScopeSet::parse("a  b"), Err(ScopeError::Empty));
        assert_eq!(ScopeSet::parse(" a"), Err(ScopeError::Empty));
        assert_eq!(ScopeSet::parse("a "), Err(ScopeError::Empty));
        assert_eq!(ScopeSet::parse("a\"b"), Err(ScopeError::InvalidCharacter));
        assert_eq!(ScopeSet::parse("a\\b"), Err(ScopeError::InvalidCharacter));
        assert_eq!(ScopeSet::parse("a\tb"), Err(ScopeError::InvalidCharacter));
        assert_eq!(
            ScopeSet::parse("caf\u{e9}"),
            Err(ScopeError::InvalidCharacter)
        );
    }

    #[test]
    fn rfc6749_section_3_3_order_independent_and_deduplicated() {
        assert_eq!(
            ScopeSet::parse("b a").unwrap(),
            ScopeSet::parse("a b a").unwrap()
        );
    }

    #[test]
    fn subset_and_intersection() {
        let granted = ScopeSet::parse("a b c").unwrap();
        let narrower = ScopeSet::parse("a c").unwrap();
        assert!(narrower.is_subset(&granted));
        assert!(!granted.is_subset(&narrower));
        let other = ScopeSet::parse("c d").unwrap();
        assert_eq!(granted.intersection(&other).to_string(), "c");
    }

    #[test]
    fn json_form_is_the_space_delimited_string() {
        let set = ScopeSet::parse("b a").unwrap();
        assert_eq!(serde_json::to_string(&set).unwrap(), "\"a b\"");
        assert!(serde_json::from_str::<ScopeSet>("\"a  b\"").is_err());
    }
}
