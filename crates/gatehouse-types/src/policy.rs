//! The scope matrix: which scopes a person (or a machine client) may hold through which client.
//!
//! OAuth decides what a client asked for and what the person consented to; neither says whether
//! this person should hold that scope at all. An organisation writes that once, here: "Alice with
//! Claude Desktop may read but not write", "only the on-call group may hold `mcp:admin`". With
//! rules present, a scope no rule gives the caller is never granted, whatever the client asks
//! and whatever the person clicks. The consent page, the token endpoint and the guard all ask the
//! same [`ScopePolicy`], so a policy made stricter also narrows tokens already issued.
//!
//! Rules only grant (a union): a subject and client hold a governed scope when some rule that
//! names them (or anyone), or one of their groups, lists it. Groups are what the person's
//! identity provider said at their last sign-in (its groups or roles claim). Scopes the policy does not govern (those of no protected
//! resource, such as `offline_access`) pass untouched. No rules: everything passes, as before the
//! policy existed.

use crate::{Scope, ScopeSet};

/// Who a rule applies to: anyone, or those named.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Names {
    /// Everyone (`"*"`, or the key left out).
    Any,
    /// Exactly these (case-sensitive, as `sub` and `client_id` are compared everywhere).
    Only(Vec<String>),
}

impl Names {
    /// `["*"]` or nothing is anyone; otherwise the names given.
    pub fn from_list(names: Option<Vec<String>>) -> Self {
        match names {
            None => Self::Any,
            Some(names) if names.iter().any(|name| name == "*") => Self::Any,
            Some(names) => Self::Only(names),
        }
    }

    fn contains(&self, name: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(names) => names.iter().any(|n| n == name),
        }
    }
}

/// The access token claim carrying the subject's groups that the matrix names, so that a
/// resource's guard and introspection reach the answer the token endpoint reached.
pub const GROUPS_CLAIM: &str = "groups";

/// Whom a policy is asked about: a subject and the groups their identity provider put them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Who<'a> {
    /// The `sub`.
    pub subject: &'a str,
    /// Their groups (none for local users and machine clients).
    pub groups: &'a [String],
}

impl<'a> From<&'a str> for Who<'a> {
    /// A subject in no group.
    fn from(subject: &'a str) -> Self {
        Self {
            subject,
            groups: &[],
        }
    }
}

impl<'a> From<&'a String> for Who<'a> {
    fn from(subject: &'a String) -> Self {
        Self::from(subject.as_str())
    }
}

/// One row of the matrix: these subjects or members of these groups, through these clients, may
/// hold these scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRule {
    /// Whose: a `sub` (a local user's name, `{provider}:{subject}`, or a machine client's id).
    /// With groups named and no subjects, give `Names::Only(vec![])`: members only.
    pub subjects: Names,
    /// Or whose: members of any of these groups.
    pub groups: Vec<String>,
    /// Through which clients.
    pub clients: Names,
    /// What.
    pub scopes: ScopeSet,
}

/// The scope matrix: rules, and the scopes they govern.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopePolicy {
    rules: Vec<ScopeRule>,
    governed: ScopeSet,
}

impl ScopePolicy {
    /// A policy of `rules` over the scopes in `governed` (the protected resources' scopes).
    /// No rules: no policy, everything passes.
    pub fn new(rules: Vec<ScopeRule>, governed: ScopeSet) -> Self {
        Self { rules, governed }
    }

    /// Whether there are no rules (everything passes).
    pub fn is_open(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether `subject` may hold `scope` through `client`.
    pub fn permits<'a>(&self, who: impl Into<Who<'a>>, client: &str, scope: &Scope) -> bool {
        let who = who.into();
        self.is_open()
            || !self.governed.contains(scope)
            || self.rules.iter().any(|rule| {
                rule.scopes.contains(scope)
                    && rule.clients.contains(client)
                    && (rule.subjects.contains(who.subject)
                        || rule.groups.iter().any(|group| who.groups.contains(group)))
            })
    }

    /// Whether some rule names groups: only then are a person's groups looked up.
    pub fn uses_groups(&self) -> bool {
        self.rules.iter().any(|rule| !rule.groups.is_empty())
    }

    /// The groups of `groups` that some rule names: what a token must carry for the guard to
    /// reach the same answer (bounded by the configuration, whatever the provider sends).
    pub fn named_groups(&self, groups: &[String]) -> Vec<String> {
        groups
            .iter()
            .filter(|group| self.rules.iter().any(|rule| rule.groups.contains(group)))
            .cloned()
            .collect()
    }

    /// Whether `scopes` holds governed scopes and the policy lets `subject` hold none of them
    /// through `client`: a grant the policy has emptied, which must not pass as a grant of no
    /// scope (a resource that requires none would admit it).
    pub fn denies_all<'a>(&self, who: impl Into<Who<'a>>, client: &str, scopes: &ScopeSet) -> bool {
        let who = who.into();
        !self.is_open()
            && scopes.iter().any(|scope| self.governed.contains(scope))
            && !scopes
                .iter()
                .any(|scope| self.governed.contains(scope) && self.permits(who, client, scope))
    }

    /// The scopes of `scopes` that `subject` may hold through `client`.
    pub fn permitted<'a>(
        &self,
        who: impl Into<Who<'a>>,
        client: &str,
        scopes: &ScopeSet,
    ) -> ScopeSet {
        self.narrowed(who, client, scopes)
            .unwrap_or_else(|| scopes.clone())
    }

    /// [`ScopePolicy::permitted`] when it differs from `scopes`; `None`, with nothing copied,
    /// when the policy lets `subject` hold them all (what the guard asks on every request).
    pub fn narrowed<'a>(
        &self,
        who: impl Into<Who<'a>>,
        client: &str,
        scopes: &ScopeSet,
    ) -> Option<ScopeSet> {
        let who = who.into();
        if self.is_open() || scopes.iter().all(|scope| self.permits(who, client, scope)) {
            return None;
        }
        Some(
            scopes
                .iter()
                .filter(|scope| self.permits(who, client, scope))
                .cloned()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn set(text: &str) -> ScopeSet {
        ScopeSet::parse(text).unwrap()
    }

    fn rule(subjects: &[&str], clients: &[&str], scopes: &str) -> ScopeRule {
        let names =
            |list: &[&str]| Names::from_list(Some(list.iter().map(|s| (*s).to_owned()).collect()));
        ScopeRule {
            subjects: names(subjects),
            groups: Vec::new(),
            clients: names(clients),
            scopes: set(scopes),
        }
    }

    #[test]
    fn alice_with_claude_desktop_may_read_but_not_write() {
        let policy = ScopePolicy::new(
            vec![
                rule(&["alice"], &["claude-desktop"], "files:read"),
                rule(&["alice"], &["*"], "files:read files:write"),
                rule(&["*"], &["*"], "mcp:tools"),
            ],
            set("files:read files:write mcp:tools mcp:admin"),
        );
        let asked = set("files:read files:write mcp:tools mcp:admin offline_access");
        // Through Claude Desktop the broader rule for Alice still applies: rules are a union, so
        // "read but not write" is written by giving write through named clients only.
        assert_eq!(
            policy.permitted("alice", "claude-desktop", &asked),
            set("files:read files:write mcp:tools offline_access")
        );
        let strict = ScopePolicy::new(
            vec![
                rule(&["alice"], &["claude-desktop"], "files:read"),
                rule(&["alice"], &["cli"], "files:read files:write"),
                rule(&["*"], &["*"], "mcp:tools"),
            ],
            set("files:read files:write mcp:tools mcp:admin"),
        );
        assert_eq!(
            strict.permitted("alice", "claude-desktop", &asked),
            set("files:read mcp:tools offline_access")
        );
        assert_eq!(
            strict.permitted("alice", "cli", &asked),
            set("files:read files:write mcp:tools offline_access")
        );
        // Nobody holds mcp:admin: no rule gives it.
        assert_eq!(
            strict.permitted("bob", "cli", &asked),
            set("mcp:tools offline_access")
        );
    }

    #[test]
    fn members_of_a_group_hold_what_the_group_is_given() {
        let mut on_call = rule(&[], &["*"], "mcp:admin");
        on_call.groups = vec!["on-call".into()];
        let policy = ScopePolicy::new(
            vec![on_call, rule(&["*"], &["*"], "mcp:tools")],
            set("mcp:tools mcp:admin"),
        );
        assert!(policy.uses_groups());
        let asked = set("mcp:tools mcp:admin");
        let groups = vec!["engineering".to_owned(), "on-call".to_owned()];
        let member = Who {
            subject: "corp:alice",
            groups: &groups,
        };
        assert_eq!(policy.permitted(member, "cli", &asked), asked);
        assert_eq!(
            policy.permitted("corp:alice", "cli", &asked),
            set("mcp:tools")
        );
        assert_eq!(policy.named_groups(&groups), vec!["on-call".to_owned()]);
        // A subject named like a group is not its member.
        assert_eq!(policy.permitted("on-call", "cli", &asked), set("mcp:tools"));
    }

    #[test]
    fn no_rules_is_no_policy() {
        let open = ScopePolicy::new(Vec::new(), set("a b"));
        assert!(open.is_open());
        assert_eq!(open.permitted("x", "y", &set("a b c")), set("a b c"));
        assert_eq!(
            Names::from_list(Some(vec!["*".into(), "x".into()])),
            Names::Any
        );
    }

    #[test]
    fn a_grant_emptied_by_the_policy_is_told_apart_from_a_grant_of_nothing() {
        let policy = ScopePolicy::new(vec![rule(&["bob"], &["*"], "a")], set("a b"));
        assert!(policy.denies_all("alice", "c", &set("a b offline_access")));
        assert!(!policy.denies_all("bob", "c", &set("a b")));
        // Nothing governed asked for: nothing denied.
        assert!(!policy.denies_all("alice", "c", &set("offline_access")));
        assert!(!ScopePolicy::default().denies_all("alice", "c", &set("a")));
    }
}
