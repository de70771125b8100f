//! A small builder for the dynamic parts of list queries (filters, order, paging), so
//! that every value is bound, never spliced into SQL.

use super::sql::Query;

#[derive(Clone, Debug)]
pub enum Arg {
    Text(String),
    Int(i64),
}

/// `WHERE` clauses joined with AND, with their arguments in order.
#[derive(Default)]
pub struct Where {
    sql: String,
    args: Vec<Arg>,
    /// Placeholders bound before this clause (e.g. the values of an UPDATE's SET).
    offset: usize,
}

impl Where {
    /// A clause whose placeholders start after `n` bound before it.
    pub fn after(n: usize) -> Self {
        Where { offset: n, ..Default::default() }
    }

    /// Adds a clause; each `?` in it is replaced by the next `$n` placeholder.
    pub fn and(&mut self, clause: &str, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        self.sql.push_str(if self.sql.is_empty() { " WHERE " } else { " AND " });
        let mut args = args.into_iter();
        for ch in clause.chars() {
            if ch == '?' {
                let arg = args.next().expect("one argument per placeholder");
                self.args.push(arg);
                self.sql.push_str(&format!("${}", self.offset + self.args.len()));
            } else {
                self.sql.push(ch);
            }
        }
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn bind<'q>(&self, mut q: Query<'q>) -> Query<'q> {
        for arg in &self.args {
            q = match arg {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// A sort resolved to a column name the store knows.
#[derive(Clone, Debug)]
pub struct SortColumn {
    pub column: &'static str,
    pub descending: bool,
}

/// `ORDER BY` for the given sorts, ending with the id so that pages are stable.
pub fn order_by(sorts: &[SortColumn], default: &str) -> String {
    order_by_then(sorts, default, "id")
}

/// `ORDER BY` for the given sorts, ending with `tie`, a column unique to each row (patients
/// break ties by their insert order, see `store::patients`).
pub fn order_by_then(sorts: &[SortColumn], default: &str, tie: &str) -> String {
    order_terms(sorts, default, tie, "")
}

/// `order_by_then` with every term written `+column`: SQLite then takes the order from no
/// index, and is free to find the rows through the index of a filter (see
/// `store::patients::page_order`).
pub fn order_by_then_unindexed(sorts: &[SortColumn], default: &str, tie: &str) -> String {
    order_terms(sorts, default, tie, "+")
}

fn order_terms(sorts: &[SortColumn], default: &str, tie: &str, prefix: &str) -> String {
    let mut parts: Vec<String> =
        sorts.iter().map(|s| format!("{prefix}{} {}", s.column, if s.descending { "DESC" } else { "ASC" })).collect();
    if parts.is_empty() {
        parts.push(format!("{prefix}{default} ASC"));
    }
    parts.push(format!("{prefix}{tie} ASC"));
    format!(" ORDER BY {}", parts.join(", "))
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern that matches a substring.
pub fn contains_pattern(needle: &str) -> String {
    let mut out = String::from("%");
    for ch in needle.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut w = Where::default();
        w.and("a = ?", [Arg::Int(1)]).and("(b = ? OR c = ?)", [Arg::Text("x".into()), Arg::Text("y".into())]);
        assert_eq!(w.sql(), " WHERE a = $1 AND (b = $2 OR c = $3)");
        assert_eq!(contains_pattern("50%_A"), "%50\\%\\_a%");
    }
}
