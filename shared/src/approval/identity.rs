//! Who is deciding, and whether they may.
//!
//! An [`Identity`] is built only from what an authenticator vouched for: the JWT
//! authorizer's claims or the IAM authorizer's caller in the API Gateway request context,
//! or the CLI caller's STS identity. Approver entries may be IAM principal ARNs, OIDC
//! subjects, emails or `group:<name>`.
//!
//! Two kinds of matching, on purpose:
//! - *may approve* is broad: an assumed-role session matches the role's ARN (that is how
//!   people list IAM approvers), and JWT group claims match `group:<name>` entries;
//! - *is the starter* is exact: the same subject, email or principal session. A listed
//!   role shared by many people (an SSO permission set) must not stop colleagues from
//!   reviewing each other's runs; when `started_by` is itself a role ARN the role is all
//!   we know, so every session of that role counts as the starter.

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
    /// What the record and the audit show: email, else subject, else principal ARN.
    pub display: String,
    /// The principal (subject or ARN), for the audit trail.
    pub principal: String,
    /// Exact keys: subject, email, principal ARN.
    exact: Vec<String>,
    /// Broader keys used for the approver list: exact keys, role ARN, `group:<g>`.
    broad: Vec<String>,
    /// The role behind an assumed-role session, if any.
    role_arn: Option<String>,
}

impl Identity {
    /// From JWT authorizer claims; `None` without a subject (not authenticated).
    pub fn from_jwt_claims(claims: &HashMap<String, String>) -> Option<Identity> {
        let sub = claims
            .get("sub")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())?
            .to_string();
        let email = claims
            .get("email")
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty());
        let mut exact = vec![sub.clone()];
        if let Some(e) = &email {
            exact.push(e.clone());
        }
        for k in ["username", "cognito:username", "preferred_username"] {
            if let Some(u) = claims.get(k).map(|u| u.trim()).filter(|u| !u.is_empty()) {
                exact.push(u.to_string());
            }
        }
        let mut broad = exact.clone();
        for k in ["cognito:groups", "groups"] {
            if let Some(g) = claims.get(k) {
                broad.extend(
                    parse_group_claim(g)
                        .into_iter()
                        .map(|g| format!("group:{g}")),
                );
            }
        }
        Some(Identity {
            kind: IdentityKind::Jwt,
            display: email.unwrap_or_else(|| sub.clone()),
            principal: sub,
            exact,
            broad,
            role_arn: None,
        })
    }

    /// From an IAM principal ARN (IAM authorizer `userArn` or STS GetCallerIdentity);
    /// `None` when empty.
    pub fn from_principal_arn(arn: &str, kind: IdentityKind) -> Option<Identity> {
        let arn = arn.trim();
        if arn.is_empty() {
            return None;
        }
        let role_arn = role_of_session(arn);
        let exact = vec![arn.to_string(), normalise(arn)];
        let mut broad = exact.clone();
        if let Some(r) = &role_arn {
            broad.push(r.clone());
        }
        Some(Identity {
            kind,
            display: arn.to_string(),
            principal: arn.to_string(),
            exact,
            broad,
            role_arn,
        })
    }

    /// True when any entry of `approvers` names this caller (by subject, email, ARN, the
    /// role of an assumed-role session, or `group:<name>`).
    pub fn may_approve(&self, approvers: &[String]) -> bool {
        approvers
            .iter()
            .map(|a| normalise(a))
            .any(|a| !a.is_empty() && self.broad.contains(&a))
    }

    /// True when this caller is the one who started the run.
    pub fn is_starter(&self, started_by: Option<&str>) -> bool {
        let Some(s) = started_by.map(normalise).filter(|s| !s.is_empty()) else {
            return false;
        };
        if self.exact.contains(&s) {
            return true;
        }
        // `started_by` names a role (not a session): every session of it is the starter.
        let started_role = role_of_session(&s).unwrap_or_else(|| s.clone());
        is_role_arn(&s) && self.role_arn.as_deref() == Some(started_role.as_str())
    }
}

/// Normalise an approver entry or identity key: trimmed; emails lowercased; IAM role and
/// user ARNs without their path (`arn:aws:iam::1:role/a/b/R` → `arn:aws:iam::1:role/R`),
/// because assumed-role ARNs do not carry the path.
fn normalise(s: &str) -> String {
    let s = s.trim();
    if !s.starts_with("arn:") && s.contains('@') {
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

/// API Gateway flattens array claims into strings such as `[a b]`; JSON arrays and
/// comma lists also occur.
fn parse_group_claim(v: &str) -> Vec<String> {
    v.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split([',', ' '])
        .map(|g| g.trim().trim_matches('"').to_string())
        .filter(|g| !g.is_empty())
        .collect()
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

    #[test]
    fn jwt_identity_matches_sub_email_and_groups() {
        let id = Identity::from_jwt_claims(&claims(&[
            ("sub", "u-123"),
            ("email", "Alice@Example.org"),
            ("cognito:groups", "[ml-leads admins]"),
        ]))
        .unwrap();
        assert_eq!(id.display, "alice@example.org");
        assert!(id.may_approve(&["alice@example.org".into()]));
        assert!(id.may_approve(&["ALICE@example.org".into()]));
        assert!(id.may_approve(&["u-123".into()]));
        assert!(id.may_approve(&["group:ml-leads".into()]));
        assert!(!id.may_approve(&["group:ml".into(), "bob@example.org".into(), "".into()]));
        assert!(
            !id.may_approve(&["ml-leads".into()]),
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
    fn iam_identity_matches_role_of_session() {
        let id = Identity::from_principal_arn(
            "arn:aws:sts::111122223333:assumed-role/Reviewer/alice",
            IdentityKind::Iam,
        )
        .unwrap();
        assert!(id.may_approve(&["arn:aws:iam::111122223333:role/teams/Reviewer".into()]));
        assert!(id.may_approve(&["arn:aws:sts::111122223333:assumed-role/Reviewer/alice".into()]));
        assert!(!id.may_approve(&["arn:aws:iam::999999999999:role/Reviewer".into()]));
        // A colleague in the same role is not the starter...
        assert!(!id.is_starter(Some("arn:aws:sts::111122223333:assumed-role/Reviewer/bob")));
        // ...the same session is, and so is the role when that is all we know.
        assert!(id.is_starter(Some(
            "arn:aws:sts::111122223333:assumed-role/Reviewer/alice"
        )));
        assert!(id.is_starter(Some("arn:aws:iam::111122223333:role/Reviewer")));
        let user = Identity::from_principal_arn("arn:aws:iam::1:user/ops/carol", IdentityKind::Sts)
            .unwrap();
        assert!(user.may_approve(&["arn:aws:iam::1:user/carol".into()]));
        assert!(Identity::from_principal_arn(" ", IdentityKind::Iam).is_none());
    }

    #[test]
    fn group_claim_shapes() {
        assert_eq!(parse_group_claim("[a b]"), ["a", "b"]);
        assert_eq!(parse_group_claim("[\"a\",\"b\"]"), ["a", "b"]);
        assert_eq!(parse_group_claim("a, b"), ["a", "b"]);
        assert!(parse_group_claim("[]").is_empty());
    }
}
