//! Who is deciding, and whether they may.
//!
//! An [`Identity`] is built only from what an authenticator vouched for: the JWT
//! authorizer's claims or the IAM authorizer's caller in the API Gateway request context,
//! or the CLI caller's STS identity. Approver entries may be IAM principal ARNs, OIDC
//! subjects, emails or `group:<name>`.
//!
//! Only stable, verified identifiers are keys, because a key that the caller can choose
//! makes them whoever they name:
//! - **JWT**: `sub`, and `email` only when `email_verified` is `true` (API Gateway passes
//!   every claim as a string, so `"true"`). Username-like claims (`username`,
//!   `cognito:username`, `preferred_username`, `name`, …) are never read: users can often
//!   edit them, and a `preferred_username` of `group:ml-leads` or of a listed role ARN must
//!   not make anyone an approver. JWT keys never match IAM-shaped entries (`arn:…`,
//!   `AWS:…`). The display name is the verified email, else the subject.
//! - **Groups**: a `group:<name>` entry matches only a name that is an exact member of a
//!   list-valued `cognito:groups` / `groups` claim, and nothing else matches it. API
//!   Gateway flattens array claims to `[a b]`, which cannot tell the group `x ml-leads`
//!   from the groups `x` and `ml-leads`, so the rule fails closed:
//!   - a JSON array of strings (`["a","b c"]`, e.g. a custom claim set by a Cognito
//!     pre-token-generation trigger) gives exactly its members (a non-string member: none);
//!   - the bracket form gives its content only when that is one name with no whitespace,
//!     comma, quote or bracket (`[ml-leads]` → `ml-leads`);
//!   - anything else — `[a b]`, `[x ml-leads]`, `a, b`, a plain string — gives no groups.
//!     Such callers still match by subject or verified email.
//! - **IAM / STS**: the principal ARN (also without its IAM path) and, when the authorizer
//!   gives it, `AWS:<userId>` (`AWS:AIDA…` for a user, `AWS:AROA…:<session>` for a role
//!   session): the form S3 event notifications use for the uploader
//!   (`userIdentity.principalId`), which the pipeline records as `started_by`.
//!
//! Two kinds of matching, on purpose:
//! - *may approve* is broad: an assumed-role session matches the role's ARN (that is how
//!   people list IAM approvers), and JWT group claims match `group:<name>` entries;
//! - *is the starter* is exact: the same subject, verified email, principal session or
//!   unique id. A listed role shared by many people (an SSO permission set) must not stop
//!   colleagues from reviewing each other's runs; when `started_by` is itself a role ARN
//!   the role is all we know, so every session of that role counts as the starter. And
//!   when `started_by` is a role session (`AWS:<roleid>:<session>` or an assumed-role ARN)
//!   whose session name equals a JWT caller's verified email (case-insensitively), the
//!   caller is the starter: SSO sessions are named after the user, and refusing is the
//!   safe side.

use std::collections::HashMap;

use serde::Serialize;

/// How the caller was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityKind {
    /// API Gateway JWT authorizer (people on the page).
    Jwt,
    /// API Gateway IAM authorization (programs).
    Iam,
    /// The CLI caller's STS identity.
    Sts,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Jwt => "jwt",
            IdentityKind::Iam => "iam",
            IdentityKind::Sts => "sts",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub kind: IdentityKind,
    /// What the record and the audit show: verified email, else subject, else principal ARN.
    pub display: String,
    /// The principal (subject or ARN), for the audit trail.
    pub principal: String,
    /// Exact keys, normalised: subject and verified email (JWT); principal ARN and
    /// `AWS:<userId>` (IAM, STS).
    exact: Vec<String>,
    /// Group names from a list-valued JWT group claim, exact members only.
    groups: Vec<String>,
    /// The role behind an assumed-role session, if any.
    role_arn: Option<String>,
    /// The verified email (JWT), for the SSO-session starter rule.
    email: Option<String>,
}

impl Identity {
    /// From JWT authorizer claims; `None` without a subject (not authenticated).
    pub fn from_jwt_claims(claims: &HashMap<String, String>) -> Option<Identity> {
        let claim = |k: &str| claims.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let sub = claim("sub")?.to_string();
        let verified = claim("email_verified").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let email = claim("email")
            .filter(|_| verified)
            .map(str::to_ascii_lowercase);
        let mut exact = vec![normalise(&sub)];
        exact.extend(email.clone());
        let groups = ["cognito:groups", "groups"]
            .into_iter()
            .filter_map(|k| claims.get(k))
            .flat_map(|g| parse_group_claim(g))
            .collect();
        Some(Identity {
            kind: IdentityKind::Jwt,
            display: email.clone().unwrap_or_else(|| sub.clone()),
            principal: sub,
            exact,
            groups,
            role_arn: None,
            email,
        })
    }

    /// From an IAM principal ARN (IAM authorizer `userArn` or STS GetCallerIdentity);
    /// `None` when empty.
    pub fn from_principal_arn(arn: &str, kind: IdentityKind) -> Option<Identity> {
        let arn = arn.trim();
        if arn.is_empty() {
            return None;
        }
        Some(Identity {
            kind,
            display: arn.to_string(),
            principal: arn.to_string(),
            exact: vec![arn.to_string(), normalise(arn)],
            groups: Vec::new(),
            role_arn: role_of_session(arn),
            email: None,
        })
    }

    /// From the IAM authorizer's `userArn` and `userId` (or STS's `Arn` and `UserId`): the
    /// ARN's keys plus `AWS:<userId>`, so a caller is recognised as the uploader an S3
    /// event named (`principalId`). `None` without an ARN.
    pub fn from_iam(user_arn: &str, user_id: Option<&str>, kind: IdentityKind) -> Option<Identity> {
        let mut id = Identity::from_principal_arn(user_arn, kind)?;
        if let Some(uid) = user_id.map(str::trim).filter(|u| !u.is_empty()) {
            id.exact.push(format!("AWS:{uid}"));
        }
        Some(id)
    }

    /// True when any entry of `approvers` names this caller (by subject, verified email,
    /// ARN, unique id, the role of an assumed-role session, or `group:<name>`).
    pub fn may_approve(&self, approvers: &[String]) -> bool {
        approvers.iter().any(|a| self.is_named_by(a))
    }

    fn is_named_by(&self, entry: &str) -> bool {
        let entry = entry.trim();
        if let Some(group) = entry.strip_prefix("group:") {
            return self.groups.iter().any(|g| g == group);
        }
        let entry = normalise(entry);
        if entry.is_empty() || (self.kind == IdentityKind::Jwt && is_iam_shaped(&entry)) {
            return false;
        }
        self.exact.contains(&entry) || self.role_arn.as_ref() == Some(&entry)
    }

    /// True when this caller is the one who started the run.
    pub fn is_starter(&self, started_by: Option<&str>) -> bool {
        let Some(s) = started_by.map(normalise).filter(|s| !s.is_empty()) else {
            return false;
        };
        if self.exact.contains(&s) {
            return true;
        }
        if let (Some(email), Some(session)) = (&self.email, session_name(&s)) {
            if email.eq_ignore_ascii_case(session) {
                return true;
            }
        }
        // `started_by` names a role (not a session): every session of it is the starter.
        is_role_arn(&s) && self.role_arn.as_deref() == Some(s.as_str())
    }
}

/// Normalise an approver entry or identity key: trimmed; emails lowercased; IAM role and
/// user ARNs without their path (`arn:aws:iam::1:role/a/b/R` → `arn:aws:iam::1:role/R`),
/// because assumed-role ARNs do not carry the path. `AWS:<userId>` keys keep their case
/// (unique ids and session names are case-sensitive).
fn normalise(s: &str) -> String {
    let s = s.trim();
    if !is_iam_shaped(s) && s.contains('@') {
        return s.to_ascii_lowercase();
    }
    if let Some((head, rest)) = split_iam_arn(s) {
        for kind in ["role/", "user/"] {
            if let Some(path_and_name) = rest.strip_prefix(kind) {
                let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
                return format!("{head}{kind}{name}");
            }
        }
    }
    s.to_string()
}

/// An IAM principal (`arn:…`) or unique id (`AWS:…`): only IAM callers may match these.
fn is_iam_shaped(s: &str) -> bool {
    s.starts_with("arn:") || s.starts_with("AWS:")
}

/// `arn:<partition>:iam::<account>:` and the resource part.
fn split_iam_arn(s: &str) -> Option<(String, &str)> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "iam" {
        Some((format!("arn:{}:iam::{}:", parts[1], parts[4]), parts[5]))
    } else {
        None
    }
}

fn is_role_arn(s: &str) -> bool {
    split_iam_arn(s)
        .map(|(_, r)| r.starts_with("role/"))
        .unwrap_or(false)
}

/// `arn:aws:sts::1:assumed-role/Role/session` → `arn:aws:iam::1:role/Role`.
fn role_of_session(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.trim().splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sts" {
        return None;
    }
    let rest = parts[5].strip_prefix("assumed-role/")?;
    let role = rest.split('/').next().filter(|r| !r.is_empty())?;
    Some(format!("arn:{}:iam::{}:role/{role}", parts[1], parts[4]))
}

/// The session name of a role session: `AWS:<roleid>:<session>` (an S3 `principalId`) or
/// `arn:…:sts::…:assumed-role/<role>/<session>`.
fn session_name(s: &str) -> Option<&str> {
    let session = if let Some(rest) = s.strip_prefix("AWS:") {
        rest.split_once(':')?.1
    } else {
        role_of_session(s)?;
        s.rsplit_once('/')?.1
    };
    Some(session).filter(|n| !n.is_empty())
}

/// The group names of a `cognito:groups` / `groups` claim; empty unless the value is
/// unambiguously a list (see the module doc): a JSON array of strings, or API Gateway's
/// flattened `[name]` with exactly one plain name.
fn parse_group_claim(v: &str) -> Vec<String> {
    let v = v.trim();
    if let Ok(names) = serde_json::from_str::<Vec<String>>(v) {
        return names.into_iter().filter(|n| !n.is_empty()).collect();
    }
    let Some(inner) = v.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        return Vec::new();
    };
    let plain = |c: char| !c.is_whitespace() && !matches!(c, ',' | '"' | '[' | ']');
    if !inner.is_empty() && inner.chars().all(plain) {
        vec![inner.to_string()]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn jwt(pairs: &[(&str, &str)]) -> Identity {
        Identity::from_jwt_claims(&claims(pairs)).unwrap()
    }

    fn list(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|e| e.to_string()).collect()
    }

    const ROLE: &str = "arn:aws:iam::111122223333:role/Reviewer";

    #[test]
    fn jwt_identity_matches_sub_verified_email_and_groups() {
        let id = jwt(&[
            ("sub", "u-123"),
            ("email", "Alice@Example.org"),
            ("email_verified", "true"),
            ("cognito:groups", "[ml-leads]"),
        ]);
        assert_eq!(id.display, "alice@example.org");
        assert!(id.may_approve(&list(&["alice@example.org"])));
        assert!(id.may_approve(&list(&["ALICE@example.org"])));
        assert!(id.may_approve(&list(&["u-123"])));
        assert!(id.may_approve(&list(&["group:ml-leads"])));
        assert!(!id.may_approve(&list(&["group:ml", "bob@example.org", ""])));
        assert!(
            !id.may_approve(&list(&["ml-leads"])),
            "a group name alone is not a person"
        );
        assert!(id.is_starter(Some("alice@example.org")));
        assert!(!id.is_starter(Some("group:ml-leads")));
        assert!(!id.is_starter(None));
        assert!(
            Identity::from_jwt_claims(&claims(&[("email", "x@y.z")])).is_none(),
            "no subject"
        );
    }

    #[test]
    fn unverified_email_is_not_a_key() {
        for verified in [None, Some("false"), Some("1"), Some("")] {
            let mut c = vec![("sub", "u-9"), ("email", "alice@example.org")];
            c.extend(verified.map(|v| ("email_verified", v)));
            let id = jwt(&c);
            assert_eq!(
                id.display, "u-9",
                "{verified:?}: the subject, not the email"
            );
            assert!(
                !id.may_approve(&list(&["alice@example.org"])),
                "{verified:?}"
            );
            assert!(!id.is_starter(Some("alice@example.org")), "{verified:?}");
        }
        let shouted = jwt(&[("sub", "u"), ("email", "a@b.c"), ("email_verified", "TRUE")]);
        assert!(shouted.may_approve(&list(&["a@b.c"])));
    }

    #[test]
    fn username_like_claims_never_match() {
        let approvers = list(&["group:ml-leads", ROLE, "alice@example.org", "alice"]);
        for claim in ["preferred_username", "username", "cognito:username", "name"] {
            for value in ["group:ml-leads", ROLE, "alice@example.org", "alice"] {
                let id = jwt(&[("sub", "u-mallory"), (claim, value)]);
                assert!(!id.may_approve(&approvers), "{claim} = {value}");
                assert!(!id.is_starter(Some(value)), "{claim} = {value}");
            }
        }
    }

    #[test]
    fn jwt_subjects_never_match_iam_entries() {
        let id = jwt(&[("sub", ROLE)]);
        assert!(!id.may_approve(&list(&[ROLE])));
        let id = jwt(&[("sub", "AWS:AIDAEXAMPLE")]);
        assert!(!id.may_approve(&list(&["AWS:AIDAEXAMPLE"])));
        assert!(
            id.is_starter(Some("AWS:AIDAEXAMPLE")),
            "refusing is the safe side"
        );
        let id = jwt(&[("sub", "group:ml-leads")]);
        assert!(!id.may_approve(&list(&["group:ml-leads"])));
    }

    #[test]
    fn iam_identity_matches_role_of_session() {
        let id = Identity::from_principal_arn(
            "arn:aws:sts::111122223333:assumed-role/Reviewer/alice",
            IdentityKind::Iam,
        )
        .unwrap();
        assert!(id.may_approve(&list(&["arn:aws:iam::111122223333:role/teams/Reviewer"])));
        assert!(id.may_approve(&list(&[
            "arn:aws:sts::111122223333:assumed-role/Reviewer/alice"
        ])));
        assert!(!id.may_approve(&list(&["arn:aws:iam::999999999999:role/Reviewer"])));
        // A colleague in the same role is not the starter...
        assert!(!id.is_starter(Some("arn:aws:sts::111122223333:assumed-role/Reviewer/bob")));
        // ...the same session is, and so is the role when that is all we know.
        assert!(id.is_starter(Some(
            "arn:aws:sts::111122223333:assumed-role/Reviewer/alice"
        )));
        assert!(id.is_starter(Some(ROLE)));
        let user = Identity::from_principal_arn("arn:aws:iam::1:user/ops/carol", IdentityKind::Sts)
            .unwrap();
        assert!(user.may_approve(&list(&["arn:aws:iam::1:user/carol"])));
        assert!(Identity::from_principal_arn(" ", IdentityKind::Iam).is_none());
    }

    #[test]
    fn iam_unique_id_is_the_s3_uploader_key() {
        let session = Identity::from_iam(
            "arn:aws:sts::111122223333:assumed-role/Reviewer/alice",
            Some("AROAEXAMPLE:alice"),
            IdentityKind::Iam,
        )
        .unwrap();
        assert!(session.is_starter(Some("AWS:AROAEXAMPLE:alice")));
        assert!(session.is_starter(Some(" AWS:AROAEXAMPLE:alice ")));
        assert!(
            !session.is_starter(Some("AWS:AROAEXAMPLE:bob")),
            "a colleague"
        );
        assert!(
            !session.is_starter(Some("aws:aroaexample:alice")),
            "ids are exact"
        );
        assert!(
            session.may_approve(&list(&[ROLE])),
            "still the role's session"
        );
        let user = Identity::from_iam(
            "arn:aws:iam::111122223333:user/carol",
            Some("AIDAEXAMPLE"),
            IdentityKind::Iam,
        )
        .unwrap();
        assert!(user.is_starter(Some("AWS:AIDAEXAMPLE")));
        assert!(!user.is_starter(Some("AWS:AIDAOTHER")));
        let no_id =
            Identity::from_iam("arn:aws:iam::1:user/carol", Some(" "), IdentityKind::Iam).unwrap();
        assert!(!no_id.is_starter(Some("AWS:")));
        assert!(Identity::from_iam("", Some("AIDAEXAMPLE"), IdentityKind::Iam).is_none());
    }

    #[test]
    fn sso_session_named_after_the_verified_email_is_the_starter() {
        let alice = jwt(&[
            ("sub", "u-1"),
            ("email", "alice@example.org"),
            ("email_verified", "true"),
        ]);
        assert!(alice.is_starter(Some("AWS:AROAEXAMPLE:Alice@Example.org")));
        assert!(alice.is_starter(Some(
            "arn:aws:sts::1:assumed-role/AWSReservedSSO_ML_0123/alice@example.org"
        )));
        assert!(!alice.is_starter(Some("AWS:AROAEXAMPLE:bob@example.org")));
        assert!(!alice.is_starter(Some("AWS:AIDAEXAMPLE")), "no session");
        assert!(
            !alice.is_starter(Some("arn:aws:iam::1:user/alice@example.org")),
            "a user, not a session"
        );
        let unverified = jwt(&[("sub", "u-1"), ("email", "alice@example.org")]);
        assert!(!unverified.is_starter(Some("AWS:AROAEXAMPLE:alice@example.org")));
    }

    #[test]
    fn group_claim_shapes() {
        assert_eq!(parse_group_claim("[ml-leads]"), ["ml-leads"]);
        assert_eq!(parse_group_claim(" [ml-leads] "), ["ml-leads"]);
        assert_eq!(parse_group_claim("[\"a\",\"b c\"]"), ["a", "b c"]);
        assert_eq!(parse_group_claim("[\"a\", \"\"]"), ["a"]);
        // Ambiguous or not a list: no groups (fail closed).
        for v in [
            "[a b]",
            "[x ml-leads]",
            "[a,b]",
            "a, b",
            "ml-leads",
            "[]",
            "[\"a\", 1]",
            "[[a]]",
            "[\"a]",
            "",
        ] {
            assert!(parse_group_claim(v).is_empty(), "{v:?}");
        }
    }

    #[test]
    fn a_group_with_a_space_does_not_grant_its_last_word() {
        for claim in ["[x ml-leads]", "[ml-leads x]", "x ml-leads", "x, ml-leads"] {
            for key in ["cognito:groups", "groups"] {
                let id = jwt(&[("sub", "u"), (key, claim)]);
                assert!(
                    !id.may_approve(&list(&["group:ml-leads"])),
                    "{key} = {claim}"
                );
            }
        }
        let exact = jwt(&[("sub", "u"), ("groups", "[\"x ml-leads\"]")]);
        assert!(!exact.may_approve(&list(&["group:ml-leads"])));
        assert!(exact.may_approve(&list(&["group:x ml-leads"])));
        assert!(
            !exact.may_approve(&list(&["group:X ml-leads"])),
            "exact names"
        );
    }
}
