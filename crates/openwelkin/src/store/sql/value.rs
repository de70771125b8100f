//! The values a statement binds and a row holds. Both backends speak the same small set of
//! types (the schema keeps to TEXT, BIGINT, DOUBLE, BOOLEAN and BLOB/BYTEA), so a value
//! carries its own type and is bound as that type: a `NULL` remembers what it stands for,
//! and PostgreSQL never has to guess a parameter's type from the statement.

use super::error::{Error, Result};

/// The type a value is bound as (and, for a `NULL`, the type of the missing value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    Bool,
    Blob,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null(Kind),
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    Blob(Vec<u8>),
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null(kind) => *kind,
            Value::Int(_) => Kind::Int,
            Value::Real(_) => Kind::Real,
            Value::Text(_) => Kind::Text,
            Value::Bool(_) => Kind::Bool,
            Value::Blob(_) => Kind::Blob,
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Value::Null(_) => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a number",
            Value::Text(_) => "text",
            Value::Bool(_) => "a boolean",
            Value::Blob(_) => "bytes",
        }
    }
}

/// A Rust value that can be bound to a statement.
pub trait Encode {
    fn encode(self) -> Value;
}

macro_rules! encode_via {
    ($($t:ty => |$v:ident| $e:expr, $kind:expr;)*) => {$(
        impl Encode for $t {
            fn encode(self) -> Value {
                let $v = self;
                $e
            }
        }
        impl Encode for Option<$t> {
            fn encode(self) -> Value {
                match self {
                    Some($v) => $e,
                    None => Value::Null($kind),
                }
            }
        }
        impl Encode for &Option<$t> where $t: Clone {
            fn encode(self) -> Value {
                self.clone().encode()
            }
        }
    )*};
}

encode_via! {
    i64 => |v| Value::Int(v), Kind::Int;
    i32 => |v| Value::Int(v.into()), Kind::Int;
    u32 => |v| Value::Int(v.into()), Kind::Int;
    f64 => |v| Value::Real(v), Kind::Real;
    bool => |v| Value::Bool(v), Kind::Bool;
    String => |v| Value::Text(v), Kind::Text;
    Vec<u8> => |v| Value::Blob(v), Kind::Blob;
}

impl Encode for &String {
    fn encode(self) -> Value {
        Value::Text(self.clone())
    }
}
impl Encode for &str {
    fn encode(self) -> Value {
        Value::Text(self.to_string())
    }
}
impl Encode for &&str {
    fn encode(self) -> Value {
        Value::Text(self.to_string())
    }
}
impl Encode for Option<&str> {
    fn encode(self) -> Value {
        self.map_or(Value::Null(Kind::Text), |s| Value::Text(s.to_string()))
    }
}
impl Encode for Option<&String> {
    fn encode(self) -> Value {
        self.map_or(Value::Null(Kind::Text), |s| Value::Text(s.clone()))
    }
}
impl Encode for &[u8] {
    fn encode(self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl Encode for &Vec<u8> {
    fn encode(self) -> Value {
        Value::Blob(self.clone())
    }
}
impl Encode for &i64 {
    fn encode(self) -> Value {
        Value::Int(*self)
    }
}
impl Encode for Value {
    fn encode(self) -> Value {
        self
    }
}

/// A Rust value a column can be read as. Integers and booleans convert into each other
/// (SQLite keeps booleans as 0 and 1); nothing else is converted silently.
pub trait Decode: Sized {
    fn decode(value: &Value) -> std::result::Result<Self, String>;
}

fn mismatch<T>(want: &str, got: &Value) -> std::result::Result<T, String> {
    Err(format!("expected {want}, found {}", got.describe()))
}

impl Decode for i64 {
    fn decode(value: &Value) -> std::result::Result<Self, String> {
        match value {
            Value::Int(i) => Ok(*i),
            Value::Bool(b) => Ok(*b as i64),
            other => mismatch("an integer", other),
        }
    }
}
impl Decode for i32 {
    fn decode(value: &Value) -> std::result::Result<Self, String> {
        let i = i64::decode(value)?;
        i32::try_from(i).map_err(|_| format!("{i} does not fit a 32-bit integer"))
    }
}
impl Decode for u64 {
    fn decode(value: &Value) -> std::result::Result<Self, String> {
        let i = i64::decode(value)?;
        u64::try_from(i).map_err(|_| format!("{i} is negative"))
    }
}
impl Decode for f64 {
    fn decode(value: &Value) -> std::result::Result<Self, String> {
        match value {
            Value::Real(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => mismatch("a number", other),
        }
    }
}
impl Decode for bool {
    fn decode(value: &Value) -> std::result::Result<Self, String> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::Int(i) => Ok(*i != 0),
            other => mismatch("a boolean", other),
        }
    }
}
impl Decode for String {
    fn decode(value: &Value) -> std::result::Result<Self, String> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => mismatch("text", other),
        }
    }
}
impl Decode for Vec<u8> {
    fn decode(value: &Value) -> std::result::Result<Self, String> {
        match value {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => mismatch("bytes", other),
        }
    }
}
impl<T: Decode> Decode for Option<T> {
    fn decode(value: &Value) -> std::result::Result<Self, String> {
        match value {
            Value::Null(_) => Ok(None),
            other => T::decode(other).map(Some),
        }
    }
}

/// Decodes with the column named in the error.
pub(super) fn decode_column<T: Decode>(value: &Value, column: &str) -> Result<T> {
    T::decode(value).map_err(|message| Error::Decode { column: column.to_string(), message })
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null(_) => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Bool(b) => ValueRef::Integer(*b as i64),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl Value {
    pub(super) fn from_sqlite(value: rusqlite::types::ValueRef<'_>) -> Value {
        use rusqlite::types::ValueRef;
        match value {
            ValueRef::Null => Value::Null(Kind::Text),
            ValueRef::Integer(i) => Value::Int(i),
            ValueRef::Real(f) => Value::Real(f),
            // `from_utf8` checks ASCII a word at a time; `from_utf8_lossy` walks the text
            // byte by byte even when it is valid (a stored body is 1-2 KB per row).
            ValueRef::Text(t) => Value::Text(match std::str::from_utf8(t) {
                Ok(text) => text.to_owned(),
                Err(_) => String::from_utf8_lossy(t).into_owned(),
            }),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }

    pub(super) fn pg_type(&self) -> tokio_postgres::types::Type {
        use tokio_postgres::types::Type;
        match self.kind() {
            Kind::Int => Type::INT8,
            Kind::Real => Type::FLOAT8,
            Kind::Text => Type::TEXT,
            Kind::Bool => Type::BOOL,
            Kind::Blob => Type::BYTEA,
        }
    }

    /// Reads column `i` of a PostgreSQL row by its type.
    pub(super) fn from_pg(row: &tokio_postgres::Row, i: usize) -> Result<Value> {
        use tokio_postgres::types::Type;
        let ty = row.columns()[i].type_().clone();
        let name = || row.columns()[i].name().to_string();
        let wrap = |e: tokio_postgres::Error| Error::Decode { column: name(), message: e.to_string() };
        let value = if ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i).map_err(wrap)?.map_or(Value::Null(Kind::Int), Value::Int)
        } else if ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i).map_err(wrap)?.map_or(Value::Null(Kind::Int), |v| Value::Int(v.into()))
        } else if ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i).map_err(wrap)?.map_or(Value::Null(Kind::Int), |v| Value::Int(v.into()))
        } else if ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i).map_err(wrap)?.map_or(Value::Null(Kind::Bool), Value::Bool)
        } else if ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i).map_err(wrap)?.map_or(Value::Null(Kind::Real), Value::Real)
        } else if ty == Type::FLOAT4 {
            row.try_get::<_, Option<f32>>(i).map_err(wrap)?.map_or(Value::Null(Kind::Real), |v| Value::Real(v.into()))
        } else if ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i).map_err(wrap)?.map_or(Value::Null(Kind::Blob), Value::Blob)
        } else if matches!(ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN) {
            row.try_get::<_, Option<String>>(i).map_err(wrap)?.map_or(Value::Null(Kind::Text), Value::Text)
        } else {
            return Err(Error::Decode {
                column: name(),
                message: format!(
                    "PostgreSQL type {ty} is not read by the store; cast it to BIGINT, DOUBLE PRECISION or TEXT"
                ),
            });
        };
        Ok(value)
    }
}

impl tokio_postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use tokio_postgres::types::IsNull;
        match self {
            Value::Null(_) => Ok(IsNull::Yes),
            Value::Int(i) => i.to_sql(ty, out),
            Value::Real(f) => f.to_sql(ty, out),
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Bool(b) => b.to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    /// Every value is bound as the type it names itself (`pg_type`), so the statement's
    /// parameter type is always the value's own.
    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}
