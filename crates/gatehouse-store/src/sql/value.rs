//! Backend-neutral values: what a statement is given ([`Value`]) and what a row holds ([`Row`]).
//! Both drivers convert to and from them, so that a record is turned into parameters and read
//! back from a row once, whichever database holds it.

use std::error::Error;

use bytes::BytesMut;
use gatehouse_engine::store::StoreError;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::codec::corrupt;

/// One SQL value. The schema has no other types: integers (times, counts), booleans (stored as
/// integers by SQLite), text and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<Vec<u8>> for Value {
    fn from(value: Vec<u8>) -> Self {
        Self::Bytes(value)
    }
}

impl From<&[u8]> for Value {
    fn from(value: &[u8]) -> Self {
        Self::Bytes(value.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Null => ValueRef::Null,
            Self::Int(value) => ValueRef::Integer(*value),
            Self::Bool(value) => ValueRef::Integer(i64::from(*value)),
            Self::Text(value) => ValueRef::Text(value.as_bytes()),
            Self::Bytes(value) => ValueRef::Blob(value),
        }))
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        // `accepts` is asked of the type, not the value: a value of the wrong kind for its
        // parameter is refused here, before the driver writes bytes the server would misread.
        let fits = match self {
            Self::Null => true,
            Self::Int(_) => *ty == Type::INT8 || *ty == Type::INT4,
            Self::Bool(_) => <bool as ToSql>::accepts(ty),
            Self::Text(_) => <String as ToSql>::accepts(ty),
            Self::Bytes(_) => <Vec<u8> as ToSql>::accepts(ty),
        };
        if !fits {
            return Err(format!("{self:?} cannot be a parameter of type {ty}").into());
        }
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Int(value) if *ty == Type::INT4 => i32::try_from(*value)?.to_sql(ty, out),
            Self::Int(value) => value.to_sql(ty, out),
            Self::Bool(value) => value.to_sql(ty, out),
            Self::Text(value) => value.to_sql(ty, out),
            Self::Bytes(value) => value.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INT8
            || *ty == Type::INT4
            || <bool as ToSql>::accepts(ty)
            || <String as ToSql>::accepts(ty)
            || <Vec<u8> as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

/// A row read from either database, its columns in the statement's order. A column of the wrong
/// kind is a corrupt row: an error, never a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row(Vec<Value>);

impl Row {
    /// Reads every column of a SQLite row.
    pub(crate) fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        use rusqlite::types::ValueRef;
        let count = row.as_ref().column_count();
        let mut values = Vec::with_capacity(count);
        for index in 0..count {
            values.push(match row.get_ref(index)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(value) => Value::Int(value),
                ValueRef::Text(text) => match std::str::from_utf8(text) {
                    Ok(text) => Value::Text(text.to_owned()),
                    // Kept as bytes; reading it as text reports a corrupt column.
                    Err(_) => Value::Bytes(text.to_vec()),
                },
                ValueRef::Blob(bytes) => Value::Bytes(bytes.to_vec()),
                ValueRef::Real(_) => Value::Null,
            });
        }
        Ok(Self(values))
    }

    /// Reads every column of a PostgreSQL row.
    pub(crate) fn from_postgres(row: &tokio_postgres::Row) -> Result<Self, StoreError> {
        let mut values = Vec::with_capacity(row.len());
        for (index, column) in row.columns().iter().enumerate() {
            let ty = column.type_();
            let value = if *ty == Type::INT8 {
                row.try_get::<_, Option<i64>>(index).map(Value::from)
            } else if *ty == Type::INT4 {
                row.try_get::<_, Option<i32>>(index)
                    .map(|value| value.map(i64::from).into())
            } else if *ty == Type::BOOL {
                row.try_get::<_, Option<bool>>(index).map(Value::from)
            } else if *ty == Type::BYTEA {
                row.try_get::<_, Option<Vec<u8>>>(index).map(Value::from)
            } else if <String as tokio_postgres::types::FromSql>::accepts(ty) {
                row.try_get::<_, Option<String>>(index).map(Value::from)
            } else {
                return Err(corrupt(&format!("column of type {ty}")));
            };
            // The column's type was checked above: a failure here is a value it cannot hold.
            values.push(value.map_err(|_| corrupt(&format!("column of type {ty}")))?);
        }
        Ok(Self(values))
    }

    /// A row of these values (for tests).
    #[cfg(test)]
    pub(crate) fn of(values: Vec<Value>) -> Self {
        Self(values)
    }

    fn column(&self, index: usize) -> Result<&Value, StoreError> {
        self.0
            .get(index)
            .ok_or_else(|| corrupt("row (too few columns)"))
    }

    /// An integer column.
    pub(crate) fn int(&self, index: usize) -> Result<i64, StoreError> {
        self.opt_int(index)?
            .ok_or_else(|| corrupt("integer (null)"))
    }

    /// An integer column that may be null.
    pub(crate) fn opt_int(&self, index: usize) -> Result<Option<i64>, StoreError> {
        match self.column(index)? {
            Value::Null => Ok(None),
            Value::Int(value) => Ok(Some(*value)),
            _ => Err(corrupt("integer")),
        }
    }

    /// A boolean column: PostgreSQL's `BOOLEAN`, SQLite's 0 or 1.
    pub(crate) fn boolean(&self, index: usize) -> Result<bool, StoreError> {
        match self.column(index)? {
            Value::Bool(value) => Ok(*value),
            Value::Int(0) => Ok(false),
            Value::Int(1) => Ok(true),
            _ => Err(corrupt("boolean")),
        }
    }

    /// A text column.
    pub(crate) fn text(&self, index: usize) -> Result<&str, StoreError> {
        self.opt_text(index)?.ok_or_else(|| corrupt("text (null)"))
    }

    /// A text column that may be null.
    pub(crate) fn opt_text(&self, index: usize) -> Result<Option<&str>, StoreError> {
        match self.column(index)? {
            Value::Null => Ok(None),
            Value::Text(value) => Ok(Some(value)),
            _ => Err(corrupt("text")),
        }
    }

    /// A bytes column.
    pub(crate) fn bytes(&self, index: usize) -> Result<&[u8], StoreError> {
        self.opt_bytes(index)?
            .ok_or_else(|| corrupt("bytes (null)"))
    }

    /// A bytes column that may be null.
    pub(crate) fn opt_bytes(&self, index: usize) -> Result<Option<&[u8]>, StoreError> {
        match self.column(index)? {
            Value::Null => Ok(None),
            Value::Bytes(value) => Ok(Some(value)),
            _ => Err(corrupt("bytes")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_of_the_wrong_kind_is_corrupt_not_a_panic() {
        let row = Row::of(vec![
            Value::Int(7),
            Value::Text("x".into()),
            Value::Null,
            Value::Int(1),
        ]);
        assert_eq!(row.int(0), Ok(7));
        assert_eq!(row.text(1), Ok("x"));
        assert_eq!(row.opt_bytes(2), Ok(None));
        assert!(row.boolean(3).unwrap());
        assert!(row.text(0).is_err());
        assert!(row.int(1).is_err());
        assert!(row.int(2).is_err());
        assert!(row.boolean(0).is_err());
        assert!(row.bytes(9).is_err());
    }

    #[test]
    fn a_value_of_the_wrong_kind_is_refused_by_postgres_binding() {
        let mut out = BytesMut::new();
        assert!(Value::Int(1).to_sql(&Type::TEXT, &mut out).is_err());
        assert!(
            Value::Text("1".into())
                .to_sql(&Type::INT8, &mut out)
                .is_err()
        );
        assert!(Value::Int(i64::MAX).to_sql(&Type::INT4, &mut out).is_err());
        assert!(Value::Null.to_sql(&Type::BYTEA, &mut out).is_ok());
        assert!(Value::Int(5).to_sql(&Type::INT4, &mut out).is_ok());
    }
}
