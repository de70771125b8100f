//! Security policies of API clients: which operations on which resource families a client
//! may call, plus Welkin's admin flags. The file format is documented in
//! docs/SECURITY-POLICIES.md:
//!
//! ```json
//! { "allAccess": false,
//!   "permissions": { "patients": ["read", "create", "update"], "users": ["read"] },
//!   "admin": { "userProvisioning": true, "dataAudit": false } }
//! ```

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Resource families, one per section of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Family {
    Patients,
    Users,
    Contacts,
    Cdts,
    Pdts,
    Encounters,
    Assessments,
    Calls,
    Sms,
    Email,
    Chat,
    CarePlans,
    Calendar,
    Programs,
    Tasks,
    Dictionaries,
    Documents,
    Billing,
    Formations,
    Export,
    Communications,
    /// Faxes sent and received (Welkin's fax policies: view, create, update).
    Fax,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Op {
    Read,
    Create,
    Update,
    Delete,
    /// Every operation.
    #[serde(rename = "*")]
    All,
}

/// Welkin's admin-level flags for API clients.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminFlags {
    /// Create, update and delete users.
    #[serde(default)]
    pub user_provisioning: bool,
    /// Change users' regions and territories.
    #[serde(default)]
    pub user_regions: bool,
    /// Change users' custom attributes.
    #[serde(default)]
    pub user_attributes: bool,
    /// Read the data and webhook audit.
    #[serde(default)]
    pub data_audit: bool,
    /// Read the security audit.
    #[serde(default)]
    pub security_audit: bool,
    /// Activate, deactivate and test webhooks.
    #[serde(default)]
    pub webhooks: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminFlag {
    UserProvisioning,
    UserRegions,
    UserAttributes,
    DataAudit,
    SecurityAudit,
    Webhooks,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// Everything, admin flags included.
    #[serde(default)]
    pub all_access: bool,
    #[serde(default)]
    pub permissions: BTreeMap<Family, BTreeSet<Op>>,
    #[serde(default)]
    pub admin: AdminFlags,
}

impl Policy {
    pub fn all_access() -> Self {
        Policy { all_access: true, ..Default::default() }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("invalid security policy: {e}"))
    }

    pub fn allows(&self, family: Family, op: Op) -> bool {
        self.all_access || self.permissions.get(&family).is_some_and(|ops| ops.contains(&op) || ops.contains(&Op::All))
    }

    pub fn has_flag(&self, flag: AdminFlag) -> bool {
        self.all_access
            || match flag {
                AdminFlag::UserProvisioning => self.admin.user_provisioning,
                AdminFlag::UserRegions => self.admin.user_regions,
                AdminFlag::UserAttributes => self.admin.user_attributes,
                AdminFlag::DataAudit => self.admin.data_audit,
                AdminFlag::SecurityAudit => self.admin.security_audit,
                AdminFlag::Webhooks => self.admin.webhooks,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_grant_only_what_they_list() {
        let p =
            Policy::parse(r#"{"permissions": {"patients": ["read"], "users": ["*"]}, "admin": {"dataAudit": true}}"#)
                .unwrap();
        assert!(p.allows(Family::Patients, Op::Read));
        assert!(!p.allows(Family::Patients, Op::Delete));
        assert!(p.allows(Family::Users, Op::Delete));
        assert!(!p.allows(Family::Encounters, Op::Read));
        assert!(p.has_flag(AdminFlag::DataAudit));
        assert!(!p.has_flag(AdminFlag::UserProvisioning));
        assert!(Policy::all_access().allows(Family::Billing, Op::Delete));
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(Policy::parse(r#"{"permissions": {"spaceships": ["read"]}}"#).is_err());
        assert!(Policy::parse(r#"{"permissions": {"patients": ["fly"]}}"#).is_err());
        assert!(Policy::parse(r#"{"admin": {"godMode": true}}"#).is_err());
        assert!(Policy::parse(r#"{"alAccess": true}"#).is_err());
    }
}
