//! Feeds an instance's deny-list with the revocations other instances make.
//!
//! A dedicated connection `LISTEN`s on the revocation channel. Each notice is applied as it
//! arrives: a token's `jti` directly, a family's `jti`s after one query. After (re)connecting,
//! `LISTEN` comes first and the full reload second, so nothing committed in between is missed;
//! until the reload is done, and whenever the connection is down, the list is marked out of sync
//! and the guard asks the database instead. Reconnection is retried every [`RETRY`].

use std::time::Duration;

use deadpool_postgres::Pool;
use futures_util::future::poll_fn;
use tokio_postgres::{AsyncMessage, NoTls};

use super::{REVOCATION_CHANNEL, family_jtis, revoked_jtis};
use crate::DenyList;
use crate::codec::{Revocation, time_from_sql};

/// Time between reconnection attempts.
pub(crate) const RETRY: Duration = Duration::from_secs(1);

pub(super) fn spawn(
    config: tokio_postgres::Config,
    pool: Pool,
    deny: DenyList,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = listen(&config, &pool, &deny).await {
                tracing::warn!(%error, "revocation listener disconnected; the guard asks the database until it is back");
            }
            deny.set_synced(false);
            tokio::time::sleep(RETRY).await;
        }
    })
}

/// Listens until the connection fails.
async fn listen(
    config: &tokio_postgres::Config,
    pool: &Pool,
    deny: &DenyList,
) -> Result<(), String> {
    let (client, mut connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
    let (notices, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let driver = tokio::spawn(async move {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(notice)) => {
                    if notices.send(notice.payload().to_owned()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {REVOCATION_CHANNEL}"))
            .await
            .map_err(|e| e.to_string())?;
        let pooled = pool.get().await.map_err(|e| e.to_string())?;
        deny.replace_all(revoked_jtis(&pooled).await.map_err(|e| e.to_string())?);
        drop(pooled);
        while let Some(payload) = received.recv().await {
            apply(pool, deny, &payload).await?;
        }
        Err("notification connection closed".to_owned())
    }
    .await;
    driver.abort();
    result
}

async fn apply(pool: &Pool, deny: &DenyList, payload: &str) -> Result<(), String> {
    match serde_json::from_str::<Revocation>(payload) {
        Ok(Revocation::Token { jti, exp }) => {
            let exp = time_from_sql(exp).map_err(|e| e.to_string())?;
            deny.insert([(jti, exp)]);
        }
        Ok(Revocation::Family { family }) => {
            let pooled = pool.get().await.map_err(|e| e.to_string())?;
            deny.insert(
                family_jtis(&pooled, &family)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        // Not ours (another application on the channel): ignore it.
        Err(_) => {}
    }
    Ok(())
}
