//! Realistic fixtures from a count and a seed number: care-team users, then per patient a
//! profile, a record of one of the formation's CDTs, and in turn an encounter, a chat
//! conversation and a calendar visit. The same (count, seed, formation, start day) gives
//! the same fixture on every machine and version: the random numbers come from SplitMix64
//! written out here rather than from a library whose streams may change between releases.

use super::fixture::{Fixture, FixtureRequest};
use crate::designer::data_type::{DataType, Field};
use crate::designer::Designer;
use crate::services::error::ServiceResult;
use crate::store::Db;
use chrono::{Duration, NaiveDate};
use serde_json::{json, Map, Value};

const FIRST: &[&str] = &[
    "Olivia", "Liam", "Emma", "Noah", "Amara", "Mateo", "Sofia", "Kenji", "Priya", "Lucas", "Aisha", "Ethan", "Mei",
    "Diego", "Hana", "Omar", "Chloe", "Ravi", "Zara", "Samuel", "Ingrid", "Tomas", "Leila", "Grace",
];
const LAST: &[&str] = &[
    "Johnson", "Garcia", "Nguyen", "Okafor", "Patel", "Kim", "Rossi", "Silva", "Cohen", "Tanaka", "Moreau", "Haddad",
    "Murphy", "Novak", "Mensah", "Larsen", "Castillo", "Chen", "Fischer", "Kowalski",
];
const TIMEZONES: &[&str] = &["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "UTC"];
/// Area codes with the 555-01XX numbers reserved for fiction.
const AREA_CODES: &[&str] = &["212", "312", "415", "617", "206", "305"];
const CHAT_LINES: &[&str] = &[
    "Hi, I have a question about my medication schedule.",
    "My readings were a bit higher this morning.",
    "Can we move my next appointment?",
    "Thanks, the new plan is working well.",
    "I forgot to log my weight yesterday.",
];

/// What to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    pub count: usize,
    pub seed: u64,
    /// Calendar visits are booked on the days after this one.
    pub start_day: NaiveDate,
}

/// SplitMix64: tiny, fast and fixed for all time, which is what a seeded fixture needs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }

    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1).max(1) as u64) as i64
    }
}

/// Most patients one generator call makes; larger sets are seeded in several calls.
pub const MAX_GENERATED: usize = 100_000;

/// The fixture for an instance: its current formation decides the CDT and encounter
/// template used, and team members that already exist in the tenant are reused.
pub async fn for_instance(db: &Db, tenant: &str, instance: &str, spec: &Spec) -> ServiceResult<Plan> {
    let t = super::data::tenant(db, tenant).await?;
    let i = super::data::instance(db, &t, instance).await?;
    let formation = db.current_formation(&i.id).await?;
    let mut existing = Vec::new();
    for u in usernames(spec) {
        if db.user(&t.id, &u, false).await?.is_some() {
            existing.push(u);
        }
    }
    Ok(plan(&formation.designer, spec, &existing))
}

/// The usernames `generate` uses for its care team, so the caller can tell it which
/// already exist (users belong to the tenant and survive an instance reset).
pub fn usernames(spec: &Spec) -> Vec<String> {
    (0..team_size(spec.count)).map(|k| format!("care-{}-{k}", spec.seed)).collect()
}

fn team_size(count: usize) -> usize {
    count.div_ceil(25).clamp(1, 50)
}

fn post(id: impl Into<String>, path: impl Into<String>, body: Value) -> FixtureRequest {
    FixtureRequest { id: Some(id.into()), method: "POST".into(), path: path.into(), body: Some(body) }
}

/// One care-team member of a plan: the user's create body, or only its username when the
/// user already exists (it is read rather than created).
#[derive(Clone, Debug)]
pub struct Member {
    pub username: String,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub exists: bool,
}

impl Member {
    fn request(&self, k: usize) -> FixtureRequest {
        let id = format!("user{k}");
        if self.exists {
            return FixtureRequest {
                id: Some(id),
                method: "GET".into(),
                path: format!("/{{tenant}}/admin/users/{}", self.username),
                body: None,
            };
        }
        let u = &self.username;
        let body = json!({"username": u, "email": format!("{u}@care.example.org"),
                          "firstName": self.first_name, "lastName": self.last_name});
        post(id, "/{tenant}/admin/users", body)
    }
}

/// One generated patient and what comes with it. Bodies are the API create bodies; the
/// references to other records (owner, patient) are by position in the plan.
#[derive(Clone, Debug)]
pub struct PlannedPatient {
    /// The `POST patients` body.
    pub body: Value,
    /// Index of the care-team member who owns the encounter and hosts the visit.
    pub owner: usize,
    /// The `POST patients/{id}/cdts/{cdt}` body, when the formation has a fillable CDT.
    pub cdt_record: Option<Value>,
    /// The encounter's title, when the patient has one (every third patient, when the
    /// formation has an encounter template).
    pub encounter_title: Option<String>,
    /// The patient's inbound chat message (every second patient).
    pub chat: Option<&'static str>,
    /// The calendar visit's start and end (every fourth patient).
    pub visit: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
}

/// Everything a generated fixture holds, before it is turned into requests: the batch
/// seeder writes this directly, `Plan::fixture` gives the same data as API requests.
#[derive(Clone, Debug)]
pub struct Plan {
    pub team: Vec<Member>,
    pub patients: Vec<PlannedPatient>,
    /// The CDT whose records are made.
    pub cdt: Option<String>,
    /// The encounter template encounters are made from.
    pub template: Option<String>,
}

impl Plan {
    /// The plan as a fixture of API requests (what `--print` shows and the JSON fixture
    /// path replays).
    pub fn fixture(&self) -> Fixture {
        let mut requests: Vec<FixtureRequest> = self.team.iter().enumerate().map(|(k, m)| m.request(k)).collect();
        requests.extend(self.patient_requests());
        Fixture { requests }
    }

    /// The requests of the team alone.
    pub fn team_fixture(&self) -> Fixture {
        Fixture { requests: self.team.iter().enumerate().map(|(k, m)| m.request(k)).collect() }
    }

    fn patient_requests(&self) -> Vec<FixtureRequest> {
        let mut requests = Vec::new();
        for (i, planned) in self.patients.iter().enumerate() {
            let p = format!("p{i}");
            let owner = format!("{{{{user{}.id}}}}", planned.owner);
            requests.push(post(&p, "patients", planned.body.clone()));
            if let (Some(cdt), Some(body)) = (&self.cdt, &planned.cdt_record) {
                let path = format!("patients/{{{{{p}.id}}}}/cdts/{cdt}");
                requests.push(post(format!("{p}cdt"), path, body.clone()));
            }
            if let (Some(template), Some(title)) = (&self.template, &planned.encounter_title) {
                let body = json!({"title": title, "templateName": template, "ownerUserId": owner});
                requests.push(post(format!("{p}enc"), format!("patients/{{{{{p}.id}}}}/encounters"), body));
            }
            if let Some(line) = planned.chat {
                let body = json!({"message": line});
                requests.push(post(format!("{p}chat"), format!("patients/{{{{{p}.id}}}}/chat/inbound"), body));
            }
            if let Some((start, end)) = planned.visit {
                requests.push(post(
                    format!("{p}visit"),
                    "calendar/events",
                    visit_body(start, end, &owner, &format!("{{{{{p}.id}}}}")),
                ));
            }
        }
        requests
    }

    /// How many API requests the plan stands for (what a seed reports).
    pub fn request_count(&self) -> usize {
        let per = |p: &PlannedPatient| {
            1 + usize::from(self.cdt.is_some() && p.cdt_record.is_some())
                + usize::from(self.template.is_some() && p.encounter_title.is_some())
                + usize::from(p.chat.is_some())
                + usize::from(p.visit.is_some())
        };
        self.team.len() + self.patients.iter().map(per).sum::<usize>()
    }
}

/// The `POST calendar/events` body of a visit hosted by `owner` with `patient`.
pub fn visit_body(
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    owner: &str,
    patient: &str,
) -> Value {
    json!({
        "startDateTime": crate::time::format(start),
        "endDateTime": crate::time::format(end),
        "hostId": owner,
        "participants": [{"participantId": owner, "participantRole": "psm"},
                         {"participantId": patient, "participantRole": "patient"}],
    })
}

/// Builds the fixture. `existing` lists those of `usernames(spec)` that already exist:
/// they are read rather than created.
pub fn generate(designer: &Designer, spec: &Spec, existing: &[String]) -> Fixture {
    plan(designer, spec, existing).fixture()
}

/// Draws the plan. The order of the random draws is fixed for all time: the same
/// (count, seed, formation, start day) gives the same data.
pub fn plan(designer: &Designer, spec: &Spec, existing: &[String]) -> Plan {
    let mut rng = Rng(spec.seed);
    let mut team = Vec::new();
    for username in usernames(spec) {
        // Drawn either way, so that the patients come out the same whether or not the
        // team already exists (users outlive an instance reset).
        let (first_name, last_name) = (rng.pick(FIRST), rng.pick(LAST));
        let exists = existing.contains(&username);
        team.push(Member { username, first_name, last_name, exists });
    }
    let cdt = designer.cdts.iter().find(|c| generatable(c));
    let template = designer.encounter_templates.iter().find_map(|t| t.get("name").and_then(Value::as_str));
    let mut patients = Vec::with_capacity(spec.count);
    for i in 0..spec.count {
        let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
        let birth = NaiveDate::from_ymd_opt(1940, 1, 1).expect("valid date") + Duration::days(rng.between(0, 30_000));
        let body = json!({
            "firstName": first,
            "lastName": last,
            "birthDate": birth.format("%Y-%m-%d").to_string(),
            "email": format!("{}.{}.{}.{i}@example.com", first.to_lowercase(), last.to_lowercase(), spec.seed),
            "phone": format!("+1{}5550{:03}", rng.pick(AREA_CODES), 100 + rng.below(100)),
            "timezone": rng.pick(TIMEZONES),
            "externalId": format!("seed-{}-{i}", spec.seed),
        });
        let cdt_record = cdt.map(|c| record(c, &mut rng));
        let encounter_title = (template.is_some() && i % 3 == 0).then(|| format!("Check-in with {first}"));
        let chat = (i % 2 == 0).then(|| rng.pick(CHAT_LINES));
        let visit = (i % 4 == 0).then(|| {
            let day = spec.start_day + Duration::days(1 + (i / 4 % 60) as i64);
            let start = day.and_hms_opt(9 + rng.between(0, 7) as u32, 0, 0).expect("valid time").and_utc();
            (start, start + Duration::minutes(30))
        });
        patients.push(PlannedPatient { body, owner: i % team.len(), cdt_record, encounter_title, chat, visit });
    }
    Plan { team, patients, cdt: cdt.map(|c| c.name.clone()), template: template.map(String::from) }
}

/// Field types this generator can fill; a CDT qualifies when all its required fields are.
fn fillable(f: &Field) -> bool {
    f.formula.is_none()
        && f.dictionary.is_none()
        && f.profile_data_type.is_none()
        && !f.disable
        && (matches!(f.field_type.as_str(), "text" | "textarea" | "integer" | "decimal" | "date" | "checkbox")
            || (f.field_type == "select" && f.meta.options.as_ref().is_some_and(|o| !o.is_empty())))
}

fn generatable(c: &DataType) -> bool {
    c.cardinality == crate::designer::data_type::Cardinality::MultiRecord
        && c.fields.iter().any(fillable)
        && c.fields.iter().all(|f| !f.meta.required || fillable(f))
}

fn bound(v: &Option<Value>, default: f64) -> f64 {
    match v {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(default),
        Some(Value::String(s)) => s.parse().unwrap_or(default),
        _ => default,
    }
}

fn record(cdt: &DataType, rng: &mut Rng) -> Value {
    let mut body = Map::new();
    for f in cdt.fields.iter().filter(|f| fillable(f)) {
        let (lo, hi) = (bound(&f.meta.min_value, 0.0), bound(&f.meta.max_value, 100.0));
        let value = match f.field_type.as_str() {
            "integer" => json!(rng.between(lo.ceil() as i64, hi.floor() as i64)),
            "decimal" => json!(((lo + (hi - lo) * (rng.below(1000) as f64 / 1000.0)) * 10.0).round() / 10.0),
            "date" => json!((NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date")
                + Duration::days(rng.between(0, 700)))
            .format("%Y-%m-%d")
            .to_string()),
            "checkbox" => json!(rng.below(2) == 1),
            "select" => {
                let options = f.meta.options.as_deref().unwrap_or_default();
                let choice = options[rng.below(options.len() as u64) as usize].value.clone();
                if f.meta.multiple == Some(true) {
                    json!([choice])
                } else {
                    choice
                }
            }
            _ => json!(format!("{} noted at visit", f.meta.label.as_deref().unwrap_or("Observation"))),
        };
        body.insert(f.name.clone(), value);
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seed: u64) -> Spec {
        Spec { count: 12, seed, start_day: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() }
    }

    fn bodies(f: &Fixture) -> Vec<String> {
        f.requests.iter().map(|r| format!("{} {} {:?}", r.method, r.path, r.body)).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_fixture_and_another_seed_another() {
        let d = Designer::default();
        assert_eq!(bodies(&generate(&d, &spec(7), &[])), bodies(&generate(&d, &spec(7), &[])));
        assert_ne!(bodies(&generate(&d, &spec(7), &[])), bodies(&generate(&d, &spec(8), &[])));
    }

    #[test]
    fn patients_do_not_depend_on_whether_the_team_exists() {
        let s = spec(11);
        let patients = |f: Fixture| -> Vec<String> {
            f.requests
                .into_iter()
                .filter(|r| !r.path.contains("admin/users"))
                .map(|r| format!("{:?}", r.body))
                .collect()
        };
        let d = Designer::default();
        assert_eq!(patients(generate(&d, &s, &[])), patients(generate(&d, &s, &usernames(&s))));
    }

    #[test]
    fn a_plan_counts_the_requests_of_its_fixture() {
        let s = spec(4);
        let p = plan(&Designer::default(), &s, &[]);
        assert_eq!(p.request_count(), p.fixture().requests.len());
        assert_eq!(p.team_fixture().requests.len(), usernames(&s).len());
    }

    #[test]
    fn existing_team_members_are_read_not_created() {
        let s = spec(3);
        let existing = usernames(&s);
        let f = generate(&Designer::default(), &s, &existing);
        assert!(f.requests.iter().filter(|r| r.path.contains("admin/users")).all(|r| r.method == "GET"));
        assert_eq!(f.requests.iter().filter(|r| r.path == "patients").count(), 12);
        f.check().expect("every reference points back");
    }
}
