//! Whether a stored patient body is already the answer to a read.
//!
//! A patient is stored as the API writes it, with what other records fill in left empty
//! (`store::patients::stored_body`): the care team's user details, the program enrolments,
//! the territorial team. When a patient has no care team members and no enrolments, and
//! the read does not ask for the territorial team, parsing the body into a `Patient` and
//! writing it out again gives back the same text: it can be answered as it is. Only a
//! body with exactly the top-level keys, in order, that this version writes qualifies, so
//! a body stored by an older version (a field added since, which parsing would fill with
//! its default) still goes through the `Patient`.

use super::patient::Patient;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::sync::OnceLock;

/// The top-level keys of a body, and whether the arrays filled in from other records are
/// empty. Keys are borrowed: one with an escape in it fails the parse (and the body then
/// goes through the `Patient`, as a key of ours never has one).
struct Shape<'a> {
    keys: Vec<&'a str>,
    nothing_joined: bool,
}

impl<'de> Deserialize<'de> for Shape<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;
        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = Shape<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a patient object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape<'de>, A::Error> {
                let mut shape = Shape { keys: Vec::with_capacity(48), nothing_joined: true };
                while let Some(key) = map.next_key::<&'de str>()? {
                    if matches!(key, "careTeamMembers" | "careTeam" | "patientPrograms") {
                        let items: Vec<IgnoredAny> = map.next_value()?;
                        shape.nothing_joined &= items.is_empty();
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                    shape.keys.push(key);
                }
                Ok(shape)
            }
        }
        deserializer.deserialize_map(ShapeVisitor)
    }
}

/// The keys this version writes, in order (a blank patient has the same keys as any).
fn current_keys() -> &'static [String] {
    static KEYS: OnceLock<Vec<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let blank = serde_json::to_string(&Patient::blank(String::new(), "", "", "")).expect("a patient serializes");
        let shape: Shape<'_> = serde_json::from_str(&blank).expect("a blank patient has plain keys");
        shape.keys.into_iter().map(str::to_string).collect()
    })
}

/// The fingerprint of the keys this version writes, in order: stored beside a patient
/// body that is its own answer (`shape_of`), so that a read knows it without parsing the
/// body. Never 0, the column's default ("not known: check the body").
pub fn current_shape() -> i64 {
    use sha2::{Digest, Sha256};
    static SHAPE: OnceLock<i64> = OnceLock::new();
    *SHAPE.get_or_init(|| {
        let digest = Sha256::digest(current_keys().join(",").as_bytes());
        i64::from_le_bytes(digest[..8].try_into().expect("a digest has 8 bytes")) | 1
    })
}

/// What to store beside the body `store::patients::stored_body` writes for `p`: its
/// fingerprint when that body answers a read as it is (no care team member; the stored
/// body never holds the care team's details, enrolments or a territorial team, and always
/// has this version's keys), else 0.
pub fn shape_of(p: &Patient) -> i64 {
    if p.care_team_members.is_empty() {
        current_shape()
    } else {
        0
    }
}

/// True if a stored body with `shape` beside it is, as it is, the answer to a read of a
/// patient with no enrolments and without `expand`. A body stored before the shape was
/// (0) is checked itself.
pub fn answers_as_stored_with(shape: i64, body: &str) -> bool {
    shape == current_shape() || (shape == 0 && answers_as_stored(body))
}

/// True if `body` (a stored patient) is, as it is, the answer to a read of a patient
/// with no enrolments and without `expand`.
pub fn answers_as_stored(body: &str) -> bool {
    match serde_json::from_str::<Shape<'_>>(body) {
        Ok(shape) => shape.nothing_joined && shape.keys.iter().copied().eq(current_keys().iter().map(String::as_str)),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::patient::{CareTeamMember, Patient};

    fn stored(p: &Patient) -> String {
        serde_json::to_string(p).unwrap()
    }

    fn patient() -> Patient {
        let mut p = Patient::blank("p1".into(), "2026-12-06T00:00:00.000Z", "u1", "Ann Admin");
        p.first_name = "Ann \"quoted\" \u{e9}".into();
        p.cadence = vec![serde_json::json!({"careTeamMembers": [1], "n": 1.5})];
        p
    }

    #[test]
    fn a_patient_with_nothing_joined_is_answered_as_stored_and_reads_back_the_same() {
        let body = stored(&patient());
        assert!(answers_as_stored(&body));
        let again: Patient = serde_json::from_str(&body).unwrap();
        assert_eq!(serde_json::to_string(&again).unwrap(), body, "parsing and writing out changes nothing");
    }

    #[test]
    fn the_stored_shape_says_what_parsing_the_stored_body_would() {
        let mut full = patient();
        full.care_team = vec![];
        for p in [patient(), Patient::blank("p2".into(), "2026-12-06T00:00:00.000Z", "u1", "A"), full] {
            let body = crate::store::patients::stored_body(&p);
            assert_eq!(shape_of(&p) != 0, answers_as_stored(&body), "{body}");
            assert!(answers_as_stored_with(shape_of(&p), &body));
        }
        let mut p = patient();
        p.care_team_members = vec![CareTeamMember { id: "u2".into(), point_of_contact: true }];
        let body = crate::store::patients::stored_body(&p);
        assert_eq!(shape_of(&p), 0);
        assert!(!answers_as_stored(&body) && !answers_as_stored_with(shape_of(&p), &body));
        // A row from before the column (0) is checked by its body; another version's
        // fingerprint is not taken as this one's.
        let plain = stored(&patient());
        assert!(answers_as_stored_with(0, &plain));
        assert!(!answers_as_stored_with(current_shape() ^ 2, &plain));
        assert_ne!(current_shape(), 0);
    }

    #[test]
    fn a_care_team_or_other_keys_go_through_the_patient() {
        let mut p = patient();
        p.care_team_members = vec![CareTeamMember { id: "u2".into(), point_of_contact: true }];
        assert!(!answers_as_stored(&stored(&p)));
        let body = stored(&patient());
        // A body from a version without `nric`: parsing would add it.
        let older = body.replace("\"nric\":null,", "");
        assert_ne!(older, body);
        assert!(!answers_as_stored(&older));
        // A territorial team is never stored, so a body with one is not ours.
        let expanded = format!("{},\"territorialTeam\":[]}}", &body[..body.len() - 1]);
        assert!(!answers_as_stored(&expanded));
        assert!(!answers_as_stored("not json"));
    }
}
