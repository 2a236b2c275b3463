//! Who the resource owner is: the pluggable sign-in check.

use std::future::Future;
use std::pin::Pin;

use gatehouse_store::{ServerStore, UserRecord, password};

/// A boxed future, so that the trait can be used as `dyn Authenticator`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Checks a sign-in. A library user replaces the local users with their own directory (LDAP, an
/// SSO callback, …) by implementing this.
pub trait Authenticator: Send + Sync + 'static {
    /// The subject (the `sub` of the tokens) if `username` and `password` are right.
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Option<String>>;
}

/// The built-in check against the users added with `gatehouse users add` (argon2id hashes in
/// the store), used when no [`Authenticator`] is plugged in: the user whose password it is. An
/// unknown name costs the same time as a wrong password.
pub(crate) async fn local_sign_in<S: ServerStore>(
    store: &S,
    username: &str,
    password: &str,
) -> Option<UserRecord> {
    let user = store.user(username).await.ok().flatten();
    let password = password.to_owned();
    // argon2id takes tens of milliseconds of CPU: keep it off the async workers.
    tokio::task::spawn_blocking(move || match user {
        Some(user) => password::verify(&user.password_hash, &password).then_some(user),
        None => {
            password::verify_unknown_user(&password);
            None
        }
    })
    .await
    .ok()
    .flatten()
}
