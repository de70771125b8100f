//! The server-wide audit of console operators (`operator_audit`): who made, disabled or
//! reset an operator, and every console sign-in, refusal and sign-out. Rows are only ever
//! inserted, in the transaction of the change they describe.

use super::{Db, Tx};

/// One row of the operator audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorEvent {
    pub id: String,
    pub occurred_at: i64,
    /// `OPERATOR_CREATED`, `OPERATOR_DISABLED`, `OPERATOR_PASSWORD_RESET`,
    /// `OPERATOR_SIGNED_IN`, `OPERATOR_SIGN_IN_REFUSED`, `OPERATOR_SIGNED_OUT`.
    pub event: String,
    /// The operator the event is about (`(unknown)` for a refused unknown name).
    pub operator_name: String,
    /// Who did it: `CS_TOOL_CLIENT:openwelkin` (the CLI) or `CONSOLE_OPERATOR:<name>`.
    pub actor: String,
    /// The client address of a console sign-in or sign-out.
    pub address: Option<String>,
    /// A JSON object with the rest (a refusal's reason); never a password.
    pub detail: String,
}

pub async fn insert(tx: &mut Tx, e: &OperatorEvent) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO operator_audit (id, occurred_at, event, operator_name, actor, address, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.id.as_str())
    .bind(e.occurred_at)
    .bind(e.event.as_str())
    .bind(e.operator_name.as_str())
    .bind(e.actor.as_str())
    .bind(e.address.clone())
    .bind(e.detail.as_str())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

impl Db {
    /// A page of the operator audit, newest first, and how many rows there are in all.
    pub async fn operator_events(
        &self,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<OperatorEvent>, i64)> {
        let rows = crate::store::sql::query(
            "SELECT id, occurred_at, event, operator_name, actor, address, detail FROM operator_audit \
             ORDER BY occurred_at DESC, id DESC LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(self.reader())
        .await?;
        let total: i64 = crate::store::sql::query("SELECT COUNT(*) AS n FROM operator_audit")
            .fetch_one(self.reader())
            .await?
            .get("n");
        let events = rows
            .into_iter()
            .map(|r| OperatorEvent {
                id: r.get("id"),
                occurred_at: r.get("occurred_at"),
                event: r.get("event"),
                operator_name: r.get("operator_name"),
                actor: r.get("actor"),
                address: r.get("address"),
                detail: r.get("detail"),
            })
            .collect();
        Ok((events, total))
    }
}
