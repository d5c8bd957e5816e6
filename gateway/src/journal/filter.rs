//! The WHERE clause of a list query, built from optional filters with numbered placeholders, so
//! every list speaks both backends' SQL the same way and no value is ever spliced into the text.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::JournalError;

#[derive(Debug, Default)]
pub struct Filter {
    conditions: String,
    binds: Vec<String>,
    /// A filter on an empty set of values: the query can match nothing.
    matches_nothing: bool,
}

impl Filter {
    pub fn new() -> Filter {
        Filter::default()
    }

    fn placeholder(&mut self, value: String) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// `column = value`, when a value is given.
    pub fn equal(mut self, column: &str, value: Option<String>) -> Filter {
        if let Some(value) = value {
            let placeholder = self.placeholder(value);
            self.conditions.push_str(&format!(" AND {column} = {placeholder}"));
        }
        self
    }

    /// `column IN (values)`, when a list is given (`None` means no restriction).
    pub fn one_of(mut self, column: &str, values: Option<&[String]>) -> Filter {
        if let Some(values) = values {
            if values.is_empty() {
                self.matches_nothing = true;
                return self;
            }
            let placeholders: Vec<String> = values.iter().map(|value| self.placeholder(value.clone())).collect();
            self.conditions.push_str(&format!(" AND {column} IN ({})", placeholders.join(", ")));
        }
        self
    }

    /// `column <> value` when a value is given.
    pub fn not_equal(mut self, column: &str, value: Option<String>) -> Filter {
        if let Some(value) = value {
            let placeholder = self.placeholder(value);
            self.conditions.push_str(&format!(" AND {column} <> {placeholder}"));
        }
        self
    }

    /// Runs `SELECT {columns} FROM {table} WHERE … {tail}`.
    pub async fn fetch(
        self,
        conn: &mut AnyConnection,
        columns: &str,
        table: &str,
        tail: &str,
    ) -> Result<Vec<AnyRow>, JournalError> {
        if self.matches_nothing {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {columns} FROM {table} WHERE 1 = 1{} {tail}", self.conditions);
        let mut query = sqlx::query(&sql);
        for bind in self.binds {
            query = query.bind(bind);
        }
        Ok(query.fetch_all(conn).await?)
    }
}
