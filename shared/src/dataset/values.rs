//! Reading any column (typed Parquet or CSV text) as numbers or text, with one
//! definition of "null".

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

/// The null tokens used when none are configured: empty, `NA`, `N/A`, `NaN`, `null`,
/// `NULL`, `None` (what pandas users expect to be missing).
pub const DEFAULT_NULL_TOKENS: &[&str] = &["", "NA", "N/A", "NaN", "null", "NULL", "None"];

/// Which text values mean "missing". Matching is exact (case-sensitive, no trimming).
/// For CSV an empty field is always null, whatever the list says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NullTokens {
    tokens: Vec<String>,
    /// Longest token, to reject long strings without comparing.
    max_len: usize,
}

impl Default for NullTokens {
    fn default() -> Self {
        NullTokens::new(DEFAULT_NULL_TOKENS.iter().map(|s| s.to_string()))
    }
}

impl NullTokens {
    /// A custom list.
    pub fn new(tokens: impl IntoIterator<Item = String>) -> Self {
        let tokens: Vec<String> = tokens.into_iter().collect();
        let max_len = tokens.iter().map(|t| t.len()).max().unwrap_or(0);
        NullTokens { tokens, max_len }
    }

    /// The tokens.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// True when `s` is one of the tokens.
    #[inline]
    pub fn is_null(&self, s: &str) -> bool {
        if s.len() > self.max_len {
            return false;
        }
        self.tokens.iter().any(|t| t == s)
    }
}

/// A column as `f64`s: numeric and boolean types converted, text parsed (null tokens and
/// unparsable text become `None`), everything else `None`.
pub fn f64_values(array: &ArrayRef, nulls: &NullTokens) -> Vec<Option<f64>> {
    let n = array.len();
    match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => string_values(array)
            .into_iter()
            .map(|v| {
                v.and_then(|s| {
                    if nulls.is_null(&s) {
                        None
                    } else {
                        s.trim().parse::<f64>().ok()
                    }
                })
            })
            .collect(),
        DataType::Boolean => {
            let b = array.as_boolean();
            (0..n)
                .map(|i| b.is_valid(i).then(|| if b.value(i) { 1.0 } else { 0.0 }))
                .collect()
        }
        dt if dt.is_numeric() => match arrow_cast::cast(array, &DataType::Float64) {
            Ok(c) => {
                let f = c.as_primitive::<arrow_array::types::Float64Type>();
                (0..n)
                    .map(|i| f.is_valid(i).then(|| f.value(i)).filter(|v| !v.is_nan()))
                    .collect()
            }
            Err(_) => vec![None; n],
        },
        _ => vec![None; n],
    }
}

/// A column as text: strings as they are, other types formatted by Arrow's display
/// rules (dates as `YYYY-MM-DD`, ...). Arrow nulls are `None`; null *tokens* are kept
/// (apply [`NullTokens`] yourself when the column came from CSV).
pub fn string_values(array: &ArrayRef) -> Vec<Option<String>> {
    let n = array.len();
    match array.data_type() {
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            (0..n)
                .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
                .collect()
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            (0..n)
                .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
                .collect()
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            (0..n)
                .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
                .collect()
        }
        _ => match arrow_cast::cast(array, &DataType::Utf8) {
            Ok(c) => {
                let a = c.as_string::<i32>();
                (0..n)
                    .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
                    .collect()
            }
            Err(_) => vec![None; n],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int32Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn null_tokens_default_and_custom() {
        let d = NullTokens::default();
        for t in ["", "NA", "N/A", "NaN", "null", "NULL", "None"] {
            assert!(d.is_null(t), "{t}");
        }
        assert!(!d.is_null("na") && !d.is_null("0") && !d.is_null("Nonesuch"));
        let c = NullTokens::new(["-".to_string()]);
        assert!(c.is_null("-") && !c.is_null("NA"));
    }

    #[test]
    fn numbers_from_text_and_typed_columns() {
        let t: ArrayRef = Arc::new(StringArray::from(vec![
            Some("1.5"),
            Some("NA"),
            None,
            Some("x"),
            Some(" 2 "),
        ]));
        assert_eq!(
            f64_values(&t, &NullTokens::default()),
            vec![Some(1.5), None, None, None, Some(2.0)]
        );
        let i: ArrayRef = Arc::new(Int32Array::from(vec![Some(3), None]));
        assert_eq!(
            f64_values(&i, &NullTokens::default()),
            vec![Some(3.0), None]
        );
        let f: ArrayRef = Arc::new(Float64Array::from(vec![Some(f64::NAN), Some(0.5)]));
        assert_eq!(
            f64_values(&f, &NullTokens::default()),
            vec![None, Some(0.5)]
        );
        assert_eq!(string_values(&i), vec![Some("3".to_string()), None]);
    }
}
