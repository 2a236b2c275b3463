//! Concurrency without threads: a store that yields before every call, and a scheduler that
//! interleaves two requests' polls as a bit pattern says, so races are reproducible.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use gatehouse_engine::opaque::{CREDENTIAL_BYTES, CredentialHash};
use gatehouse_engine::store::{
    AccessTokenRecord, ClientRecord, CodeEntry, CodeRecord, FamilyId, RefreshRecord, RotateOutcome,
    StoreError, TakeCode,
};
use gatehouse_engine::{MemoryStore, Store};
use gatehouse_types::UnixTime;

/// Pending once, then ready: an await point where another request can run.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// The shared [`MemoryStore`] behind an await point before each operation, so two requests can
/// interleave between any two store calls, as they do against a database.
pub struct Yielding<'a>(pub &'a MemoryStore);

impl Store for Yielding<'_> {
    async fn insert_client(&self, client: ClientRecord) -> Result<(), StoreError> {
        YieldOnce(false).await;
        self.0.insert_client(client).await
    }

    async fn insert_code(&self, code: CodeRecord) -> Result<(), StoreError> {
        YieldOnce(false).await;
        self.0.insert_code(code).await
    }

    async fn code(&self, hash: &CredentialHash) -> Result<Option<CodeEntry>, StoreError> {
        YieldOnce(false).await;
        self.0.code(hash).await
    }

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        family: &FamilyId,
        access_token: AccessTokenRecord,
        refresh_token: Option<RefreshRecord>,
    ) -> Result<TakeCode, StoreError> {
        YieldOnce(false).await;
        self.0
            .redeem_code(hash, family, access_token, refresh_token)
            .await
    }

    async fn refresh(&self, hash: &CredentialHash) -> Result<Option<RefreshRecord>, StoreError> {
        YieldOnce(false).await;
        self.0.refresh(hash).await
    }

    async fn rotate_refresh(
        &self,
        old: &CredentialHash,
        successor: RefreshRecord,
        sealed_successor: [u8; CREDENTIAL_BYTES],
        access_token: AccessTokenRecord,
        now: UnixTime,
    ) -> Result<RotateOutcome, StoreError> {
        YieldOnce(false).await;
        self.0
            .rotate_refresh(old, successor, sealed_successor, access_token, now)
            .await
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<(), StoreError> {
        YieldOnce(false).await;
        self.0.revoke_family(family).await
    }

    async fn record_access_token(&self, token: AccessTokenRecord) -> Result<(), StoreError> {
        YieldOnce(false).await;
        self.0.record_access_token(token).await
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> Result<(), StoreError> {
        YieldOnce(false).await;
        self.0.revoke_access_token(jti, expires_at).await
    }

    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        YieldOnce(false).await;
        self.0.is_access_token_revoked(jti).await
    }

    async fn access_token_family(&self, jti: &str) -> Result<Option<FamilyId>, StoreError> {
        YieldOnce(false).await;
        self.0.access_token_family(jti).await
    }

    async fn use_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        YieldOnce(false).await;
        self.0.use_assertion(issuer, jti, expires_at).await
    }

    async fn purge(&self, now: UnixTime, sealed_before: UnixTime) -> Result<(), StoreError> {
        YieldOnce(false).await;
        self.0.purge(now, sealed_before).await
    }
}

/// Polls two futures to completion, one poll at a time; while both are pending, bit `n` of
/// `schedule` (cyclically) picks which one gets poll `n` (0: the first).
pub fn run_pair<A: Future, B: Future>(a: A, b: B, schedule: u32) -> (A::Output, B::Output) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let mut cx = Context::from_waker(Waker::noop());
    let (mut done_a, mut done_b) = (None, None);
    let mut turn = 0u32;
    loop {
        let first = match (&done_a, &done_b) {
            (Some(_), Some(_)) => break,
            (None, None) => schedule.rotate_right(turn) & 1 == 0,
            (pending_a, _) => pending_a.is_none(),
        };
        turn = turn.wrapping_add(1);
        if first {
            if let Poll::Ready(value) = a.as_mut().poll(&mut cx) {
                done_a = Some(value);
            }
        } else if let Poll::Ready(value) = b.as_mut().poll(&mut cx) {
            done_b = Some(value);
        }
    }
    (done_a.unwrap(), done_b.unwrap())
}
