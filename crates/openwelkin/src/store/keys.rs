//! The token signing key. It lives in the database so that every node of a cluster signs
//! and accepts the same tokens; the first node to start creates it.

use super::Db;
use base64::Engine;

const PRIMARY: &str = "primary";

impl Db {
    pub async fn signing_key(&self, now_ms: i64) -> crate::store::sql::Result<Vec<u8>> {
        let fresh: [u8; 32] = rand::random();
        let mut tx = self.begin().await?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(fresh);
        crate::store::sql::query(
            "INSERT INTO signing_keys (id, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(PRIMARY)
        .bind(encoded)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let row = crate::store::sql::query("SELECT secret FROM signing_keys WHERE id = $1")
            .bind(PRIMARY)
            .fetch_one(self.reader())
            .await?;
        let stored: String = row.get("secret");
        Ok(base64::engine::general_purpose::STANDARD.decode(stored).unwrap_or_default())
    }
}
