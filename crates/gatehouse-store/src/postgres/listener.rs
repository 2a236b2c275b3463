//! Feeds an instance's deny-list with the revocations other instances make.
//!
//! A dedicated connection `LISTEN`s on the revocation channel and applies each notice as it
//! arrives: a token's `jti` directly, a family's `jti`s after one query on the same connection
//! (so a busy pool cannot stall the feed). After (re)connecting, `LISTEN` comes first and the
//! full reload second, so nothing committed in between is missed.
//!
//! A connection can also die silently (a NAT or load balancer drops it, a pooler in
//! transaction mode swallows notices). So the listener notifies itself every [`HEARTBEAT`]; if
//! its own ping has not come back by the next one, it declares the feed lost. Whenever the feed
//! is lost or not yet loaded, the list is marked out of sync and the guard asks the database
//! instead; reconnection is retried every [`RETRY`]. The worst case in which an instance answers
//! from a list that misses a revocation is therefore 2 × [`HEARTBEAT`].

use std::time::Duration;

use futures_util::future::poll_fn;
use tokio_postgres::{AsyncMessage, Client, NoTls};

use super::{REVOCATION_CHANNEL, db, parameters};
use crate::DenyList;
use crate::codec::{Revocation, time_from_sql};
use crate::sql::statements::{FAMILY_JTIS, REVOKED_JTIS};
use crate::sql::{Row, Statement, Value, rows};

/// Time between reconnection attempts.
pub(crate) const RETRY: Duration = Duration::from_secs(1);

/// Time between the listener's pings to itself.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(2);

pub(super) fn spawn(config: tokio_postgres::Config, deny: DenyList) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = listen(&config, &deny).await {
                tracing::warn!(%error, "revocation feed lost; the guard asks the database until it is back");
            }
            deny.set_synced(false);
            tokio::time::sleep(RETRY).await;
        }
    })
}

/// Listens until the connection fails or goes silent.
async fn listen(config: &tokio_postgres::Config, deny: &DenyList) -> Result<(), String> {
    // Named, so that an operator (or a test) can find the listener in `pg_stat_activity`.
    let mut config = config.clone();
    let name = match config.get_application_name() {
        Some(name) => format!("{name} revocation listener"),
        None => "gatehouse revocation listener".to_owned(),
    };
    config.application_name(&name);
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
    let result = feed(&client, deny, &mut received).await;
    driver.abort();
    result
}

async fn feed(
    client: &Client,
    deny: &DenyList,
    received: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
) -> Result<(), String> {
    client
        .batch_execute(&format!("LISTEN {REVOCATION_CHANNEL}"))
        .await
        .map_err(|e| e.to_string())?;
    deny.replace_all(
        jti_entries(client, &REVOKED_JTIS, &[])
            .await
            .map_err(|e| e.to_string())?,
    );

    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sequence: u64 = 0;
    let mut answered = true;
    // Pings are told apart from other instances' by this connection's backend process id.
    let me = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .map_err(|e| e.to_string())?
        .get::<_, i32>(0);
    loop {
        tokio::select! {
            payload = received.recv() => {
                let Some(payload) = payload else {
                    return Err("notification connection closed".to_owned());
                };
                match serde_json::from_str::<Revocation>(&payload) {
                    Ok(Revocation::Token { jti, exp }) => {
                        let exp = time_from_sql(exp).map_err(|e| e.to_string())?;
                        deny.insert([(jti, exp)]);
                    }
                    Ok(Revocation::Family { family }) => {
                        let revoked = jti_entries(client, &FAMILY_JTIS, &[Value::from(family)])
                            .await
                            .map_err(|e| e.to_string())?;
                        deny.insert(revoked);
                    }
                    Ok(Revocation::Ping { from, sequence: n }) => {
                        if from == me && n == sequence {
                            answered = true;
                        }
                    }
                    // Not ours (another application on the channel): ignore it.
                    Err(_) => {}
                }
            }
            _ = heartbeat.tick() => {
                if !answered {
                    return Err(format!("no notification came back within {HEARTBEAT:?}"));
                }
                sequence += 1;
                answered = false;
                let ping = serde_json::to_string(&Revocation::Ping { from: me, sequence })
                    .map_err(|e| e.to_string())?;
                client
                    .execute("SELECT pg_notify($1, $2)", &[&REVOCATION_CHANNEL, &ping])
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
}

/// The `(jti, expires_at)` rows of `statement` as deny-list entries.
async fn jti_entries(
    client: &Client,
    statement: &Statement,
    params: &[Value],
) -> Result<Vec<(String, gatehouse_types::UnixTime)>, gatehouse_engine::store::StoreError> {
    client
        .query(statement.postgres(), &parameters(params))
        .await
        .map_err(db)?
        .iter()
        .map(|row| rows::jti_entry(&Row::from_postgres(row)?))
        .collect()
}
