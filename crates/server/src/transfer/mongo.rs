//! Reading a MongoDB export of the tutorial stack's `users` collection: `mongoexport` JSON lines
//! (one document a line) or a JSON array (`mongoexport --jsonArray`), in relaxed or canonical
//! extended JSON (`{"$oid": ...}`, `{"$numberDouble": "..."}`).
//!
//! Parsing never fails on one bad document: each becomes a [`Record`] whose `user` is the
//! reason it cannot be imported, so the import can skip it and list it.

use serde_json::{Map, Value};

/// Length of a face-api.js descriptor.
pub const DESCRIPTOR_LEN: usize = 128;

/// One user of the old system, as found in the export (nothing checked against this server's
/// rules yet). `Debug` shows neither the hash nor the descriptor.
#[derive(Clone, PartialEq)]
pub struct MongoUser {
    /// The document's `_id` (`$oid` hex, or whatever scalar it was), for the audit trail.
    pub source_id: Option<String>,
    pub username: String,
    pub email: String,
    pub full_name: String,
    /// The stored bcrypt hash, verified later (see [`crate::auth::password::is_bcrypt`]).
    pub password_hash: String,
    pub descriptor: [f32; DESCRIPTOR_LEN],
}

impl std::fmt::Debug for MongoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoUser")
            .field("source_id", &self.source_id)
            .field("username", &self.username)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// One document of the export: where it was and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// "line 7" (JSON lines) or "record 7" (array), counted from 1.
    pub position: String,
    /// The username as written, when there is one: it names the record in the report.
    pub username: Option<String>,
    pub user: Result<MongoUser, String>,
}

/// Splits an export into its documents. Only a JSON array that does not parse as a whole is
/// an error (its documents cannot be told apart); a bad line of JSON lines is one bad record.
pub fn parse_export(text: &str) -> Result<Vec<Record>, String> {
    let text = text.trim_start_matches('\u{feff}');
    if text.trim_start().starts_with('[') {
        let docs: Vec<Value> = serde_json::from_str(text)
            .map_err(|e| format!("the file starts with '[' but is not a JSON array: {e}"))?;
        return Ok(docs
            .into_iter()
            .enumerate()
            .map(|(i, doc)| record(format!("record {}", i + 1), Ok(doc)))
            .collect());
    }
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let doc = serde_json::from_str::<Value>(line).map_err(|e| format!("not JSON: {e}"));
            record(format!("line {}", i + 1), doc)
        })
        .collect())
}

fn record(position: String, doc: Result<Value, String>) -> Record {
    let username = doc
        .as_ref()
        .ok()
        .and_then(|d| d.get("username"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Record {
        position,
        username,
        user: doc.and_then(|d| user_of(&d)),
    }
}

fn user_of(doc: &Value) -> Result<MongoUser, String> {
    let doc = doc.as_object().ok_or("the document is not a JSON object")?;
    Ok(MongoUser {
        source_id: doc.get("_id").and_then(source_id),
        username: text_field(doc, "username")?,
        email: text_field(doc, "email")?,
        full_name: text_field(doc, "FullName")?,
        password_hash: text_field(doc, "password")?,
        descriptor: descriptor(
            doc.get("faceDescriptor")
                .ok_or("missing field faceDescriptor")?,
        )?,
    })
}

fn text_field(doc: &Map<String, Value>, name: &str) -> Result<String, String> {
    match doc.get(name) {
        None | Some(Value::Null) => Err(format!("missing field {name}")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("field {name} is not a string")),
    }
}

/// `{"$oid": "hex"}`, or a plain string or number id.
fn source_id(id: &Value) -> Option<String> {
    match id {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("$oid").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// 128 finite numbers, as an array or as the object with keys "0".."127" that a serialised
/// `Float32Array` becomes.
fn descriptor(value: &Value) -> Result<[f32; DESCRIPTOR_LEN], String> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(keyed) => indexed_values(keyed)?,
        _ => return Err("faceDescriptor is neither an array nor an object of numbers".into()),
    };
    if items.len() != DESCRIPTOR_LEN {
        return Err(format!(
            "faceDescriptor has {} numbers, expected {DESCRIPTOR_LEN}",
            items.len()
        ));
    }
    let mut out = [0f32; DESCRIPTOR_LEN];
    for (i, (slot, item)) in out.iter_mut().zip(items).enumerate() {
        let v = number(item).ok_or_else(|| format!("faceDescriptor[{i}] is not a number"))?;
        // An f64 beyond f32's range becomes infinite when narrowed: refused like NaN.
        let narrowed = v as f32;
        if !narrowed.is_finite() {
            return Err(format!("faceDescriptor[{i}] is not finite ({v})"));
        }
        *slot = narrowed;
    }
    Ok(out)
}

/// The values of `{"0": .., "1": .., ...}` in index order; every key must be an index and
/// every index below the count present.
fn indexed_values(keyed: &Map<String, Value>) -> Result<Vec<&Value>, String> {
    let mut slots: Vec<Option<&Value>> = vec![None; keyed.len()];
    for (key, v) in keyed {
        let i: usize = key
            .parse()
            .map_err(|_| format!("faceDescriptor has a key {key:?} that is not an index"))?;
        let slot = slots.get_mut(i).ok_or_else(|| {
            format!(
                "faceDescriptor has index {i} among {} numbers, expected keys \"0\"..\"{}\"",
                keyed.len(),
                DESCRIPTOR_LEN - 1
            )
        })?;
        *slot = Some(v);
    }
    // Unique keys that all lie below the count cover every index, so none is left empty.
    Ok(slots.into_iter().flatten().collect())
}

/// A JSON number, or an extended-JSON number (`$numberDouble` may be "NaN" or "Infinity").
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Object(o) if o.len() == 1 => {
            let (kind, text) = o.iter().next()?;
            let text = text.as_str()?;
            match kind.as_str() {
                "$numberDouble" | "$numberDecimal" | "$numberInt" | "$numberLong" => {
                    text.parse().ok()
                }
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(descriptor: Value) -> Value {
        json!({
            "_id": {"$oid": "5f1d7a3e9b1e8a0017c0ffee"},
            "username": "ada",
            "email": "ada@example.org",
            "FullName": "Ada Lovelace",
            "password": "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
            "faceDescriptor": descriptor,
            "__v": 0
        })
    }

    fn values(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64 / 1000.0 - 0.05).collect()
    }

    fn one(d: Value) -> Result<MongoUser, String> {
        let text = serde_json::to_string(&d).expect("json");
        let mut records = parse_export(&text).expect("parse");
        assert_eq!(records.len(), 1);
        records.remove(0).user
    }

    #[test]
    fn array_and_keyed_object_descriptors_read_the_same() {
        let array = one(doc(json!(values(128)))).expect("array");
        let keyed: Map<String, Value> = values(128)
            .into_iter()
            .enumerate()
            .rev()
            .map(|(i, v)| (i.to_string(), json!(v)))
            .collect();
        let object = one(doc(Value::Object(keyed))).expect("object");
        assert_eq!(array, object);
        assert_eq!(array.source_id.as_deref(), Some("5f1d7a3e9b1e8a0017c0ffee"));
        assert_eq!(array.full_name, "Ada Lovelace");
        assert!((array.descriptor[127] - 0.077).abs() < 1e-6);
    }

    #[test]
    fn canonical_extended_json_numbers_are_read_and_nan_is_refused() {
        let mut canonical: Vec<Value> = values(128)
            .iter()
            .map(|v| json!({"$numberDouble": v.to_string()}))
            .collect();
        assert!(one(doc(json!(canonical.clone()))).is_ok());
        canonical[9] = json!({"$numberDouble": "NaN"});
        let err = one(doc(json!(canonical.clone()))).expect_err("NaN");
        assert!(err.contains("faceDescriptor[9] is not finite"), "{err}");
        canonical[9] = json!({"$numberDouble": "-Infinity"});
        assert!(one(doc(json!(canonical))).is_err());
        let mut huge = values(128);
        huge[3] = 1e300;
        let err = one(doc(json!(huge))).expect_err("beyond f32");
        assert!(err.contains("[3] is not finite"), "{err}");
    }

    #[test]
    fn wrong_lengths_gaps_and_non_numbers_are_reasons() {
        let err = one(doc(json!(values(127)))).expect_err("127");
        assert!(err.contains("has 127 numbers, expected 128"), "{err}");
        let gap: Map<String, Value> = (1..=128).map(|i| (i.to_string(), json!(0.1))).collect();
        let err = one(doc(Value::Object(gap))).expect_err("1..=128");
        assert!(err.contains("index 128"), "{err}");
        let mut strings: Vec<Value> = values(128).into_iter().map(|v| json!(v)).collect();
        strings[0] = json!("0.1");
        assert!(one(doc(json!(strings))).is_err());
        assert!(one(doc(json!("0.1,0.2"))).is_err());
    }

    #[test]
    fn missing_and_non_string_fields_are_named() {
        let mut d = doc(json!(values(128)));
        d.as_object_mut().expect("object").remove("FullName");
        assert_eq!(one(d).expect_err("no name"), "missing field FullName");
        let mut d = doc(json!(values(128)));
        d["email"] = json!(42);
        assert_eq!(one(d).expect_err("number"), "field email is not a string");
        let mut d = doc(json!(values(128)));
        d.as_object_mut().expect("object").remove("faceDescriptor");
        assert_eq!(one(d).expect_err("no face"), "missing field faceDescriptor");
    }

    #[test]
    fn json_lines_keep_their_line_numbers_and_a_bad_line_is_one_bad_record() {
        let good = serde_json::to_string(&doc(json!(values(128)))).expect("json");
        let text = format!("{good}\n\n{{not json\n{good}\n");
        let records = parse_export(&text).expect("parse");
        let positions: Vec<&str> = records.iter().map(|r| r.position.as_str()).collect();
        assert_eq!(positions, ["line 1", "line 3", "line 4"]);
        assert!(records[1]
            .user
            .as_ref()
            .is_err_and(|e| e.starts_with("not JSON")));
        assert_eq!(records[2].username.as_deref(), Some("ada"));
    }

    #[test]
    fn an_array_export_numbers_its_records_and_a_broken_array_is_an_error() {
        let d = doc(json!(values(128)));
        let text = serde_json::to_string(&json!([d, 7])).expect("json");
        let records = parse_export(&text).expect("parse");
        assert_eq!(records[1].position, "record 2");
        assert!(records[1].user.is_err());
        assert!(parse_export("[{\"username\": ").is_err());
    }

    #[test]
    fn debug_shows_neither_hash_nor_descriptor() {
        let user = one(doc(json!(values(128)))).expect("user");
        let shown = format!("{user:?}");
        assert!(
            !shown.contains("$2b$") && !shown.contains("0.077"),
            "{shown}"
        );
    }
}
