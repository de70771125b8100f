//! A row read from either backend, with its values already converted, so that the code
//! reading it never depends on which database answered.

use super::error::{Error, Result};
use super::value::{decode_column, Decode, Value};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

/// How a column is named: by position or by name.
pub trait ColumnIndex {
    fn position(&self, row: &Row) -> Result<usize>;
}

impl ColumnIndex for usize {
    fn position(&self, row: &Row) -> Result<usize> {
        if *self < row.values.len() {
            Ok(*self)
        } else {
            Err(Error::ColumnNotFound(self.to_string()))
        }
    }
}

impl ColumnIndex for &str {
    fn position(&self, row: &Row) -> Result<usize> {
        row.columns.iter().position(|c| c == self).ok_or_else(|| Error::ColumnNotFound(self.to_string()))
    }
}

impl Row {
    pub(super) fn new(columns: Arc<[String]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    /// The column's value as `T`; panics when the column is missing or of another type,
    /// which is a defect in the query that read it.
    #[track_caller]
    pub fn get<T: Decode, I: ColumnIndex>(&self, index: I) -> T {
        match self.try_get(index) {
            Ok(value) => value,
            Err(e) => panic!("{e}"),
        }
    }

    pub fn try_get<T: Decode, I: ColumnIndex>(&self, index: I) -> Result<T> {
        let at = index.position(self)?;
        decode_column(&self.values[at], &self.columns[at])
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }
}
