//! The files of emails and drafts: the uploads a body brought, stored after those an
//! email or draft already has (at most `MAX_FILES`), and one of them read back.

use super::{invalid, COMPONENT};
use crate::app::AppState;
use crate::domain::email;
use crate::domain::FieldError;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::scope::InstanceScope;
use crate::store::emails::{self as store, Attachment};
use crate::store::Tx;
use serde_json::{json, Value};

/// The multipart part name of an attached file (V8).
pub const FILE_PART: &str = "attachmentsAsFiles";
/// At most this many files per email.
pub const MAX_FILES: usize = 10;

/// A file part of a multipart body.
pub struct Upload {
    pub part: String,
    pub file: Attachment,
}

/// The attached files, all of which must come in `part` parts.
pub fn only_in(uploads: Vec<Upload>, part: &str) -> ServiceResult<Vec<Attachment>> {
    if let Some(other) = uploads.iter().find(|u| u.part != part) {
        return Err(invalid(FieldError::new(other.part.clone(), format!("files are sent as {part} parts"))));
    }
    if uploads.len() > MAX_FILES {
        return Err(invalid(FieldError::new(part, format!("at most {MAX_FILES} files per email"))));
    }
    Ok(uploads.into_iter().map(|u| u.file).collect())
}

/// Stores files for an email or draft after those it has; returns the metadata of all.
pub(super) async fn save(
    tx: &mut Tx,
    ctx: &InstanceScope,
    owner_id: &str,
    files: &[Attachment],
    existing: &Value,
    now_ms: i64,
) -> ServiceResult<Value> {
    let mut metas: Vec<Value> = existing.as_array().cloned().unwrap_or_default();
    if metas.len() + files.len() > MAX_FILES {
        return Err(invalid(FieldError::new(FILE_PART, format!("at most {MAX_FILES} files per email"))));
    }
    let mut position = store::next_position(tx, &ctx.instance.id, owner_id).await?;
    for f in files {
        store::insert_attachment(tx, &ctx.tenant.id, &ctx.instance.id, owner_id, position, f, now_ms).await?;
        metas.push(f.meta());
        position += 1;
    }
    Ok(email::attachments_value(&metas))
}

/// The email's attachment: the first, or the one named `wanted`.
pub(super) async fn attachment(
    state: &AppState,
    ctx: &InstanceScope,
    email_id: &str,
    wanted: Option<&str>,
) -> ServiceResult<Attachment> {
    state.db.email_attachment(&ctx.instance.id, email_id, wanted).await?.ok_or_else(|| {
        ServiceError::not_found(
            "EMAIL_ATTACHMENT_NOT_FOUND",
            COMPONENT,
            "Email attachment is not found",
            json!({"id": email_id}),
        )
    })
}
