//! Compare JSON documents by shape, and keep fixtures taken from live runs.
//!
//! A fixture captured from a real run (say, the approval request the shipped state machine
//! sends) holds values that change from run to run: numbers, names, URIs. What other code is
//! built on is its *shape*: the keys, recursively, and the JSON type of each value. A test
//! compares the live document with the fixture by shape, and with
//! `TRAINGUARD_UPDATE_FIXTURES=1` rewrites the fixture from the live run instead.
//!
//! Arrays are compared element by element over the shorter of the two (how many items a
//! list holds is data, not shape), but an empty array against a non-empty one is a
//! difference: there would be nothing to compare the items with.

use std::path::Path;

use serde_json::Value;

/// Set to `1` to rewrite fixtures from the live run instead of comparing with them.
pub const UPDATE_ENV: &str = "TRAINGUARD_UPDATE_FIXTURES";

/// True when `TRAINGUARD_UPDATE_FIXTURES=1`.
pub fn updating_fixtures() -> bool {
    std::env::var(UPDATE_ENV).is_ok_and(|v| v.trim() == "1")
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Every place where `actual` differs in shape from `expected`, as `<path>: <what>` lines
/// (`$` is the root; `$.drift.drifted_features[0].pvalue`). Empty when the shapes agree.
pub fn shape_differences(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("$", expected, actual, &mut out);
    out
}

fn walk(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => walk(&p, ev, av, out),
                    None => out.push(format!("{p}: missing (expected {})", type_name(ev))),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!("{path}.{k}: unexpected {}", type_name(av)));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.is_empty() != a.is_empty() {
                out.push(format!(
                    "{path}: {} items expected, {} found (cannot compare an empty list)",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                walk(&format!("{path}[{i}]"), ev, av, out);
            }
        }
        (e, a) if std::mem::discriminant(e) != std::mem::discriminant(a) => out.push(format!(
            "{path}: {} expected, {} found",
            type_name(e),
            type_name(a)
        )),
        _ => {}
    }
}

/// Panic with every difference unless `actual` has the shape of `expected`; `what` says
/// which documents are compared (and the message says how to refresh a fixture).
pub fn assert_same_shape(what: &str, expected: &Value, actual: &Value) {
    let diffs = shape_differences(expected, actual);
    assert!(
        diffs.is_empty(),
        "{what}: the shapes differ ({} difference(s)):\n  {}\n\
         If the change is intended, update the fixture from a live run with {UPDATE_ENV}=1.\n\
         actual: {actual}",
        diffs.len(),
        diffs.join("\n  ")
    );
}

/// Read a JSON fixture; panics with the path and how to make it when missing or invalid.
pub fn read_fixture(path: &Path) -> Value {
    let raw = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "fixture {}: {e} (write it from a live run with {UPDATE_ENV}=1)",
            path.display()
        )
    });
    serde_json::from_slice(&raw)
        .unwrap_or_else(|e| panic!("fixture {}: not JSON: {e}", path.display()))
}

/// Write a JSON fixture (pretty, one trailing newline), creating its directory.
pub fn write_fixture(path: &Path, value: &Value) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_may_differ_keys_and_types_may_not() {
        let fixture = json!({"metric": "acc", "value": 0.87, "ok": true, "uri": null,
                             "baseline": {"acc": 0.86}, "features": [{"name": "a", "p": 0.1}]});
        let live = json!({"metric": "f1", "value": 1, "ok": false, "uri": null,
                          "baseline": {"acc": 0.5}, "features": [{"name": "b", "p": 1e-9}, {"name": "c", "p": 0.2}]});
        assert_eq!(shape_differences(&fixture, &live), Vec::<String>::new());
        assert_same_shape("same", &fixture, &live);

        let live = json!({"metric": 3, "value": 0.87, "ok": true, "uri": "s3://x",
                          "baseline": {}, "features": [{"name": "a"}], "extra": [1]});
        assert_eq!(
            shape_differences(&fixture, &live),
            [
                "$.metric: a string expected, a number found",
                "$.uri: null expected, a string found",
                "$.baseline.acc: missing (expected a number)",
                "$.features[0].p: missing (expected a number)",
                "$.extra: unexpected an array",
            ]
        );
    }

    #[test]
    fn empty_against_non_empty_lists_and_roots() {
        let d = shape_differences(&json!({"l": [1]}), &json!({"l": []}));
        assert_eq!(
            d,
            ["$.l: 1 items expected, 0 found (cannot compare an empty list)"]
        );
        assert!(shape_differences(&json!([]), &json!([])).is_empty());
        assert_eq!(
            shape_differences(&json!({}), &json!([])),
            ["$: an object expected, an array found"]
        );
    }

    #[test]
    #[should_panic(expected = "TRAINGUARD_UPDATE_FIXTURES=1")]
    fn a_difference_fails_with_how_to_refresh() {
        assert_same_shape("live vs fixture", &json!({"a": 1}), &json!({"a": "1"}));
    }

    #[test]
    fn fixtures_round_trip() {
        let dir = std::env::temp_dir().join(format!("json-shape-{}", std::process::id()));
        let path = dir.join("sub/f.json");
        let v = json!({"a": [1, {"b": null}]});
        write_fixture(&path, &v);
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
        assert_eq!(read_fixture(&path), v);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
