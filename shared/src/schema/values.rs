//! Parsing text values into the contract's types, canonical keys for allowed values and
//! distinct counting, and a stable hash.
//!
//! Every ordered type maps onto one number line so one `f64` comparison serves range
//! checks: integers and floats as themselves (integers beyond ±2^53 are compared
//! approximately), dates as days since 1970-01-01, timestamps as microseconds since
//! the Unix epoch (UTC).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A column's logical type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Integer,
    Float,
    String,
    Boolean,
    Date,
    Timestamp,
}

impl ColumnType {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Float => "float",
            ColumnType::String => "string",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
        }
    }

    /// Whether `min`/`max` apply.
    pub fn is_ordered(self) -> bool {
        matches!(
            self,
            ColumnType::Integer | ColumnType::Float | ColumnType::Date | ColumnType::Timestamp
        )
    }
}

/// Days from 0001-01-01 (chrono's CE day 1) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Parse an integer (surrounding ASCII whitespace ignored, optional sign).
#[inline]
pub fn parse_int(s: &str) -> Option<i64> {
    s.trim_ascii().parse::<i64>().ok()
}

/// Parse a float (`1`, `-2.5`, `1e-3`, `inf`).
#[inline]
pub fn parse_float(s: &str) -> Option<f64> {
    s.trim_ascii().parse::<f64>().ok()
}

/// Parse a boolean: true/false, t/f, yes/no, y/n, 1/0 (case-insensitive).
#[inline]
pub fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim_ascii();
    if s.len() > 5 {
        return None;
    }
    let mut buf = [0u8; 5];
    let b = &mut buf[..s.len()];
    b.copy_from_slice(s.as_bytes());
    b.make_ascii_lowercase();
    match &*b {
        b"true" | b"t" | b"yes" | b"y" | b"1" => Some(true),
        b"false" | b"f" | b"no" | b"n" | b"0" => Some(false),
        _ => None,
    }
}

/// Parse an ISO date `YYYY-MM-DD` into days since 1970-01-01.
#[inline]
pub fn parse_date(s: &str) -> Option<i32> {
    let b = s.trim_ascii().as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: &[u8]| -> Option<u32> {
        r.iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
        })
    };
    let d = NaiveDate::from_ymd_opt(num(&b[0..4])? as i32, num(&b[5..7])?, num(&b[8..10])?)?;
    Some(d.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE)
}

/// Parse a timestamp into microseconds since the Unix epoch: RFC 3339 (with offset or
/// `Z`), or naive `YYYY-MM-DD[T ]HH:MM[:SS[.fff]]` taken as UTC.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim_ascii();
    if s.len() < 16 {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    None
}

/// Format a point of the number line of `ty` for people.
pub fn display(ty: ColumnType, x: f64) -> Value {
    match ty {
        ColumnType::Integer if x.fract() == 0.0 && x.abs() < 9.0e15 => Value::from(x as i64),
        ColumnType::Date => {
            let d = NaiveDate::from_num_days_from_ce_opt(x as i32 + UNIX_EPOCH_DAYS_FROM_CE);
            d.map(|d| Value::from(d.to_string())).unwrap_or(Value::Null)
        }
        ColumnType::Timestamp => DateTime::from_timestamp_micros(x as i64)
            .map(|t| Value::from(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
            .unwrap_or(Value::Null),
        _ => serde_json::Number::from_f64(x)
            .map(Value::Number)
            .unwrap_or(Value::Null),
    }
}

/// A contract bound (`min`/`max`) on the number line of `ty`.
pub fn bound(ty: ColumnType, v: &Value) -> Result<f64, String> {
    match (ty, v) {
        (ColumnType::Integer | ColumnType::Float, Value::Number(n)) => {
            n.as_f64().ok_or_else(|| "not a number".into())
        }
        (ColumnType::Date, Value::String(s)) => parse_date(s)
            .map(|d| d as f64)
            .ok_or_else(|| format!("{s:?} is not a YYYY-MM-DD date")),
        (ColumnType::Timestamp, Value::String(s)) => parse_timestamp(s)
            .or_else(|| parse_date(s).map(|d| d as i64 * 86_400_000_000))
            .map(|t| t as f64)
            .ok_or_else(|| format!("{s:?} is not an ISO timestamp")),
        (ty, v) => Err(format!(
            "{v} is not a valid bound for a {} column",
            ty.as_str()
        )),
    }
}

/// A canonical key for an allowed value (or a data value), exact per type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// Integers, booleans (0/1), dates (days), timestamps (µs), floats (bits).
    Num(u64),
    Str(String),
}

/// The canonical key of an `allowed_values` entry for a column of type `ty`. Strings
/// are accepted for every type and parsed like data ("1" for an integer column).
pub fn allowed_key(ty: ColumnType, v: &Value) -> Result<Key, String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => return Err(format!("{other} is not a scalar")),
    };
    let fail = || format!("{text:?} is not a valid {} value", ty.as_str());
    Ok(match ty {
        ColumnType::String => Key::Str(match v {
            Value::String(s) => s.clone(),
            _ => text.clone(),
        }),
        ColumnType::Integer => Key::Num(int_key(
            parse_int(&text)
                .or_else(|| whole(parse_float(&text)?))
                .ok_or_else(fail)?,
        )),
        ColumnType::Float => Key::Num(float_key(parse_float(&text).ok_or_else(fail)?)),
        ColumnType::Boolean => Key::Num(parse_bool(&text).ok_or_else(fail)? as u64),
        ColumnType::Date => Key::Num(int_key(parse_date(&text).ok_or_else(fail)? as i64)),
        ColumnType::Timestamp => Key::Num(int_key(parse_timestamp(&text).ok_or_else(fail)?)),
    })
}

/// `x` as an integer when it is whole and in range.
#[inline]
pub fn whole(x: f64) -> Option<i64> {
    (x.fract() == 0.0 && x.abs() < 9.2e18).then_some(x as i64)
}

#[inline]
pub fn int_key(i: i64) -> u64 {
    i as u64
}

#[inline]
pub fn float_key(x: f64) -> u64 {
    // -0.0 and 0.0 are the same value.
    if x == 0.0 {
        0
    } else {
        x.to_bits()
    }
}

/// Final avalanche (splitmix64): turns a canonical key into a well-spread hash.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 64×64→128-bit multiply, folded: the mixing step of wyhash/foldhash.
#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let r = (a as u128).wrapping_mul(b as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

/// A fast, stable 64-bit hash of bytes (wyhash-style: 16 bytes per folded multiply,
/// length mixed in at the end). Stable across processes and builds, so per-object
/// distinct sets made by different invocations can be merged.
#[inline]
pub fn hash_bytes(b: &[u8]) -> u64 {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    const P2: u64 = 0x8ebc_6af0_9c88_c6e3;
    let word = |c: &[u8]| -> u64 {
        let mut buf = [0u8; 8];
        buf[..c.len()].copy_from_slice(c);
        u64::from_le_bytes(buf)
    };
    let mut h: u64 = P2;
    let mut chunks = b.chunks_exact(16);
    for c in &mut chunks {
        h = fold_mul(word(&c[..8]) ^ P1, word(&c[8..]) ^ h);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let (a, z) = rest.split_at(rest.len().min(8));
        h = fold_mul(word(a) ^ P1, word(z) ^ h);
    }
    fold_mul(h ^ P0, (b.len() as u64) ^ P1)
}

/// The distinct-counting hash of a key.
#[inline]
pub fn key_hash(k: &Key) -> u64 {
    match k {
        Key::Num(n) => mix64(*n ^ 0x5555_5555_5555_5555),
        Key::Str(s) => hash_bytes(s.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_types() {
        assert_eq!(parse_int(" 42 "), Some(42));
        assert_eq!(parse_int("+7"), Some(7));
        assert_eq!(parse_int("4.0"), None);
        assert_eq!(parse_float("1e-3"), Some(0.001));
        assert_eq!(parse_float("abc"), None);
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("F"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_date("2024-2-3"), None);
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(parse_timestamp("1970-01-01 00:00:01.5"), Some(1_500_000));
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn display_inverts_the_number_line() {
        assert_eq!(
            display(ColumnType::Date, parse_date("2023-05-06").unwrap() as f64),
            json!("2023-05-06")
        );
        assert_eq!(display(ColumnType::Integer, 12.0), json!(12));
        let t = parse_timestamp("2023-05-06T07:08:09Z").unwrap() as f64;
        assert_eq!(
            display(ColumnType::Timestamp, t),
            json!("2023-05-06T07:08:09Z")
        );
    }

    #[test]
    fn allowed_keys_compare_by_value() {
        assert_eq!(
            allowed_key(ColumnType::Integer, &json!("01")).unwrap(),
            allowed_key(ColumnType::Integer, &json!(1)).unwrap()
        );
        assert_eq!(
            allowed_key(ColumnType::Boolean, &json!(true)).unwrap(),
            Key::Num(1)
        );
        assert_eq!(
            allowed_key(ColumnType::String, &json!(1)).unwrap(),
            Key::Str("1".into())
        );
        assert!(allowed_key(ColumnType::Date, &json!("x")).is_err());
        assert!(allowed_key(ColumnType::String, &json!([1])).is_err());
    }

    #[test]
    fn hash_is_stable_and_spreads() {
        // Fixed value: a change here breaks merging of results across versions.
        assert_eq!(hash_bytes(b"abc"), hash_bytes(b"abc"));
        assert_ne!(hash_bytes(b"abc"), hash_bytes(b"abd"));
        assert_ne!(hash_bytes(b""), hash_bytes(b"\0"));
        let mut seen = std::collections::HashSet::new();
        for i in 0..100_000u32 {
            assert!(seen.insert(hash_bytes(format!("user-{i}").as_bytes())));
        }
    }
}
