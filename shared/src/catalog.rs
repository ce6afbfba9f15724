//! The catalog of every documented error name: each module's `ERRORS` table, gathered.
//!
//! It lives apart from [`crate::error`] on purpose: every module imports `error` for
//! [`ErrorDoc`] and [`ErrorName`], so `error` must import none of them, while this module
//! imports them all and nothing in the library imports it (the CLI, the README table and
//! the tests read it).

use crate::error::ErrorDoc;

/// Every documented error name, across all modules.
pub fn all() -> Vec<ErrorDoc> {
    let parts: [&[ErrorDoc]; 10] = [
        crate::error::ERRORS,
        crate::dataset::ERRORS,
        crate::schema::ERRORS,
        crate::profile::ERRORS,
        crate::drift::ERRORS,
        crate::training::ERRORS,
        crate::saga::ERRORS,
        crate::approval::ERRORS,
        crate::trigger::ERRORS,
        crate::evaluation::ERRORS,
    ];
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

/// The catalog as the Markdown table the README carries (between the
/// `<!-- errors:begin -->` / `<!-- errors:end -->` markers; a test keeps them equal).
pub fn markdown_table() -> String {
    let mut out = String::from("| error name | retry | meaning |\n|---|---|---|\n");
    let mut all = all();
    all.sort_by_key(|d| d.name);
    for d in all {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            d.name,
            if d.retryable { "yes" } else { "no" },
            d.meaning.replace('|', "\\|")
        ));
    }
    out
}

/// Look up a name in the catalog.
pub fn lookup(name: &str) -> Option<ErrorDoc> {
    all().into_iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_dotted_and_not_rust_types() {
        let all = all();
        let mut seen = std::collections::HashSet::new();
        for d in &all {
            assert!(seen.insert(d.name), "duplicate error name {}", d.name);
            let (family, rest) = d.name.split_once('.').expect("dotted name");
            assert!(!family.is_empty() && !rest.is_empty(), "{}", d.name);
            assert!(
                !d.name.contains("::") && !d.name.contains('<'),
                "{}",
                d.name
            );
            assert!(!d.meaning.is_empty());
        }
    }

    #[test]
    fn only_transient_family_and_explicit_cases_are_retryable() {
        for d in all() {
            if d.name.starts_with("Transient.") {
                assert!(d.retryable, "{} must be retryable", d.name);
            }
            if d.name.starts_with("InputError.") || d.name.starts_with("DataError.") {
                assert!(!d.retryable, "{} must not be retryable", d.name);
            }
        }
    }
}
