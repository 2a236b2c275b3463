//! Records to parameters and rows to records, once for both SQL backends. The parameter lists
//! and the column indexes follow the column lists of `statements`.

use gatehouse_engine::CodeChallenge;
use gatehouse_engine::opaque::CredentialHash;
use gatehouse_engine::store::{
    AccessTokenRecord, ClientRecord, CodeEntry, CodeRecord, FamilyId, RefreshRecord, RefreshState,
    StoreError,
};
use gatehouse_types::UnixTime;

use super::{Row, Value};
use crate::codec::{self, corrupt, time_from_sql, time_to_sql};
use crate::server::{
    AuditEvent, Consent, Grant, IdentityRecord, SessionRecord, SignInFailures, StoredSigningKey,
    UserRecord,
};

/// A credential hash as a parameter.
pub(crate) fn hash_param(hash: &CredentialHash) -> Value {
    Value::Bytes(hash.as_bytes().to_vec())
}

/// A time as a parameter.
pub(crate) fn time_param(time: UnixTime) -> Value {
    Value::Int(time_to_sql(time))
}

pub(crate) fn client_params(client: &ClientRecord) -> Vec<Value> {
    vec![
        client.client_id.as_str().into(),
        codec::metadata_to_sql(&client.metadata).into(),
        client
            .secret_hash
            .as_ref()
            .map(hash_param)
            .unwrap_or(Value::Null),
        client
            .secret_expires_at
            .map(time_param)
            .unwrap_or(Value::Null),
        client
            .registration_token_hash
            .as_ref()
            .map(hash_param)
            .unwrap_or(Value::Null),
        time_param(client.issued_at),
        codec::resources_to_sql(&client.introspection_resources).into(),
    ]
}

pub(crate) fn client(row: &Row) -> Result<ClientRecord, StoreError> {
    Ok(ClientRecord {
        client_id: codec::client_id_from_sql(row.text(0)?.to_owned())?,
        metadata: codec::metadata_from_sql(row.text(1)?)?,
        secret_hash: row.opt_bytes(2)?.map(codec::hash_from_sql).transpose()?,
        secret_expires_at: row.opt_int(3)?.map(time_from_sql).transpose()?,
        registration_token_hash: row.opt_bytes(4)?.map(codec::hash_from_sql).transpose()?,
        issued_at: time_from_sql(row.int(5)?)?,
        introspection_resources: codec::resources_from_sql(row.text(6)?)?,
    })
}

pub(crate) fn code_params(code: &CodeRecord) -> Vec<Value> {
    vec![
        hash_param(&code.hash),
        code.client_id.as_str().into(),
        code.redirect_uri.as_str().into(),
        code.redirect_uri_was_explicit.into(),
        code.challenge.as_str().into(),
        code.scopes.to_string().into(),
        codec::resources_to_sql(&code.resources).into(),
        code.subject.as_str().into(),
        time_param(code.issued_at),
        time_param(code.expires_at),
        code.dpop_jkt.as_deref().into(),
    ]
}

pub(crate) fn code(row: &Row) -> Result<CodeEntry, StoreError> {
    Ok(CodeEntry {
        record: CodeRecord {
            hash: codec::hash_from_sql(row.bytes(0)?)?,
            client_id: codec::client_id_from_sql(row.text(1)?.to_owned())?,
            redirect_uri: codec::redirect_uri_from_sql(row.text(2)?.to_owned())?,
            redirect_uri_was_explicit: row.boolean(3)?,
            challenge: CodeChallenge::parse(row.text(4)?).map_err(|_| corrupt("challenge"))?,
            scopes: codec::scopes_from_sql(row.text(5)?)?,
            resources: codec::resources_from_sql(row.text(6)?)?,
            subject: row.text(7)?.to_owned(),
            issued_at: time_from_sql(row.int(8)?)?,
            expires_at: time_from_sql(row.int(9)?)?,
            dpop_jkt: row.opt_text(11)?.map(str::to_owned),
        },
        redeemed_into: row
            .opt_text(10)?
            .map(|family| FamilyId::new(family.to_owned())),
    })
}

/// An active refresh token's parameters: only active tokens are inserted (a rotation records
/// its successor on the predecessor's row).
pub(crate) fn refresh_params(token: &RefreshRecord) -> Result<Vec<Value>, StoreError> {
    if token.state != RefreshState::Active {
        return Err(StoreError::Unavailable(
            "only active refresh tokens are inserted".into(),
        ));
    }
    Ok(vec![
        hash_param(&token.hash),
        token.family.as_str().into(),
        token.client_id.as_str().into(),
        token.subject.as_str().into(),
        token.scopes.to_string().into(),
        codec::resources_to_sql(&token.resources).into(),
        time_param(token.issued_at),
        time_param(token.expires_at),
        token.dpop_jkt.as_deref().into(),
    ])
}

pub(crate) fn refresh(row: &Row) -> Result<RefreshRecord, StoreError> {
    let state = codec::refresh_state_from_sql(
        row.boolean(11)?,
        row.opt_bytes(8)?,
        row.opt_bytes(9)?,
        row.opt_int(10)?,
    )?;
    Ok(RefreshRecord {
        hash: codec::hash_from_sql(row.bytes(0)?)?,
        family: FamilyId::new(row.text(1)?.to_owned()),
        client_id: codec::client_id_from_sql(row.text(2)?.to_owned())?,
        subject: row.text(3)?.to_owned(),
        scopes: codec::scopes_from_sql(row.text(4)?)?,
        resources: codec::resources_from_sql(row.text(5)?)?,
        issued_at: time_from_sql(row.int(6)?)?,
        expires_at: time_from_sql(row.int(7)?)?,
        dpop_jkt: row.opt_text(12)?.map(str::to_owned),
        state,
    })
}

pub(crate) fn access_token_params(token: &AccessTokenRecord) -> Vec<Value> {
    vec![
        token.jti.as_str().into(),
        token.family.as_str().into(),
        token.client_id.as_str().into(),
        time_param(token.expires_at),
    ]
}

/// A `(jti, expires_at)` row as a deny-list entry.
pub(crate) fn jti_entry(row: &Row) -> Result<(String, UnixTime), StoreError> {
    Ok((row.text(0)?.to_owned(), time_from_sql(row.int(1)?)?))
}

/// The first column, text or null: the families a deletion found.
pub(crate) fn family(row: &Row) -> Result<Option<String>, StoreError> {
    Ok(row.opt_text(0)?.map(str::to_owned))
}

pub(crate) fn grant(row: &Row) -> Result<Grant, StoreError> {
    Ok(Grant {
        family: FamilyId::new(row.text(0)?.to_owned()),
        client_id: codec::client_id_from_sql(row.text(1)?.to_owned())?,
        scopes: codec::scopes_from_sql(row.text(2)?)?,
        resources: codec::resources_from_sql(row.text(3)?)?,
        last_used: time_from_sql(row.int(4)?)?,
    })
}

pub(crate) fn user_params(user: &UserRecord) -> Vec<Value> {
    vec![
        user.name.as_str().into(),
        user.password_hash.as_str().into(),
        time_param(user.created_at),
    ]
}

pub(crate) fn user(row: &Row) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        name: row.text(0)?.to_owned(),
        password_hash: row.text(1)?.to_owned(),
        created_at: time_from_sql(row.int(2)?)?,
    })
}

pub(crate) fn identity(row: &Row) -> Result<IdentityRecord, StoreError> {
    Ok(IdentityRecord {
        subject: row.text(0)?.to_owned(),
        groups: groups(row.text(1)?)?,
        sealed_tokens: row.opt_bytes(2)?.map(<[u8]>::to_vec),
        version: row.int(3)?,
        updated_at: time_from_sql(row.int(4)?)?,
    })
}

/// Groups are kept as a JSON array of strings.
pub(crate) fn groups(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| corrupt("an identity's groups"))
}

pub(crate) fn groups_text(groups: &[String]) -> String {
    serde_json::to_string(groups).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn sign_in_failures(row: &Row) -> Result<SignInFailures, StoreError> {
    Ok(SignInFailures {
        count: u32::try_from(row.int(0)?).map_err(|_| corrupt("failed sign-in count"))?,
        last_at: row.opt_int(1)?.map(time_from_sql).transpose()?,
    })
}

pub(crate) fn session_params(session: &SessionRecord) -> Vec<Value> {
    vec![
        hash_param(&session.hash),
        session.subject.as_str().into(),
        time_param(session.created_at),
        time_param(session.expires_at),
    ]
}

/// A session row (`subject, created_at, expires_at`), found by its `hash`.
pub(crate) fn session(row: &Row, hash: CredentialHash) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        hash,
        subject: row.text(0)?.to_owned(),
        created_at: time_from_sql(row.int(1)?)?,
        expires_at: time_from_sql(row.int(2)?)?,
    })
}

pub(crate) fn consent_params(consent: &Consent) -> Vec<Value> {
    vec![
        consent.subject.as_str().into(),
        consent.client_id.as_str().into(),
        consent.resource.as_str().into(),
        consent.scopes.to_string().into(),
        time_param(consent.granted_at),
    ]
}

pub(crate) fn consent(row: &Row) -> Result<Consent, StoreError> {
    Ok(Consent {
        subject: row.text(0)?.to_owned(),
        client_id: codec::client_id_from_sql(row.text(1)?.to_owned())?,
        resource: codec::resource_from_sql(row.text(2)?)?,
        scopes: codec::scopes_from_sql(row.text(3)?)?,
        granted_at: time_from_sql(row.int(4)?)?,
    })
}

pub(crate) fn key_params(key: &StoredSigningKey) -> Vec<Value> {
    vec![
        key.kid.as_str().into(),
        key.alg.as_str().into(),
        key.sealed_private_jwk.clone().into(),
        time_param(key.created_at),
        key.retired_at.map(time_param).unwrap_or(Value::Null),
    ]
}

pub(crate) fn key(row: &Row) -> Result<StoredSigningKey, StoreError> {
    Ok(StoredSigningKey {
        kid: row.text(0)?.to_owned(),
        alg: row.text(1)?.to_owned(),
        sealed_private_jwk: row.bytes(2)?.to_vec(),
        created_at: time_from_sql(row.int(3)?)?,
        retired_at: row.opt_int(4)?.map(time_from_sql).transpose()?,
    })
}

/// The parameters of `APPEND_AUDIT`, in its column order; the texts move, uncopied.
pub(crate) fn audit_params(event: AuditEvent) -> [Value; super::statements::AUDIT_COLUMNS] {
    [
        time_param(event.at),
        event.kind.into(),
        event.subject.into(),
        event.client_id.into(),
        event.detail.into_string().into(),
        event.resource.into(),
        event.tool.into(),
    ]
}

pub(crate) fn audit_event(row: &Row) -> Result<(i64, AuditEvent), StoreError> {
    Ok((
        row.int(0)?,
        AuditEvent {
            at: time_from_sql(row.int(1)?)?,
            kind: row.text(2)?.to_owned(),
            subject: row.opt_text(3)?.map(str::to_owned),
            client_id: row.opt_text(4)?.map(str::to_owned),
            detail: codec::detail_from_sql(row.text(5)?)?,
            resource: row.opt_text(6)?.map(str::to_owned),
            tool: row.opt_text(7)?.map(str::to_owned),
        },
    ))
}
