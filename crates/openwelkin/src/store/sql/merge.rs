//! Several transactions' held-back writes as the statements of one transaction, with the
//! same single-row `INSERT` of each made one multi-row `INSERT` (`pg_groups.rs`).
//!
//! Why: on PostgreSQL a patient create costs the database about 400 µs of CPU as a
//! transaction of its own, and about 130 µs when ten go in one transaction as one
//! multi-row statement each (measured with pgbench on the server's schema, 2026-12-07):
//! most of the cost is per statement and per transaction (opening the table's seventeen
//! indexes, taking their locks, the commit), not per row.

use super::query::Deferred;
use super::value::Value;

/// PostgreSQL takes at most 65,535 parameters per statement; a merged statement stays
/// well under, else its rows go out one statement each.
const MAX_PARAMETERS: usize = 32_767;

/// How a statement's rows can be repeated: the text up to `head` (`INSERT INTO t (…)
/// VALUES `) is said once, the rest (`($1, …)`, or a `SELECT …`) once per row, joined by
/// `separator` (`, `, or ` UNION ALL `). The rest may hold no `$` but its placeholders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rows {
    pub head: usize,
    pub separator: &'static str,
}

/// The statements of `transactions`, in one transaction: each transaction's own order is
/// kept. Transactions that run the same statements (the same texts, in the same order)
/// go together, their `i`th statements one after the other, or as one statement when it
/// can repeat its rows (`Rows`).
pub fn merge(transactions: &[Vec<Deferred>]) -> Vec<Deferred> {
    let mut kinds: Vec<Vec<&[Deferred]>> = Vec::new();
    for statements in transactions {
        match kinds.iter_mut().find(|kind| same_statements(kind[0], statements)) {
            Some(kind) => kind.push(statements),
            None => kinds.push(vec![statements]),
        }
    }
    let mut out = Vec::new();
    for kind in kinds {
        let width = kind[0].len();
        let mut columns: Vec<Vec<&Deferred>> = (0..width).map(|_| Vec::with_capacity(kind.len())).collect();
        for statements in kind {
            for (i, statement) in statements.iter().enumerate() {
                columns[i].push(statement);
            }
        }
        for column in columns {
            merge_column(column, &mut out);
        }
    }
    out
}

fn same_statements(a: &[Deferred], b: &[Deferred]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.sql == y.sql)
}

/// The same statement of several transactions: one multi-row statement when it can
/// repeat its rows, else each as it is.
fn merge_column(column: Vec<&Deferred>, out: &mut Vec<Deferred>) {
    let parameters: usize = column.iter().map(|d| d.args.len()).sum();
    let rows = match column[0].rows {
        Some(rows) if column.len() > 1 && parameters <= MAX_PARAMETERS => rows,
        _ => {
            out.extend(column.into_iter().cloned());
            return;
        }
    };
    let (head, row) = column[0].sql.split_at(rows.head);
    let mut sql = String::with_capacity(head.len() + column.len() * (row.len() + rows.separator.len() + 8));
    sql.push_str(head);
    let mut args: Vec<Value> = Vec::with_capacity(parameters);
    for (i, statement) in column.into_iter().enumerate() {
        if i > 0 {
            sql.push_str(rows.separator);
        }
        renumber_into(row, args.len(), &mut sql);
        args.extend_from_slice(&statement.args);
    }
    out.push(Deferred { sql, args, rows: None });
}

/// `row` with each placeholder `$n` written as `$(n + offset)`.
fn renumber_into(row: &str, offset: usize, out: &mut String) {
    let mut rest = row;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: usize = rest[..digits].parse().expect("a placeholder is $ and a number");
        out.push_str(&(n + offset).to_string());
        rest = &rest[digits..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSERT: &str = "INSERT INTO t (a, b, c) VALUES ($1, $2, $2)";

    fn values(sql: &str, args: &[i64]) -> Deferred {
        let head = sql.find("VALUES ").map(|at| at + "VALUES ".len());
        Deferred {
            sql: sql.to_string(),
            args: args.iter().map(|&v| Value::Int(v)).collect(),
            rows: head.map(|head| Rows { head, separator: ", " }),
        }
    }

    fn plain(sql: &str, args: &[i64]) -> Deferred {
        Deferred { sql: sql.to_string(), args: args.iter().map(|&v| Value::Int(v)).collect(), rows: None }
    }

    fn ints(d: &Deferred) -> Vec<i64> {
        d.args.iter().map(|v| if let Value::Int(i) = v { *i } else { panic!("{v:?}") }).collect()
    }

    #[test]
    fn the_same_insert_of_several_transactions_becomes_one_with_its_placeholders_renumbered() {
        let merged = merge(&[
            vec![values(INSERT, &[1, 2]), plain("UPDATE u SET n = n + $1", &[1])],
            vec![values(INSERT, &[3, 4]), plain("UPDATE u SET n = n + $1", &[2])],
            vec![values(INSERT, &[5, 6]), plain("UPDATE u SET n = n + $1", &[3])],
        ]);
        let sqls: Vec<&str> = merged.iter().map(|d| d.sql.as_str()).collect();
        assert_eq!(
            sqls,
            [
                "INSERT INTO t (a, b, c) VALUES ($1, $2, $2), ($3, $4, $4), ($5, $6, $6)",
                "UPDATE u SET n = n + $1",
                "UPDATE u SET n = n + $1",
                "UPDATE u SET n = n + $1",
            ]
        );
        assert_eq!(ints(&merged[0]), [1, 2, 3, 4, 5, 6]);
        assert_eq!([ints(&merged[1]), ints(&merged[2]), ints(&merged[3])], [[1], [2], [3]]);
    }

    #[test]
    fn transactions_of_other_statements_keep_their_own_order_after_the_first_kind() {
        let merged = merge(&[
            vec![values(INSERT, &[1, 2])],
            vec![plain("DELETE FROM t WHERE a = $1", &[9]), values(INSERT, &[7, 8])],
            vec![values(INSERT, &[3, 4])],
        ]);
        let sqls: Vec<&str> = merged.iter().map(|d| d.sql.as_str()).collect();
        assert_eq!(
            sqls,
            [
                "INSERT INTO t (a, b, c) VALUES ($1, $2, $2), ($3, $4, $4)",
                "DELETE FROM t WHERE a = $1",
                "INSERT INTO t (a, b, c) VALUES ($1, $2, $2)",
            ]
        );
        assert_eq!(ints(&merged[0]), [1, 2, 3, 4]);
        assert_eq!(ints(&merged[2]), [7, 8]);
    }

    #[test]
    fn selects_joined_by_union_all_and_two_digit_placeholders() {
        let sql = "INSERT INTO o (a) SELECT CAST($1 AS TEXT) WHERE EXISTS (SELECT 1 FROM i WHERE i.x = $1 AND $10 = 1)";
        let head = "INSERT INTO o (a) ".len();
        let one = |v| Deferred {
            sql: sql.into(),
            args: vec![Value::Int(v); 10],
            rows: Some(Rows { head, separator: " UNION ALL " }),
        };
        let merged = merge(&[vec![one(1)], vec![one(2)]]);
        assert_eq!(merged.len(), 1);
        assert_eq!(
            merged[0].sql,
            "INSERT INTO o (a) SELECT CAST($1 AS TEXT) WHERE EXISTS (SELECT 1 FROM i WHERE i.x = $1 AND $10 = 1) \
             UNION ALL SELECT CAST($11 AS TEXT) WHERE EXISTS (SELECT 1 FROM i WHERE i.x = $11 AND $20 = 1)"
        );
        assert_eq!(merged[0].args.len(), 20);
    }

    #[test]
    fn one_transaction_and_statements_too_large_together_stay_as_they_are() {
        let alone = merge(&[vec![values(INSERT, &[1, 2])]]);
        assert_eq!(alone[0].sql, INSERT);
        let wide: Vec<i64> = vec![0; MAX_PARAMETERS / 2 + 1];
        let merged = merge(&[vec![values(INSERT, &wide)], vec![values(INSERT, &wide)]]);
        assert_eq!(merged.len(), 2);
        assert!(merged.iter().all(|d| d.sql == INSERT));
    }
}
