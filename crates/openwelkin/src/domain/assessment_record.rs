//! Assessment records: a patient's answers to an assessment of the designer, their
//! statuses (`NEW` → `IN_PROGRESS` → `COMPLETED`) and the scores computed on completion.

use super::records::{check_value, DictionaryValues};
use super::FieldError;
use crate::designer::data_type::{DataType, Field};
use crate::designer::views::{Assessment, AssessmentField};
use crate::designer::{Designer, Kind};
use serde_json::{json, Map, Value};

pub const STATUSES: &[&str] = &["NEW", "IN_PROGRESS", "COMPLETED"];

/// The answer key of a question: `<refCdtName>__<refCdtFieldName>`.
pub fn answer_key(q: &AssessmentField) -> String {
    format!("{}__{}", q.ref_cdt_name, q.ref_cdt_field_name)
}

/// The CDT field a question writes to.
fn question_field<'a>(designer: &'a Designer, q: &AssessmentField) -> Option<&'a Field> {
    designer.data_type(Kind::Cdts, &q.ref_cdt_name)?.field(&q.ref_cdt_field_name)
}

/// The assessment's answers data type (`_<assessmentName>`): one field per question,
/// typed like the CDT field it references.
pub fn answers_data_type(designer: &Designer, a: &Assessment) -> DataType {
    let fields: Vec<Value> = a
        .questions()
        .map(|q| {
            let mut f = question_field(designer, q)
                .map(|f| serde_json::to_value(f).expect("fields serialize"))
                .unwrap_or_else(|| json!({"name": "", "type": "text"}));
            f["name"] = json!(answer_key(q));
            if let Some(meta) = f.get_mut("meta").and_then(Value::as_object_mut) {
                meta.insert("required".into(), json!(q.meta.required));
            }
            f
        })
        .collect();
    serde_json::from_value(json!({"name": format!("_{}", a.name), "title": a.title, "internal": true,
                                  "relation": "ASSESSMENT", "fields": fields}))
    .expect("the answers data type is built from valid fields")
}

/// Checks a flat answers map and writes it into `answers`.
pub fn apply_answers(
    designer: &Designer,
    a: &Assessment,
    answers: &mut Map<String, Value>,
    input: &Map<String, Value>,
    dictionaries: &DictionaryValues,
) -> Result<(), FieldError> {
    for (key, value) in input {
        let q = a.questions().find(|q| answer_key(q) == *key).ok_or_else(|| {
            FieldError::new(key, format!("is not a question of {} (answer keys are <cdtName>__<fieldName>)", a.name))
        })?;
        let stored = match question_field(designer, q) {
            Some(field) => {
                let mut field = field.clone();
                field.name = key.clone();
                check_value(&field, value, dictionaries)?
            }
            None => value.clone(),
        };
        answers.insert(key.clone(), stored);
    }
    Ok(())
}

/// Required questions without an answer, by answer key.
pub fn unanswered(a: &Assessment, answers: &Map<String, Value>) -> Vec<String> {
    a.questions()
        .filter(|q| q.meta.required)
        .map(answer_key)
        .filter(|k| answers.get(k).is_none_or(Value::is_null))
        .collect()
}

fn combine(formula: &str, scores: &[f64]) -> Option<f64> {
    if scores.is_empty() {
        return None;
    }
    let sum: f64 = scores.iter().sum();
    Some(if formula.eq_ignore_ascii_case("AVG") { sum / scores.len() as f64 } else { sum })
}

fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// Scores of a completed record. Each scoring group combines (`SUM` or `AVG`) the scores
/// its fields' answers map to; without groups, the assessment's formula combines the
/// numeric answers. Empty when nothing is scored (as recorded for text-only assessments).
pub fn score(a: &Assessment, answers: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for g in &a.scoring.groups {
        let scores: Vec<f64> = g
            .fields
            .iter()
            .filter_map(|f| {
                let answer = answers.get(&format!("{}__{}", f.ref_cdt_name, f.ref_cdt_field_name))?;
                if f.scores.is_empty() {
                    answer.as_f64()
                } else {
                    f.scores.iter().find(|s| &s.answer == answer).map(|s| s.score)
                }
            })
            .collect();
        if let Some(total) = combine(&g.formula, &scores) {
            out.insert(g.name.clone(), json!({"title": g.title, "formula": g.formula, "score": number(total)}));
        }
    }
    if a.scoring.groups.is_empty() {
        let numeric: Vec<f64> =
            a.questions().filter_map(|q| answers.get(&answer_key(q)).and_then(Value::as_f64)).collect();
        if let Some(total) = combine(&a.scoring.formula, &numeric) {
            out.insert("formula".into(), json!(a.scoring.formula));
            out.insert("score".into(), number(total));
        }
    }
    out
}

/// The question labels by answer key (filled when a record is completed, as recorded).
pub fn questions(a: &Assessment) -> Map<String, Value> {
    a.questions().map(|q| (answer_key(q), json!(q.label))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn designer() -> Designer {
        let mut d = Designer::default();
        d.upsert(Kind::Cdts, json!({"name": "cdt-phq", "fields": [
            {"name": "interest", "type": "select", "meta": {"options": [{"label": "No", "value": 0}, {"label": "Yes", "value": 3}]}},
            {"name": "note", "type": "text"}]}))
        .unwrap();
        d.upsert(Kind::Assessments, json!({"name": "asm-phq", "title": "PHQ", "sections": [{"title": "S", "name": "s", "order": 0, "fields": [
            {"label": "Interest?", "name": "", "refCdtName": "cdt-phq", "refCdtFieldName": "interest", "order": 0, "viewType": "question", "meta": {"type": "select", "required": true}},
            {"label": "Note", "name": "", "refCdtName": "cdt-phq", "refCdtFieldName": "note", "order": 1, "viewType": "question", "meta": {"type": "text", "required": false}}]}],
            "scoring": {"formula": "SUM", "groups": []}}))
        .unwrap();
        d
    }

    #[test]
    fn answers_are_checked_against_the_referenced_fields() {
        let d = designer();
        let a = d.assessment("asm-phq").unwrap();
        let mut answers = Map::new();
        let ok = json!({"cdt-phq__interest": 3, "cdt-phq__note": "fine"});
        apply_answers(&d, &a, &mut answers, ok.as_object().unwrap(), &Default::default()).unwrap();
        assert_eq!(unanswered(&a, &answers), Vec::<String>::new());
        assert_eq!(score(&a, &answers)["score"], 3);
        let bad = json!({"cdt-phq__interest": 2});
        assert_eq!(
            apply_answers(&d, &a, &mut answers, bad.as_object().unwrap(), &Default::default()).unwrap_err().field,
            "cdt-phq__interest"
        );
        let upper = json!({"CDT-PHQ__INTEREST": 3});
        assert!(apply_answers(&d, &a, &mut answers, upper.as_object().unwrap(), &Default::default()).is_err());
        assert_eq!(unanswered(&a, &Map::new()), ["cdt-phq__interest"]);
        assert_eq!(answers_data_type(&d, &a).fields[0].name, "cdt-phq__interest");
    }
}
