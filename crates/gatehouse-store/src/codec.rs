//! Column encodings shared by the SQL backends. Values are stored in their wire forms (scopes as
//! the space-separated string, resources and client metadata as JSON) and parsed again on the way
//! out: a row is input like any other, and a corrupt one is an error, never a panic.

use gatehouse_engine::opaque::{CREDENTIAL_BYTES, CredentialHash};
use gatehouse_engine::store::{RefreshState, StoreError};
use gatehouse_registration::{ClientMetadata, RegisteredClientMetadata};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::{ClientId, RedirectUri, ScopeSet, UnixTime};

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("corrupt stored {what}"))
}

pub(crate) fn time_to_sql(time: UnixTime) -> i64 {
    i64::try_from(time.as_secs()).unwrap_or(i64::MAX)
}

pub(crate) fn time_from_sql(secs: i64) -> Result<UnixTime, StoreError> {
    u64::try_from(secs)
        .map(UnixTime::from_secs)
        .map_err(|_| corrupt("time"))
}

pub(crate) fn hash_from_sql(bytes: &[u8]) -> Result<CredentialHash, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(CredentialHash::from_bytes)
        .map_err(|_| corrupt("hash"))
}

pub(crate) fn sealed_from_sql(bytes: &[u8]) -> Result<[u8; CREDENTIAL_BYTES], StoreError> {
    <[u8; CREDENTIAL_BYTES]>::try_from(bytes).map_err(|_| corrupt("sealed successor"))
}

/// A refresh token's state from its columns: revoked (through its family), rotated (successor
/// and rotation time both set), or active (neither).
pub(crate) fn refresh_state_from_sql(
    revoked: bool,
    successor: Option<&[u8]>,
    sealed: Option<&[u8]>,
    rotated_at: Option<i64>,
) -> Result<RefreshState, StoreError> {
    Ok(match (revoked, successor, rotated_at) {
        (true, _, _) => RefreshState::Revoked,
        (false, Some(successor), Some(rotated_at)) => RefreshState::Rotated {
            successor: hash_from_sql(successor)?,
            sealed_successor: sealed.map(sealed_from_sql).transpose()?,
            rotated_at: time_from_sql(rotated_at)?,
        },
        (false, None, None) => RefreshState::Active,
        _ => return Err(corrupt("refresh token state")),
    })
}

pub(crate) fn client_id_from_sql(value: String) -> Result<ClientId, StoreError> {
    ClientId::new(value).map_err(|_| corrupt("client_id"))
}

pub(crate) fn redirect_uri_from_sql(value: String) -> Result<RedirectUri, StoreError> {
    RedirectUri::new(value).map_err(|_| corrupt("redirect_uri"))
}

pub(crate) fn scopes_from_sql(value: &str) -> Result<ScopeSet, StoreError> {
    ScopeSet::parse(value).map_err(|_| corrupt("scopes"))
}

pub(crate) fn resources_to_sql(resources: &[ResourceUri]) -> String {
    serde_json::Value::from(
        resources
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect::<Vec<_>>(),
    )
    .to_string()
}

pub(crate) fn resources_from_sql(value: &str) -> Result<Vec<ResourceUri>, StoreError> {
    let items: Vec<String> = serde_json::from_str(value).map_err(|_| corrupt("resources"))?;
    items
        .iter()
        .map(|r| ResourceUri::parse(r).map_err(|_| corrupt("resource")))
        .collect()
}

pub(crate) fn resource_from_sql(value: &str) -> Result<ResourceUri, StoreError> {
    ResourceUri::parse(value).map_err(|_| corrupt("resource"))
}

pub(crate) fn metadata_to_sql(metadata: &RegisteredClientMetadata) -> String {
    metadata.to_metadata().to_json()
}

pub(crate) fn metadata_from_sql(value: &str) -> Result<RegisteredClientMetadata, StoreError> {
    let document = ClientMetadata::from_json(value.as_bytes()).map_err(|_| corrupt("metadata"))?;
    RegisteredClientMetadata::restore(&document).map_err(|_| corrupt("metadata"))
}

pub(crate) fn detail_from_sql(value: &str) -> Result<crate::AuditDetail, StoreError> {
    crate::AuditDetail::from_json(value.to_owned()).map_err(|_| corrupt("audit detail"))
}

/// The payload of a revocation notification (PostgreSQL `NOTIFY`), and what an instance that
/// receives one must add to its deny-list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Revocation {
    /// One access token, until its expiry.
    Token { jti: String, exp: i64 },
    /// A whole family: the receiver loads its `jti`s.
    Family { family: String },
    /// A listener's heartbeat to itself (see `postgres::listener`); not a revocation.
    Ping { from: i32, sequence: u64 },
}
