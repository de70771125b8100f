//! What a user may reach: application (portal) access per instance, roles and security
//! policies ("user permissions"), and regions with their territories. Each is replaced as
//! a whole by a PUT and kept in the stored user (`applicationAccess`, `roles`, `policies`,
//! `territories`), so `GET /admin/users/...` shows it too.
//!
//! Names are checked against what exists: instances of the tenant, and the roles, security
//! policies and regions of each instance's current designer, handed in as plain data.

use super::fields::{self, reject_unknown};
use super::user::{User, UserTerritory};
use super::FieldError;
use crate::designer::views::Region;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;

pub const SECURITY_ROLE: &str = "SECURITY_ROLE";
pub const SECURITY_POLICY: &str = "SECURITY_POLICY";

/// An instance of the tenant, as an application access names it.
#[derive(Clone, Debug)]
pub struct KnownInstance {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// What the current designer of one instance offers.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub roles: Vec<String>,
    pub policies: Vec<String>,
    pub regions: Vec<Region>,
}

/// `GET|PUT /admin/user-permissions/{userId}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPermissions {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub user_id: String,
    /// Roles `{permissionName, instanceName, type: SECURITY_ROLE, primaryRole}` and
    /// policies `{permissionName, instanceName, type: SECURITY_POLICY, effectiveDate}`.
    #[schema(value_type = Vec<Object>)]
    pub permissions: Vec<Value>,
}

/// `GET|PUT /admin/user-territories/{userId}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserTerritories {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
    pub user_id: String,
    pub territories: Vec<TerritoryGrant>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TerritoryGrant {
    pub instance_name: String,
    pub name: String,
    pub territories: Vec<String>,
}

/// Body of `PUT /admin/application-accesses/{userId}` (documentation type).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct AppAccessWrite {
    admin_access_enabled: bool,
    audit_security_access_enabled: bool,
    instance_accesses: Vec<InstanceAccessWrite>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct InstanceAccessWrite {
    instance_name: String,
    instance_id: Option<String>,
    workshop_access_enabled: bool,
    audit_data_access_enabled: bool,
    user_email_with_instance_domain: Option<String>,
}

/// Body of `PUT /admin/user-permissions/{userId}` (documentation type).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PermissionsWrite {
    permissions: Vec<PermissionWrite>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PermissionWrite {
    permission_name: String,
    instance_name: String,
    /// `SECURITY_ROLE` or `SECURITY_POLICY`.
    #[serde(rename = "type")]
    permission_type: String,
    /// Roles only; one role per instance is primary (the first, when none is flagged).
    primary_role: Option<bool>,
    /// Policies only: when a temporary policy ends.
    effective_date: Option<String>,
}

/// Body of `PUT /admin/user-territories/{userId}` (documentation type).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct TerritoriesWrite {
    territories: Vec<TerritoryGrant>,
}

/// Keys a client may send back from a GET; they are not written (`userId` must match).
const ECHOED: &[&str] = &["id", "userId", "createdAt", "updatedAt", "createdBy", "updatedBy"];

fn check_user_id(body: &Map<String, Value>, user: &User) -> Result<(), FieldError> {
    match body.get("userId") {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_str() == Some(user.id.as_str()) => Ok(()),
        Some(_) => Err(FieldError::new("userId", "does not match the user in the path")),
    }
}

fn required<'a>(obj: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a Value, FieldError> {
    obj.get(key).ok_or_else(|| FieldError::new(child(path, key), "is required"))
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn nested(path: &str, e: FieldError) -> FieldError {
    FieldError::new(child(path, &e.field), e.reason)
}

/// Replaces the user's application access (admin portal, security audit, and per instance
/// the care portal, designer and data audit).
pub fn apply_app_access(
    user: &mut User,
    body: &Map<String, Value>,
    instances: &[KnownInstance],
    now: &str,
) -> Result<(), FieldError> {
    let mut allowed = vec!["adminAccessEnabled", "auditSecurityAccessEnabled", "instanceAccesses"];
    allowed.extend_from_slice(ECHOED);
    reject_unknown(body, &allowed, &[])?;
    check_user_id(body, user)?;
    let admin = fields::boolean("adminAccessEnabled", required(body, "", "adminAccessEnabled")?)?;
    let audit = fields::boolean("auditSecurityAccessEnabled", required(body, "", "auditSecurityAccessEnabled")?)?;
    let list = fields::array("instanceAccesses", required(body, "", "instanceAccesses")?)?;
    let mut accesses = Vec::with_capacity(list.len());
    let mut seen = HashSet::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("instanceAccesses[{i}]");
        let obj = fields::object(&path, item)?;
        reject_unknown(
            obj,
            &[
                "instanceId",
                "instanceName",
                "instanceDescription",
                "userEmailWithInstanceDomain",
                "workshopAccessEnabled",
                "auditDataAccessEnabled",
                "enabledTakenPersonally",
            ],
            &[],
        )
        .map_err(|e| nested(&path, e))?;
        let name_path = child(&path, "instanceName");
        let name = fields::text(&name_path, required(obj, &path, "instanceName")?)?;
        let instance = instances
            .iter()
            .find(|inst| inst.name == name)
            .ok_or_else(|| FieldError::new(&name_path, format!("no instance named {name:?} in this tenant")))?;
        if !seen.insert(instance.name.clone()) {
            return Err(FieldError::new(&name_path, format!("{name:?} is listed twice")));
        }
        if let Some(id) = obj.get("instanceId").filter(|v| !v.is_null()) {
            if id.as_str() != Some(instance.id.as_str()) {
                return Err(FieldError::new(child(&path, "instanceId"), format!("is not the id of instance {name:?}")));
            }
        }
        let workshop = child(&path, "workshopAccessEnabled");
        let workshop = fields::boolean(&workshop, required(obj, &path, "workshopAccessEnabled")?)?;
        let data_audit = child(&path, "auditDataAccessEnabled");
        let data_audit = fields::boolean(&data_audit, required(obj, &path, "auditDataAccessEnabled")?)?;
        let email_path = child(&path, "userEmailWithInstanceDomain");
        let email = fields::opt_email(&email_path, obj.get("userEmailWithInstanceDomain").unwrap_or(&Value::Null))?;
        if let Some(v) = obj.get("enabledTakenPersonally").filter(|v| !v.is_null()) {
            fields::boolean(&child(&path, "enabledTakenPersonally"), v)?;
        }
        accesses.push(json!({
            "instanceId": instance.id,
            "instanceName": instance.name,
            "instanceDescription": instance.description,
            "userEmailWithInstanceDomain": email,
            "workshopAccessEnabled": workshop,
            "auditDataAccessEnabled": data_audit,
            "enabledTakenPersonally": true,
        }));
    }
    let access = &mut user.application_access;
    access.admin_access_enabled = admin;
    access.audit_security_access_enabled = audit;
    access.instance_accesses = accesses;
    access.updated_at = now.to_string();
    Ok(())
}

fn catalog<'a>(
    catalogs: &'a HashMap<String, Catalog>,
    path: &str,
    obj: &Map<String, Value>,
) -> Result<(String, &'a Catalog), FieldError> {
    let name_path = child(path, "instanceName");
    let name = fields::text(&name_path, required(obj, path, "instanceName")?)?;
    let found = catalogs
        .get(&name)
        .ok_or_else(|| FieldError::new(&name_path, format!("no instance named {name:?} in this tenant")))?;
    Ok((name, found))
}

/// The createdAt the entries of a set keep across replacements.
fn set_created_at<'a>(entries: impl IntoIterator<Item = &'a Value>, now: &str) -> String {
    entries.into_iter().find_map(|e| e.get("createdAt").and_then(Value::as_str)).unwrap_or(now).to_string()
}

/// Replaces the user's roles and security policies in every instance. Each must exist in
/// the current designer of its instance. Per instance, one role is primary: the one
/// flagged, or else the first.
pub fn apply_permissions(
    user: &mut User,
    body: &Map<String, Value>,
    catalogs: &HashMap<String, Catalog>,
    now: &str,
) -> Result<(), FieldError> {
    let mut allowed = vec!["permissions"];
    allowed.extend_from_slice(ECHOED);
    reject_unknown(body, &allowed, &[])?;
    check_user_id(body, user)?;
    let list = fields::array("permissions", required(body, "", "permissions")?)?;
    let created_at = set_created_at(user.roles.iter().chain(user.policies.iter()), now);
    let mut roles: Vec<(usize, Value)> = Vec::new();
    let mut policies = Vec::new();
    let mut seen = HashSet::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("permissions[{i}]");
        let obj = fields::object(&path, item)?;
        reject_unknown(
            obj,
            &["permissionName", "instanceName", "type", "primaryRole", "effectiveDate", "createdAt", "updatedAt"],
            &[],
        )
        .map_err(|e| nested(&path, e))?;
        let (instance, cat) = catalog(catalogs, &path, obj)?;
        let kind =
            fields::one_of(&child(&path, "type"), required(obj, &path, "type")?, &[SECURITY_ROLE, SECURITY_POLICY])?;
        let name_path = child(&path, "permissionName");
        let name = fields::text(&name_path, required(obj, &path, "permissionName")?)?;
        let is_role = kind == SECURITY_ROLE;
        let (known, what) = if is_role { (&cat.roles, "role") } else { (&cat.policies, "security policy") };
        if !known.contains(&name) {
            return Err(FieldError::new(
                &name_path,
                format!("no {what} named {name:?} in the designer of instance {instance:?}"),
            ));
        }
        if !seen.insert((instance.clone(), kind.clone(), name.clone())) {
            return Err(FieldError::new(&name_path, format!("{name:?} is listed twice for instance {instance:?}")));
        }
        let primary = obj.get("primaryRole").filter(|v| !v.is_null());
        let effective = obj.get("effectiveDate").filter(|v| !v.is_null());
        if is_role {
            if effective.is_some() {
                return Err(FieldError::new(child(&path, "effectiveDate"), "only a security policy has one"));
            }
            let primary = primary.map(|v| fields::boolean(&child(&path, "primaryRole"), v)).transpose()?;
            roles.push((
                i,
                json!({
                    "createdAt": created_at,
                    "updatedAt": now,
                    "permissionName": name,
                    "instanceName": instance,
                    "type": SECURITY_ROLE,
                    "primaryRole": primary.unwrap_or(false),
                }),
            ));
        } else {
            if primary.is_some() {
                return Err(FieldError::new(child(&path, "primaryRole"), "only a role can be primary"));
            }
            let date_path = child(&path, "effectiveDate");
            let effective = effective
                .map(|v| {
                    let text = fields::text(&date_path, v)?;
                    crate::time::parse_datetime(&text)
                        .map(crate::time::format)
                        .ok_or_else(|| FieldError::new(&date_path, format!("{text:?} is not an ISO-8601 date-time")))
                })
                .transpose()?;
            policies.push(json!({
                "createdAt": created_at,
                "updatedAt": now,
                "permissionName": name,
                "instanceName": instance,
                "type": SECURITY_POLICY,
                "effectiveDate": effective,
            }));
        }
    }
    // One primary role per instance.
    let instances: Vec<String> =
        roles.iter().map(|(_, r)| r["instanceName"].as_str().unwrap_or("").to_string()).collect();
    let mut done = HashSet::new();
    for instance in &instances {
        if !done.insert(instance.clone()) {
            continue;
        }
        let of_instance: Vec<usize> = (0..roles.len()).filter(|&k| &instances[k] == instance).collect();
        let flagged: Vec<usize> = of_instance.iter().copied().filter(|&k| roles[k].1["primaryRole"] == true).collect();
        match flagged.as_slice() {
            [] => roles[of_instance[0]].1["primaryRole"] = json!(true),
            [_] => {}
            [_, second, ..] => {
                return Err(FieldError::new(
                    format!("permissions[{}].primaryRole", roles[*second].0),
                    format!("instance {instance:?} already has a primary role"),
                ))
            }
        }
    }
    user.roles = roles.into_iter().map(|(_, r)| r).collect();
    user.policies = policies;
    Ok(())
}

/// Replaces the user's regions and territories in every instance. Each region must exist
/// in the current designer of its instance, and each territory must belong to it.
pub fn apply_territories(
    user: &mut User,
    body: &Map<String, Value>,
    catalogs: &HashMap<String, Catalog>,
    actor_id: &str,
    now: &str,
) -> Result<(), FieldError> {
    let mut allowed = vec!["territories"];
    allowed.extend_from_slice(ECHOED);
    reject_unknown(body, &allowed, &[])?;
    check_user_id(body, user)?;
    let list = fields::array("territories", required(body, "", "territories")?)?;
    let first = user.territories.first();
    let created_at = first.map(|t| t.created_at.clone()).unwrap_or_else(|| now.to_string());
    let created_by = first.map(|t| t.created_by.clone()).unwrap_or_else(|| actor_id.to_string());
    let mut out = Vec::with_capacity(list.len());
    let mut seen = HashSet::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("territories[{i}]");
        let obj = fields::object(&path, item)?;
        reject_unknown(obj, &["name", "territories", "instanceName", "userId"], &[]).map_err(|e| nested(&path, e))?;
        let (instance, cat) = catalog(catalogs, &path, obj)?;
        let name_path = child(&path, "name");
        let name = fields::text(&name_path, required(obj, &path, "name")?)?;
        let region = cat.regions.iter().find(|r| r.name == name).ok_or_else(|| {
            FieldError::new(&name_path, format!("no region named {name:?} in the designer of instance {instance:?}"))
        })?;
        if !seen.insert((instance.clone(), name.clone())) {
            return Err(FieldError::new(&name_path, format!("{name:?} is listed twice for instance {instance:?}")));
        }
        let tpath = child(&path, "territories");
        let territories = fields::string_list(&tpath, required(obj, &path, "territories")?)?;
        let mut unique = HashSet::new();
        for (j, t) in territories.iter().enumerate() {
            if !region.territories.contains(t) {
                return Err(FieldError::new(
                    format!("{tpath}[{j}]"),
                    format!("{t:?} is not a territory of region {name:?}"),
                ));
            }
            if !unique.insert(t) {
                return Err(FieldError::new(format!("{tpath}[{j}]"), format!("{t:?} is listed twice")));
            }
        }
        out.push(UserTerritory {
            created_at: created_at.clone(),
            updated_at: now.to_string(),
            created_by: created_by.clone(),
            updated_by: actor_id.to_string(),
            name,
            territories,
            instance_name: instance,
        });
    }
    user.territories = out;
    Ok(())
}

/// A stable id for one of a user's access sets (they have no row of their own).
fn set_id(user: &User, kind: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("user-{kind}:{}", user.id).as_bytes()).to_string()
}

fn without_times(entry: &Value) -> Value {
    let mut e = entry.clone();
    if let Some(obj) = e.as_object_mut() {
        obj.remove("createdAt");
        obj.remove("updatedAt");
    }
    e
}

/// The user's roles and policies, grouped by instance (in the order the instances first
/// appear), roles before policies.
pub fn permissions_view(user: &User) -> UserPermissions {
    let all: Vec<&Value> = user.roles.iter().chain(user.policies.iter()).collect();
    let mut order: Vec<&str> = Vec::new();
    for e in &all {
        let name = e["instanceName"].as_str().unwrap_or_default();
        if !order.contains(&name) {
            order.push(name);
        }
    }
    let permissions = order
        .iter()
        .flat_map(|inst| all.iter().filter(move |e| e["instanceName"].as_str().unwrap_or_default() == *inst))
        .map(|e| without_times(e))
        .collect();
    let first = all.first();
    let time = |key: &str, fallback: &str| {
        first.and_then(|e| e.get(key)).and_then(Value::as_str).unwrap_or(fallback).to_string()
    };
    UserPermissions {
        id: set_id(user, "permissions"),
        created_at: time("createdAt", &user.created_at),
        updated_at: time("updatedAt", &user.updated_at),
        user_id: user.id.clone(),
        permissions,
    }
}

pub fn territories_view(user: &User) -> UserTerritories {
    let first = user.territories.first();
    UserTerritories {
        id: set_id(user, "territories"),
        created_at: first.map(|t| t.created_at.clone()).unwrap_or_else(|| user.created_at.clone()),
        updated_at: first.map(|t| t.updated_at.clone()).unwrap_or_else(|| user.updated_at.clone()),
        created_by: first.map(|t| t.created_by.clone()),
        updated_by: first.map(|t| t.updated_by.clone()),
        user_id: user.id.clone(),
        territories: user
            .territories
            .iter()
            .map(|t| TerritoryGrant {
                instance_name: t.instance_name.clone(),
                name: t.name.clone(),
                territories: t.territories.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2024-01-01T00:00:00.000Z";

    fn user() -> User {
        User::blank("u1".into(), "2023-01-01T00:00:00.000Z", "API_CLIENT:X")
    }

    fn catalogs() -> HashMap<String, Catalog> {
        let cat = Catalog {
            roles: vec!["caregiver".into(), "manager".into()],
            policies: vec!["cdt_management".into()],
            regions: vec![Region {
                name: "washington".into(),
                title: "Washington".into(),
                territories: vec!["seattle".into(), "tacoma".into()],
            }],
        };
        HashMap::from([("live".to_string(), cat.clone()), ("stage".to_string(), Catalog::default())])
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn app_access_names_existing_instances() {
        let instances = [KnownInstance { id: "i1".into(), name: "live".into(), description: "Live".into() }];
        let mut u = user();
        let body = obj(json!({"adminAccessEnabled": true, "auditSecurityAccessEnabled": false,
            "instanceAccesses": [{"instanceName": "live", "workshopAccessEnabled": true, "auditDataAccessEnabled": false}]}));
        apply_app_access(&mut u, &body, &instances, NOW).unwrap();
        assert_eq!(u.application_access.instance_accesses[0]["instanceId"], "i1");
        assert_eq!(u.application_access.instance_accesses[0]["instanceDescription"], "Live");
        let bad = obj(json!({"adminAccessEnabled": true, "auditSecurityAccessEnabled": false,
            "instanceAccesses": [{"instanceName": "mars", "workshopAccessEnabled": true, "auditDataAccessEnabled": false}]}));
        assert_eq!(
            apply_app_access(&mut u, &bad, &instances, NOW).unwrap_err().field,
            "instanceAccesses[0].instanceName"
        );
        let missing = obj(json!({"adminAccessEnabled": true, "instanceAccesses": []}));
        assert_eq!(
            apply_app_access(&mut u, &missing, &instances, NOW).unwrap_err().field,
            "auditSecurityAccessEnabled"
        );
    }

    #[test]
    fn permissions_need_designer_names_and_get_one_primary_role() {
        let mut u = user();
        let body = obj(json!({"permissions": [
            {"permissionName": "caregiver", "instanceName": "live", "type": "SECURITY_ROLE"},
            {"permissionName": "manager", "instanceName": "live", "type": "SECURITY_ROLE"},
            {"permissionName": "cdt_management", "instanceName": "live", "type": "SECURITY_POLICY", "effectiveDate": "2021-12-01"}]}));
        apply_permissions(&mut u, &body, &catalogs(), NOW).unwrap();
        assert_eq!(u.roles[0]["primaryRole"], true);
        assert_eq!(u.roles[1]["primaryRole"], false);
        assert_eq!(u.policies[0]["effectiveDate"], "2021-12-01T00:00:00.000Z");
        let view = permissions_view(&u);
        assert_eq!(view.permissions.len(), 3);
        assert!(view.permissions[0].get("createdAt").is_none());
        let bad = obj(
            json!({"permissions": [{"permissionName": "caregiver", "instanceName": "stage", "type": "SECURITY_ROLE"}]}),
        );
        assert_eq!(
            apply_permissions(&mut u, &bad, &catalogs(), NOW).unwrap_err().field,
            "permissions[0].permissionName"
        );
        let two = obj(json!({"permissions": [
            {"permissionName": "caregiver", "instanceName": "live", "type": "SECURITY_ROLE", "primaryRole": true},
            {"permissionName": "manager", "instanceName": "live", "type": "SECURITY_ROLE", "primaryRole": true}]}));
        assert_eq!(apply_permissions(&mut u, &two, &catalogs(), NOW).unwrap_err().field, "permissions[1].primaryRole");
        assert_eq!(u.roles.len(), 2, "a refused body changes nothing");
    }

    #[test]
    fn territories_must_belong_to_their_region() {
        let mut u = user();
        let body =
            obj(json!({"territories": [{"name": "washington", "territories": ["seattle"], "instanceName": "live"}]}));
        apply_territories(&mut u, &body, &catalogs(), "actor", NOW).unwrap();
        assert_eq!(u.region_keys(), ["live/washington"]);
        let bad = obj(
            json!({"territories": [{"name": "washington", "territories": ["seattle", "boston"], "instanceName": "live"}]}),
        );
        assert_eq!(
            apply_territories(&mut u, &bad, &catalogs(), "actor", NOW).unwrap_err().field,
            "territories[0].territories[1]"
        );
        let bad = obj(json!({"territories": [{"name": "washington", "territories": [], "instanceName": "stage"}]}));
        assert_eq!(
            apply_territories(&mut u, &bad, &catalogs(), "actor", NOW).unwrap_err().field,
            "territories[0].name"
        );
        let view = territories_view(&u);
        assert_eq!(view.territories[0].instance_name, "live");
        assert_eq!(view.created_by.as_deref(), Some("actor"));
    }
}
