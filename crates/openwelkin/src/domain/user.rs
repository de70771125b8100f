//! Users (care-team members), tenant-level: the record Welkin returns and its write rules.

use super::fields::{self, reject_unknown};
use super::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub const USER_STATES: &[&str] = &["ACTIVE", "INACTIVE", "PROVISIONED"];

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub territories: Vec<UserTerritory>,
    #[schema(value_type = Vec<Object>)]
    pub roles: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub policies: Vec<Value>,
    pub seats: Vec<String>,
    pub seat_assign_allowed: bool,
    /// Instances where the user sees every territory (recorded, empty when none).
    #[serde(default)]
    pub full_territories_access_instances: Vec<String>,
    pub application_access: ApplicationAccess,
    pub id: String,
    pub username: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub credentials: Option<String>,
    /// Every recorded user has one (`en-US`); users stored before it was kept read as that.
    #[serde(default = "default_locale")]
    pub locale: String,
    pub enabled: bool,
    pub mfa_enabled: bool,
    pub status_type: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by_name: String,
    pub updated_by_name: String,
    pub sso_access: bool,
    pub password_access: bool,
    pub terminology_name: String,
    pub user_state: String,
    #[schema(value_type = Object)]
    pub custom_user_attributes: Map<String, Value>,
    pub allowed_to_receive_calls: bool,
    #[schema(value_type = Object)]
    pub user_attributes: Map<String, Value>,
    #[serde(rename = "_root_user")]
    pub root_user: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserTerritory {
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub updated_by: String,
    pub name: String,
    pub territories: Vec<String>,
    pub instance_name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationAccess {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub user_id: String,
    pub admin_access_enabled: bool,
    pub audit_security_access_enabled: bool,
    #[schema(value_type = Vec<Object>)]
    pub instance_accesses: Vec<Value>,
}

/// Body of a user create, PUT or PATCH (documentation type).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "username": "pat.nurse", "email": "pat.nurse@example.com", "firstName": "Pat", "lastName": "Nurse",
    "timezone": "America/New_York"
}))]
#[allow(dead_code)]
pub struct UserWrite {
    username: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    timezone: Option<String>,
    credentials: Option<String>,
    locale: Option<String>,
    mfa_enabled: Option<bool>,
    sso_access: Option<bool>,
    password_access: Option<bool>,
    allowed_to_receive_calls: Option<bool>,
    enabled: Option<bool>,
    user_state: Option<String>,
    seats: Option<Vec<String>>,
    #[schema(value_type = Object)]
    custom_user_attributes: Option<Map<String, Value>>,
    #[schema(value_type = Object)]
    application_access: Option<Value>,
}

/// The locale of a user whose create names none, as Welkin answers.
fn default_locale() -> String {
    "en-US".to_string()
}

const WRITABLE: &[&str] = &[
    "username",
    "email",
    "firstName",
    "lastName",
    "phone",
    "timezone",
    "credentials",
    "locale",
    "mfaEnabled",
    "ssoAccess",
    "passwordAccess",
    "allowedToReceiveCalls",
    "enabled",
    "userState",
    "seats",
    "customUserAttributes",
    "userAttributes",
    "applicationAccess",
    "terminologyName",
];

const READ_ONLY: &[&str] = &[
    "id",
    "createdAt",
    "updatedAt",
    "createdByName",
    "updatedByName",
    "territories",
    "roles",
    "policies",
    "seatAssignAllowed",
    "statusType",
    "_root_user",
    "fullTerritoriesAccessInstances",
];

impl User {
    pub fn blank(id: String, now: &str, actor_name: &str) -> Self {
        User {
            territories: vec![],
            roles: vec![],
            policies: vec![],
            seats: vec![],
            seat_assign_allowed: false,
            full_territories_access_instances: vec![],
            application_access: ApplicationAccess {
                id: crate::ids::new_id(),
                created_at: now.into(),
                updated_at: now.into(),
                user_id: id.clone(),
                admin_access_enabled: false,
                audit_security_access_enabled: false,
                instance_accesses: vec![],
            },
            id,
            username: String::new(),
            email: String::new(),
            first_name: None,
            last_name: None,
            phone: None,
            timezone: None,
            credentials: None,
            locale: default_locale(),
            enabled: false,
            mfa_enabled: false,
            status_type: None,
            created_at: now.into(),
            updated_at: now.into(),
            created_by_name: actor_name.into(),
            updated_by_name: actor_name.into(),
            sso_access: false,
            password_access: true,
            terminology_name: "english".into(),
            user_state: "PROVISIONED".into(),
            custom_user_attributes: Map::new(),
            allowed_to_receive_calls: false,
            user_attributes: Map::new(),
            root_user: false,
        }
    }

    /// Applies a create, PUT or PATCH body. `username` is set only on create: users are
    /// addressed by it. `userAttributes` is deprecated in Welkin and ignored, as there.
    pub fn apply(&mut self, body: &Map<String, Value>, creating: bool) -> Result<(), FieldError> {
        reject_unknown(body, WRITABLE, READ_ONLY)?;
        if creating {
            for required in ["username", "email"] {
                if !body.contains_key(required) {
                    return Err(FieldError::new(required, "is required"));
                }
            }
        }
        for (key, value) in body {
            let k = key.as_str();
            match k {
                "username" => {
                    let username = fields::text(k, value)?;
                    if !creating && username != self.username {
                        return Err(FieldError::new(k, "cannot be changed"));
                    }
                    if !username.chars().all(|c| c.is_ascii_alphanumeric() || "._-@+".contains(c)) {
                        return Err(FieldError::new(k, "may hold only letters, digits and . _ - @ +"));
                    }
                    self.username = username;
                }
                "email" => {
                    self.email = fields::opt_email(k, value)?.ok_or_else(|| FieldError::new(k, "is required"))?
                }
                "firstName" => self.first_name = fields::opt_text(k, value)?,
                "lastName" => self.last_name = fields::opt_text(k, value)?,
                "phone" => self.phone = fields::opt_phone(k, value)?,
                "timezone" => self.timezone = fields::opt_timezone(k, value)?,
                "credentials" => self.credentials = fields::opt_text(k, value)?,
                "locale" => self.locale = fields::opt_text(k, value)?.unwrap_or_else(default_locale),
                "terminologyName" => self.terminology_name = fields::text(k, value)?,
                "mfaEnabled" => self.mfa_enabled = fields::boolean(k, value)?,
                "ssoAccess" => self.sso_access = fields::boolean(k, value)?,
                "passwordAccess" => self.password_access = fields::boolean(k, value)?,
                "allowedToReceiveCalls" => self.allowed_to_receive_calls = fields::boolean(k, value)?,
                "enabled" => self.enabled = fields::boolean(k, value)?,
                "userState" => self.user_state = fields::one_of(k, value, USER_STATES)?,
                "seats" => self.seats = fields::string_list(k, value)?,
                "customUserAttributes" => {
                    self.custom_user_attributes =
                        if value.is_null() { Map::new() } else { fields::object(k, value)?.clone() }
                }
                "userAttributes" => {}
                "applicationAccess" => self.apply_access(value)?,
                _ => unreachable!("reject_unknown admits only writable keys"),
            }
        }
        Ok(())
    }

    fn apply_access(&mut self, value: &Value) -> Result<(), FieldError> {
        if value.is_null() {
            return Ok(());
        }
        let obj = fields::object("applicationAccess", value)?;
        reject_unknown(
            obj,
            &["id", "adminAccessEnabled", "auditSecurityAccessEnabled", "instanceAccesses", "userId"],
            &[],
        )
        .map_err(|e| FieldError::new(format!("applicationAccess.{}", e.field), e.reason))?;
        if let Some(v) = obj.get("adminAccessEnabled") {
            self.application_access.admin_access_enabled = fields::boolean("applicationAccess.adminAccessEnabled", v)?;
        }
        if let Some(v) = obj.get("auditSecurityAccessEnabled") {
            self.application_access.audit_security_access_enabled =
                fields::boolean("applicationAccess.auditSecurityAccessEnabled", v)?;
        }
        Ok(())
    }

    /// Region names with the instance they apply to, for the `region` filter.
    pub fn region_keys(&self) -> Vec<String> {
        self.territories.iter().map(|t| format!("{}/{}", t.instance_name, t.name)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_requires_username_and_email_and_keeps_defaults() {
        let mut u = User::blank("u1".into(), "2022-01-01T00:00:00.000Z", "API_CLIENT:X");
        let err = u.apply(json!({"username": "bar"}).as_object().unwrap(), true).unwrap_err();
        assert_eq!(err.field, "email");
        u.apply(json!({"username": "bar", "email": "bar@foo.com"}).as_object().unwrap(), true).unwrap();
        assert_eq!(u.user_state, "PROVISIONED");
        assert!(!u.enabled);
        let v = serde_json::to_value(&u).unwrap();
        assert_eq!(v["_root_user"], json!(false));
        assert!(v.get("firstName").is_none());
    }

    #[test]
    fn username_cannot_change() {
        let mut u = User::blank("u1".into(), "t", "n");
        u.apply(json!({"username": "bar", "email": "bar@foo.com"}).as_object().unwrap(), true).unwrap();
        assert!(u.apply(json!({"username": "baz"}).as_object().unwrap(), false).is_err());
        assert!(u.apply(json!({"userState": "SLEEPING"}).as_object().unwrap(), false).is_err());
    }
}
