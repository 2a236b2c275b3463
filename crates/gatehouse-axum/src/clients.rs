//! Who a request names: the one place where the HTTP layer resolves the client a request claims
//! to be, before the engine decides. A `client_id` that is an `https` URL is described by its
//! Client ID Metadata Document (fetched by `documents`); any other is a row of the store. The
//! engine is handed the result and does no lookup of its own.

use gatehouse_engine::EndpointError;
use gatehouse_engine::store::{ClientRecord, StoreError};
use gatehouse_store::{AnyStore, ServerStore};
use gatehouse_types::{ClientId, UnixTime};

use crate::documents::{ClientDocuments, DocumentError};

/// Why a client could not be resolved.
#[derive(Debug)]
pub(crate) enum Unresolved {
    /// Its metadata document cannot be used (the reason is for the client's developer).
    Document(DocumentError),
    /// The store failed.
    Store(StoreError),
}

impl Unresolved {
    /// As a token, introspection or revocation endpoint answers it: a document that failed for
    /// a reason that may pass is `temporarily_unavailable` (503), so the client retries; one
    /// that cannot be used makes the client unknown (`invalid_client`, decided by the engine).
    pub(crate) fn for_endpoint(
        self,
        client_id: &ClientId,
    ) -> Result<Option<ClientRecord>, EndpointError> {
        match self {
            Self::Document(error) if error.is_transient() => {
                Err(StoreError::Unavailable(error.to_string()).into())
            }
            Self::Document(error) => {
                tracing::info!(client_id = client_id.as_str(), %error, "client metadata document refused");
                Ok(None)
            }
            Self::Store(error) => Err(error.into()),
        }
    }
}

/// The client `client_id` names: registered in `store`, or described by its metadata document
/// when documents are enabled. `Ok(None)`: no such client.
pub(crate) async fn resolve(
    store: &AnyStore,
    documents: &ClientDocuments,
    client_id: &ClientId,
    now: UnixTime,
) -> Result<Option<ClientRecord>, Unresolved> {
    if client_id.is_metadata_document_url() && documents.enabled() {
        return documents
            .client(client_id, now)
            .await
            .map(Some)
            .map_err(Unresolved::Document);
    }
    store.client(client_id).await.map_err(Unresolved::Store)
}
