//! Who signed in, from what the provider vouched for, and whether the configuration admits
//! them. Claims are read from the ID token first and the userinfo answer after (OpenID Connect
//! Core §5.3.2: its `sub` must be the ID token's, checked by the caller); nothing is taken for
//! more than it proves: an email counts only when the provider says it is verified.

use serde_json::{Map, Value};

use crate::config::IdentityProvider;

/// The longest claim value kept (a subject, an email, a group name).
const MAX_VALUE_LEN: usize = 255;
/// The most groups kept.
const MAX_GROUPS: usize = 256;

/// A person the provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    /// `{provider id}:{subject}`: the `sub` of Gatehouse's tokens.
    pub(crate) subject: String,
    /// The email, when the provider says it is verified.
    pub(crate) verified_email: Option<String>,
    /// The groups or roles claim, each as `{provider id}:{group}`.
    pub(crate) groups: Vec<String>,
}

/// Why a person was not admitted. The text is safe to show and log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    #[error(
        "the identity provider did not say who signed in (no usable `{0}` claim; an email must be verified)"
    )]
    NoSubject(String),
    #[error("only verified email addresses in the allowed domains may sign in")]
    EmailNotAllowed,
    #[error("only members of the allowed groups may sign in")]
    NotInGroup,
}

/// The claim that names the person.
pub(crate) fn subject_claim(provider: &IdentityProvider) -> &str {
    provider
        .subject_claim
        .as_deref()
        .unwrap_or(if provider.kind == "github" {
            "id"
        } else {
            "sub"
        })
}

/// The groups claim.
pub(crate) fn groups_claim(provider: &IdentityProvider) -> &str {
    provider.groups_claim.as_deref().unwrap_or("groups")
}

/// Whether the ID token alone lacks something admission, the subject or the scope matrix
/// (`groups_wanted`: some rule names groups) needs, so that userinfo must be asked. Providers
/// often put only `sub` in the ID token of a code flow and the rest in userinfo.
pub(crate) fn needs_more(
    provider: &IdentityProvider,
    claims: &Map<String, Value>,
    groups_wanted: bool,
) -> bool {
    let missing = |name: &str| !claims.contains_key(name);
    missing(subject_claim(provider))
        || (!provider.allowed_email_domains.is_empty()
            && (missing("email") || missing("email_verified")))
        || ((groups_wanted || !provider.allowed_groups.is_empty())
            && missing(groups_claim(provider)))
}

/// The person `sources` (ID token claims first, then userinfo) describe, admitted by
/// `provider`'s rules. `github_email` is GitHub's verified primary email (its `/user` answer
/// does not say whether its `email` is verified).
pub(crate) fn admit(
    provider: &IdentityProvider,
    sources: &[&Map<String, Value>],
    github_email: Option<String>,
) -> Result<Person, Refused> {
    let claim = |name: &str| sources.iter().find_map(|claims| claims.get(name));
    let name = subject_claim(provider);
    let subject = claim(name)
        .and_then(scalar)
        .ok_or_else(|| Refused::NoSubject(name.to_owned()))?;
    let verified_email = if provider.kind == "github" {
        github_email.filter(|email| email.len() <= MAX_VALUE_LEN)
    } else {
        let verified = matches!(claim("email_verified"), Some(Value::Bool(true)))
            || claim("email_verified").and_then(Value::as_str) == Some("true");
        claim("email")
            .and_then(Value::as_str)
            .filter(|email| verified && email.len() <= MAX_VALUE_LEN)
            .map(str::to_owned)
    };
    // An email names a person only once the provider verified it: otherwise anyone who may set
    // their address there could become whoever owns it here.
    if name == "email" && verified_email.as_deref() != Some(subject.as_str()) {
        return Err(Refused::NoSubject(name.to_owned()));
    }
    if !provider.allowed_email_domains.is_empty() {
        let domain = verified_email
            .as_deref()
            .and_then(|email| email.rsplit_once('@'))
            .map(|(_, domain)| domain);
        let allowed = domain.is_some_and(|domain| {
            provider
                .allowed_email_domains
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(domain))
        });
        if !allowed {
            return Err(Refused::EmailNotAllowed);
        }
    }
    let groups = claim(groups_claim(provider))
        .map(groups_of)
        .unwrap_or_default();
    if !provider.allowed_groups.is_empty()
        && !groups
            .iter()
            .any(|group| provider.allowed_groups.contains(group))
    {
        return Err(Refused::NotInGroup);
    }
    Ok(Person {
        subject: format!("{}:{subject}", provider.id),
        verified_email,
        // Named by their provider: a group called `on-call` at a partner's provider is not the
        // organisation's `on-call`.
        groups: groups
            .iter()
            .map(|group| format!("{}:{group}", provider.id))
            .collect(),
    })
}

/// A claim that names something: a non-empty string or an integer (GitHub's user id), at most
/// 255 characters, without control characters.
fn scalar(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) if number.is_u64() || number.is_i64() => number.to_string(),
        _ => return None,
    };
    (!text.is_empty() && text.len() <= MAX_VALUE_LEN && !text.chars().any(char::is_control))
        .then_some(text)
}

/// A groups claim: a list of names, or one name.
fn groups_of(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().filter_map(scalar).take(MAX_GROUPS).collect(),
        other => scalar(other).into_iter().collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;

    fn provider(change: impl FnOnce(&mut IdentityProvider)) -> IdentityProvider {
        let mut provider: IdentityProvider = toml::from_str(
            "id = \"corp\"\nissuer = \"https://login.example.com\"\nclient_id = \"gatehouse\"",
        )
        .unwrap();
        change(&mut provider);
        provider
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_subject_is_prefixed_with_the_provider() {
        let person = admit(&provider(|_| {}), &[&claims(json!({"sub": "2482"}))], None).unwrap();
        assert_eq!(person.subject, "corp:2482");
        let numeric = admit(
            &provider(|p| p.subject_claim = Some("oid".into())),
            &[&claims(json!({"sub": "x"})), &claims(json!({"oid": 17}))],
            None,
        )
        .unwrap();
        assert_eq!(numeric.subject, "corp:17");
        for bad in [
            json!({}),
            json!({"sub": ""}),
            json!({"sub": ["a"]}),
            json!({"sub": "a\nb"}),
        ] {
            assert!(matches!(
                admit(&provider(|_| {}), &[&claims(bad)], None),
                Err(Refused::NoSubject(_))
            ));
        }
    }

    #[test]
    fn only_verified_emails_in_allowed_domains_are_admitted() {
        let corp = provider(|p| p.allowed_email_domains = vec!["Corp.Example".into()]);
        let person = |email: &str, verified: Value| {
            admit(
                &corp,
                &[&claims(
                    json!({"sub": "1", "email": email, "email_verified": verified}),
                )],
                None,
            )
        };
        assert!(person("alice@corp.example", json!(true)).is_ok());
        assert_eq!(
            person("alice@corp.example", json!(false)),
            Err(Refused::EmailNotAllowed)
        );
        assert_eq!(
            person("alice@sub.corp.example", json!(true)),
            Err(Refused::EmailNotAllowed)
        );
        assert_eq!(
            person("corp.example@evil.example", json!(true)),
            Err(Refused::EmailNotAllowed)
        );
        let unsaid = admit(
            &corp,
            &[&claims(json!({"sub": "1", "email": "a@corp.example"}))],
            None,
        );
        assert_eq!(unsaid, Err(Refused::EmailNotAllowed));
    }

    #[test]
    fn an_email_names_a_person_only_once_verified() {
        let by_email = provider(|p| p.subject_claim = Some("email".into()));
        let person = |verified: bool| {
            admit(
                &by_email,
                &[&claims(
                    json!({"sub": "1", "email": "alice@corp.example", "email_verified": verified}),
                )],
                None,
            )
        };
        assert_eq!(person(true).unwrap().subject, "corp:alice@corp.example");
        assert!(matches!(person(false), Err(Refused::NoSubject(_))));
    }

    #[test]
    fn github_counts_only_its_verified_primary_email() {
        let github = provider(|p| {
            p.kind = "github".into();
            p.issuer = None;
            p.allowed_email_domains = vec!["corp.example".into()];
        });
        let user = claims(json!({"id": 583231, "email": "alice@corp.example"}));
        assert_eq!(
            admit(&github, &[&user], None),
            Err(Refused::EmailNotAllowed)
        );
        let person = admit(&github, &[&user], Some("alice@corp.example".into())).unwrap();
        assert_eq!(person.subject, "corp:583231");
    }

    #[test]
    fn allowed_groups_admit_members_only() {
        let engineers = provider(|p| p.allowed_groups = vec!["engineering".into()]);
        let member = claims(json!({"sub": "1", "groups": ["sales", "engineering"]}));
        assert_eq!(
            admit(&engineers, &[&member], None).unwrap().groups,
            vec!["corp:sales", "corp:engineering"]
        );
        let other = claims(json!({"sub": "1", "groups": ["sales"]}));
        assert_eq!(admit(&engineers, &[&other], None), Err(Refused::NotInGroup));
        let none = claims(json!({"sub": "1"}));
        assert_eq!(admit(&engineers, &[&none], None), Err(Refused::NotInGroup));
        let roles = provider(|p| {
            p.groups_claim = Some("roles".into());
            p.allowed_groups = vec!["admin".into()];
        });
        assert!(
            admit(
                &roles,
                &[&claims(json!({"sub": "1", "roles": "admin"}))],
                None
            )
            .is_ok()
        );
    }

    #[test]
    fn userinfo_is_asked_only_when_the_id_token_is_thin() {
        let plain = provider(|_| {});
        assert!(!needs_more(&plain, &claims(json!({"sub": "1"})), false));
        assert!(needs_more(&plain, &claims(json!({"sub": "1"})), true));
        assert!(!needs_more(
            &plain,
            &claims(json!({"sub": "1", "groups": []})),
            true
        ));
        let domains = provider(|p| p.allowed_email_domains = vec!["corp.example".into()]);
        assert!(needs_more(&domains, &claims(json!({"sub": "1"})), false));
        assert!(!needs_more(
            &domains,
            &claims(json!({"sub": "1", "email": "a@corp.example", "email_verified": true})),
            false
        ));
    }
}
