//! Training job names for retries.
//!
//! SageMaker training job names are unique per account and region, at most 63
//! characters, and match `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`. Reusing the failed job's
//! name is the classic failure of retry loops around `createTrainingJob.sync`
//! (`ResourceInUse: Training job names must be unique within an AWS account and
//! region`). Every retry therefore gets `<base>-r<attempt>-<hash>`:
//!
//! - `base` is the failed job's name with any earlier `-r<n>-<hash>` suffix removed, so
//!   names do not grow attempt after attempt;
//! - `attempt` makes names of one lineage distinct from each other;
//! - `hash` (8 hex digits of SHA-256 over the failed job's name, the attempt and the
//!   execution name) separates lineages that share a base name. The failed job's name
//!   was itself unique in the account, so the derived name is too, and the same input
//!   always yields the same name (a retried Lambda invocation does not mint a second
//!   job name).

use sha2::{Digest, Sha256};

/// SageMaker's limit on training job names.
pub const MAX_NAME_LEN: usize = 63;

/// True when `name` is a valid SageMaker training job name.
pub fn is_valid_job_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NAME_LEN {
        return false;
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        return false;
    }
    // `[a-zA-Z0-9](-*[a-zA-Z0-9])*`: starts and ends with an alphanumeric character.
    bytes[0].is_ascii_alphanumeric() && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// The lineage base of a job name: the name without a trailing `-r<digits>-<8 hex>`
/// suffix added by [`retry_job_name`], sanitised to the allowed characters.
pub fn base_name(name: &str) -> String {
    let stripped = strip_retry_suffix(name);
    let mut out: String = stripped
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    // Leading and trailing hyphens are not allowed.
    while out.starts_with('-') {
        out.remove(0);
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("training");
    }
    out
}

fn strip_retry_suffix(name: &str) -> &str {
    // <base>-r<digits>-<8 hex>
    let Some((head, hash)) = name.rsplit_once('-') else {
        return name;
    };
    if hash.len() != 8 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return name;
    }
    let Some((base, attempt)) = head.rsplit_once('-') else {
        return name;
    };
    let Some(digits) = attempt.strip_prefix('r') else {
        return name;
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || base.is_empty() {
        return name;
    }
    base
}

/// The name of retry number `attempt` after the job `failed_job_name` failed.
///
/// Always valid (see [`is_valid_job_name`]); deterministic in its inputs.
pub fn retry_job_name(failed_job_name: &str, attempt: u32, execution_name: &str) -> String {
    let mut h = Sha256::new();
    h.update(failed_job_name.as_bytes());
    h.update([0u8]);
    h.update(attempt.to_le_bytes());
    h.update([0u8]);
    h.update(execution_name.as_bytes());
    let digest = hex::encode(h.finalize());
    let suffix = format!("-r{attempt}-{}", &digest[..8]);
    let mut base = base_name(failed_job_name);
    let room = MAX_NAME_LEN - suffix.len();
    if base.len() > room {
        base.truncate(room);
        while base.ends_with('-') {
            base.pop();
        }
        if base.is_empty() {
            base.push('t');
        }
    }
    format!("{base}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_follows_the_sagemaker_pattern() {
        assert!(is_valid_job_name("a"));
        assert!(is_valid_job_name("my--job-1"));
        assert!(!is_valid_job_name(""));
        assert!(!is_valid_job_name("-job"));
        assert!(!is_valid_job_name("job-"));
        assert!(!is_valid_job_name("job_1"));
        assert!(!is_valid_job_name(&"a".repeat(64)));
        assert!(is_valid_job_name(&"a".repeat(63)));
    }

    #[test]
    fn retry_names_do_not_grow_across_attempts() {
        let first = retry_job_name("bert-finetune-2026-11-21", 1, "exec-1");
        assert!(first.starts_with("bert-finetune-2026-11-21-r1-"), "{first}");
        let second = retry_job_name(&first, 2, "exec-1");
        assert!(
            second.starts_with("bert-finetune-2026-11-21-r2-"),
            "{second}"
        );
        assert_eq!(base_name(&second), "bert-finetune-2026-11-21");
    }

    #[test]
    fn long_and_odd_names_are_made_valid() {
        let long = "x".repeat(63);
        let n = retry_job_name(&long, 12, "e");
        assert!(is_valid_job_name(&n), "{n}");
        assert_eq!(n.len(), 63);
        let odd = retry_job_name("__weird_name__", 1, "e");
        assert!(is_valid_job_name(&odd), "{odd}");
        assert!(odd.starts_with("weird-name-r1-"), "{odd}");
        let empty = retry_job_name("", 1, "e");
        assert!(is_valid_job_name(&empty), "{empty}");
    }

    #[test]
    fn names_are_deterministic_and_separate_lineages() {
        assert_eq!(
            retry_job_name("job-a", 1, "e"),
            retry_job_name("job-a", 1, "e")
        );
        assert_ne!(
            retry_job_name("job-a", 1, "e1"),
            retry_job_name("job-a", 1, "e2")
        );
        assert_ne!(
            retry_job_name("job-a", 1, "e"),
            retry_job_name("job-a", 2, "e")
        );
    }

    #[test]
    fn a_name_that_only_looks_like_a_suffix_is_kept() {
        assert_eq!(base_name("model-r2-zzzzzzzz"), "model-r2-zzzzzzzz");
        assert_eq!(base_name("r1-0123abcd"), "r1-0123abcd");
        assert_eq!(base_name("m-r1-0123abcd"), "m");
    }
}
