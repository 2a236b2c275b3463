//! Expiry clean-up in the background.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gatehouse_types::UnixTime;

use crate::ServerStore;

/// When the purger runs and how long sealed successors are kept.
#[derive(Debug, Clone, Copy)]
pub struct PurgeSchedule {
    /// Time between runs.
    pub every: Duration,
    /// The refresh-reuse grace period (`tokens.refresh_reuse_grace_secs`): sealed successors
    /// older than this are cleared.
    pub refresh_reuse_grace: Duration,
}

fn now() -> UnixTime {
    UnixTime::from_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

/// Spawns a task that purges expired state every `schedule.every`. The backends delete in small
/// batches, each its own short transaction, so requests interleave with a purge instead of
/// waiting for it. A failed run is logged to stderr and retried at the next tick; purging is
/// never needed for correctness. Abort the returned handle to stop it.
pub fn spawn_purger<S: ServerStore + 'static>(
    store: Arc<S>,
    schedule: PurgeSchedule,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(schedule.every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = now();
            let sealed_before = now.saturating_sub_secs(schedule.refresh_reuse_grace.as_secs());
            if let Err(error) = store.purge(now, sealed_before).await {
                tracing::warn!(%error, "expiry clean-up failed; will retry at the next run");
            }
            store.deny_list().purge(now);
        }
    })
}
