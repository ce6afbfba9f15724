//! The model registry, as the evaluation gate reads it: which package is the model in
//! production for an endpoint, and its evaluation report (the baseline).
//!
//! The baseline is the newest Approved package of the model package group registered for
//! the endpoint this run deploys to (`trainguard:endpoint` in its
//! `CustomerMetadataProperties`, which RegisterModel sets): one group may feed several
//! endpoints, and the model to beat is the one serving where this one will serve. Its
//! report is the package's `ModelMetrics.ModelQuality.Statistics.S3Uri` (RegisterModel
//! attaches each run's report there, so the next run compares against it).
//!
//! A module of its own, used only by pipeline-trigger's handler: the SageMaker registry
//! reads stay out of the modules the other functions link (the approval handler has no
//! SageMaker permission, and `tests/static/iam_actions.py` reads reachability by module).

use crate::aws::{PackageRegistration, S3Store, SageMakerOps};
use crate::error::CommonError;
use crate::evaluation::{Baseline, Report};
use crate::storage::S3Uri;
use crate::trigger::read_evaluation::{read_json, ReadEvaluationInput};
use crate::trigger::TriggerError;

/// The `CustomerMetadataProperties` key RegisterModel records the endpoint under.
pub const ENDPOINT_KEY: &str = "trainguard:endpoint";
/// How many of the newest Approved packages are looked at for one of this endpoint.
pub const BASELINE_CANDIDATES: i32 = 25;

/// The newest Approved package of `group` registered for `endpoint` (`None`: the first
/// model for this endpoint). Packages registered without the endpoint key (by hand, or
/// by another pipeline) are not this endpoint's.
pub async fn find_baseline<S: SageMakerOps>(
    sm: &S,
    group: &str,
    endpoint: &str,
) -> Result<Option<PackageRegistration>, TriggerError> {
    let arns = sm
        .list_approved_model_packages(group, BASELINE_CANDIDATES)
        .await
        .map_err(|e| TriggerError::Common(e.into()))?;
    for arn in arns {
        let reg = sm
            .describe_model_package_registration(&arn)
            .await
            .map_err(|e| TriggerError::Common(e.into()))?;
        // Listed as Approved, but read again: a package rejected in between is not the
        // model in production.
        if reg.status == "Approved"
            && reg.metadata.get(ENDPOINT_KEY).map(String::as_str) == Some(endpoint)
        {
            return Ok(Some(reg));
        }
    }
    Ok(None)
}

/// The baseline of this run: none, a usable report, or a package whose report cannot be
/// used (missing, not JSON, not in the format): a documented verdict (a person decides),
/// not an error that would block every run until the registry is mended. Throttling and
/// access errors are errors (retried, or visible).
pub async fn baseline<S: SageMakerOps>(
    store: &S3Store,
    sm: &S,
    input: &ReadEvaluationInput,
) -> Result<(Baseline, Option<String>), TriggerError> {
    let (Some(group), Some(endpoint)) = (&input.model_package_group, &input.endpoint_name) else {
        return Ok((Baseline::None, None));
    };
    let Some(reg) = find_baseline(sm, group, endpoint).await? else {
        return Ok((Baseline::None, None));
    };
    let package = reg.arn.clone();
    let Some(uri) = reg.statistics_uri.clone() else {
        let why = "registered without ModelMetrics.ModelQuality.Statistics".to_string();
        return Ok((Baseline::Unusable { package, why }, None));
    };
    let unusable = |why: String| Baseline::Unusable {
        package: package.clone(),
        why,
    };
    let parsed = match S3Uri::parse(&uri) {
        Ok(u) => u,
        Err(_) => {
            return Ok((
                unusable(format!("statistics URI {uri:?} is not an s3:// URI")),
                Some(uri),
            ))
        }
    };
    let read = match read_json(store, &parsed).await {
        Ok(v) => v,
        Err(TriggerError::InvalidEvaluationReport(why)) => return Ok((unusable(why), Some(uri))),
        Err(TriggerError::Common(CommonError::NotFound(why))) => {
            return Ok((unusable(format!("{uri}: not found ({why})")), Some(uri)))
        }
        Err(e) => return Err(e),
    };
    let b = match Report::parse(&read) {
        Ok(r) => Baseline::Report {
            package,
            report: Box::new(r),
        },
        Err(e) => unusable(format!("{uri}: {e}")),
    };
    Ok((b, Some(uri)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::memory::InMemorySageMaker;
    use crate::error::ErrorName;

    #[tokio::test]
    async fn the_baseline_is_the_newest_approved_package_of_this_endpoint() {
        let sm = InMemorySageMaker::new();
        let ep = |e: &'static str| [(ENDPOINT_KEY, e)];
        sm.register_model_package(
            "arn:g/1",
            "g",
            "Approved",
            &ep("prod"),
            Some("s3://b/1.json"),
        );
        sm.register_model_package(
            "arn:g/2",
            "g",
            "Approved",
            &ep("prod"),
            Some("s3://b/2.json"),
        );
        sm.register_model_package(
            "arn:g/3",
            "g",
            "Rejected",
            &ep("prod"),
            Some("s3://b/3.json"),
        );
        sm.register_model_package(
            "arn:g/4",
            "g",
            "Approved",
            &ep("staging"),
            Some("s3://b/4.json"),
        );
        sm.register_model_package("arn:g/5", "g", "PendingManualApproval", &ep("prod"), None);
        sm.register_model_package(
            "arn:h/1",
            "h",
            "Approved",
            &ep("prod"),
            Some("s3://b/h.json"),
        );
        sm.register_model_package("arn:g/6", "g", "Approved", &[], Some("s3://b/6.json"));
        let b = find_baseline(&sm, "g", "prod").await.unwrap().unwrap();
        assert_eq!(
            (b.arn.as_str(), b.statistics_uri.as_deref()),
            ("arn:g/2", Some("s3://b/2.json"))
        );
        assert_eq!(
            find_baseline(&sm, "g", "staging")
                .await
                .unwrap()
                .unwrap()
                .arn,
            "arn:g/4"
        );
        // A new endpoint, or a group with nothing approved: the first model.
        assert!(find_baseline(&sm, "g", "new").await.unwrap().is_none());
        assert!(find_baseline(&sm, "empty", "prod").await.unwrap().is_none());
        // Newest first, one page, Approved only.
        assert_eq!(
            sm.list_approved_model_packages("g", 100).await.unwrap(),
            vec!["arn:g/6", "arn:g/4", "arn:g/2", "arn:g/1"]
        );
    }

    #[tokio::test]
    async fn a_registry_that_fails_is_an_error_not_a_first_model() {
        use crate::aws::fault::{Fault, Faulty};
        let sm = InMemorySageMaker::new();
        sm.register_model_package(
            "arn:g/1",
            "g",
            "Approved",
            &[(ENDPOINT_KEY, "prod")],
            Some("s3://b/1.json"),
        );
        let faulty = Faulty::new(sm);
        faulty.inject("ListModelPackages", None, Fault::throttling(), Some(1));
        let e = find_baseline(&faulty, "g", "prod").await.unwrap_err();
        assert_eq!(e.error_name(), "Transient.Throttled");
        faulty.inject(
            "DescribeModelPackage",
            None,
            Fault::access_denied(),
            Some(1),
        );
        let e = find_baseline(&faulty, "g", "prod").await.unwrap_err();
        assert_eq!(e.error_name(), "StorageError.AccessDenied");
        // Healed: the baseline is found.
        assert_eq!(
            find_baseline(&faulty, "g", "prod")
                .await
                .unwrap()
                .unwrap()
                .arn,
            "arn:g/1"
        );
    }
}
