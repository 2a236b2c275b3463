//! Where the engine finds clients: registered ones in the store, and clients identified by an
//! `https` URL through their Client ID Metadata Document (`documents`). Everything else the
//! engine stores passes straight through to the store.

use gatehouse_engine::Store;
use gatehouse_engine::opaque::{CREDENTIAL_BYTES, CredentialHash};
use gatehouse_engine::store::{
    AccessTokenRecord, ClientRecord, CodeEntry, CodeRecord, FamilyId, RefreshRecord, RotateOutcome,
    StoreError, TakeCode,
};
use gatehouse_store::AnyStore;
use gatehouse_types::{ClientId, UnixTime};

use crate::clock::now;
use crate::documents::ClientDocuments;

/// The store, with clients by metadata document.
pub(crate) struct Directory {
    store: AnyStore,
    documents: ClientDocuments,
}

impl Directory {
    pub(crate) fn new(store: AnyStore, documents: ClientDocuments) -> Self {
        Self { store, documents }
    }

    /// The store underneath.
    pub(crate) fn store(&self) -> &AnyStore {
        &self.store
    }

    /// Client ID Metadata Documents.
    pub(crate) fn documents(&self) -> &ClientDocuments {
        &self.documents
    }
}

impl Store for Directory {
    /// A URL `client_id` is looked up by its document when documents are enabled. A document
    /// that cannot be used makes the client unknown (`invalid_client`); the authorization
    /// endpoint asks `documents` first to show the precise reason. A transient failure is
    /// [`StoreError::Unavailable`], so the client hears `temporarily_unavailable` and retries.
    async fn client(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        if client_id.is_metadata_document_url() && self.documents.enabled() {
            return match self.documents.client(client_id, now()).await {
                Ok(client) => Ok(Some(client)),
                Err(error) if error.is_transient() => {
                    Err(StoreError::Unavailable(error.to_string()))
                }
                Err(error) => {
                    tracing::info!(client_id = client_id.as_str(), %error, "client metadata document refused");
                    Ok(None)
                }
            };
        }
        self.store.client(client_id).await
    }

    async fn insert_client(&self, client: ClientRecord) -> Result<(), StoreError> {
        self.store.insert_client(client).await
    }

    async fn insert_code(&self, code: CodeRecord) -> Result<(), StoreError> {
        self.store.insert_code(code).await
    }

    async fn code(&self, hash: &CredentialHash) -> Result<Option<CodeEntry>, StoreError> {
        self.store.code(hash).await
    }

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        family: &FamilyId,
        access_token: AccessTokenRecord,
        refresh_token: Option<RefreshRecord>,
    ) -> Result<TakeCode, StoreError> {
        self.store
            .redeem_code(hash, family, access_token, refresh_token)
            .await
    }

    async fn refresh(&self, hash: &CredentialHash) -> Result<Option<RefreshRecord>, StoreError> {
        self.store.refresh(hash).await
    }

    async fn rotate_refresh(
        &self,
        old: &CredentialHash,
        successor: RefreshRecord,
        sealed_successor: [u8; CREDENTIAL_BYTES],
        access_token: AccessTokenRecord,
        now: UnixTime,
    ) -> Result<RotateOutcome, StoreError> {
        self.store
            .rotate_refresh(old, successor, sealed_successor, access_token, now)
            .await
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<(), StoreError> {
        self.store.revoke_family(family).await
    }

    async fn record_access_token(&self, token: AccessTokenRecord) -> Result<(), StoreError> {
        self.store.record_access_token(token).await
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> Result<(), StoreError> {
        self.store.revoke_access_token(jti, expires_at).await
    }

    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        self.store.is_access_token_revoked(jti).await
    }

    async fn purge(&self, now: UnixTime, sealed_before: UnixTime) -> Result<(), StoreError> {
        self.store.purge(now, sealed_before).await
    }
}
