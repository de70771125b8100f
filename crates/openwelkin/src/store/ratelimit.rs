//! Token request throttling, counted in the database so that it holds across nodes:
//! more than `limit` requests in `window` blocks the client for `block`.

use super::Db;

pub struct TokenLimit {
    pub limit: i64,
    pub window_ms: i64,
    pub block_ms: i64,
}

impl Default for TokenLimit {
    fn default() -> Self {
        TokenLimit { limit: 100, window_ms: 5 * 60 * 1000, block_ms: 5 * 60 * 1000 }
    }
}

impl Db {
    /// Records one token request and tells whether it may proceed. Returns the time (ms)
    /// until which the client is blocked when it may not.
    pub async fn admit_token_request(
        &self,
        client_key: &str,
        now_ms: i64,
        limit: &TokenLimit,
    ) -> crate::store::sql::Result<Result<(), i64>> {
        let mut tx = self.begin().await?;
        // The upsert locks this client's row until the commit, on every backend and across
        // nodes: concurrent requests for one client are counted one after the other, so
        // the limit holds exactly (without it, PostgreSQL transactions counted side by
        // side and let a few over the limit). `blocked_until = 0` means "not blocked".
        let blocked = crate::store::sql::query(
            "INSERT INTO token_blocks (client_key, blocked_until) VALUES ($1, 0) \
             ON CONFLICT (client_key) DO UPDATE SET client_key = excluded.client_key \
             RETURNING blocked_until",
        )
        .bind(client_key)
        .fetch_one(&mut *tx)
        .await?
        .get::<i64, _>("blocked_until");
        if blocked > now_ms {
            tx.commit().await?;
            return Ok(Err(blocked));
        }
        crate::store::sql::query("DELETE FROM token_requests WHERE client_key = $1 AND requested_at <= $2")
            .bind(client_key)
            .bind(now_ms - limit.window_ms)
            .execute(&mut *tx)
            .await?;
        crate::store::sql::query("INSERT INTO token_requests (client_key, requested_at) VALUES ($1, $2)")
            .bind(client_key)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        let count: i64 = crate::store::sql::query("SELECT COUNT(*) AS n FROM token_requests WHERE client_key = $1")
            .bind(client_key)
            .fetch_one(&mut *tx)
            .await?
            .get("n");
        let verdict = if count > limit.limit {
            let until = now_ms + limit.block_ms;
            crate::store::sql::query(
                "INSERT INTO token_blocks (client_key, blocked_until) VALUES ($1, $2) \
                 ON CONFLICT (client_key) DO UPDATE SET blocked_until = excluded.blocked_until",
            )
            .bind(client_key)
            .bind(until)
            .execute(&mut *tx)
            .await?;
            crate::store::sql::query("DELETE FROM token_requests WHERE client_key = $1")
                .bind(client_key)
                .execute(&mut *tx)
                .await?;
            Err(until)
        } else {
            Ok(())
        };
        tx.commit().await?;
        Ok(verdict)
    }
}
