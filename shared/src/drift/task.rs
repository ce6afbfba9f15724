//! The drift detector's task kinds (`profile`, `merge`, `baseline`, `check`), shared by the
//! Lambda handler and the CLI: read data and artifacts from S3 or local paths, call the
//! pure code in [`crate::profile`] and [`super::check`], write the results back.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::check::check;
use super::config::DriftConfig;
use super::html;
use super::report::DriftReport;
use crate::aws::S3Store;
use crate::dataset::{DataReader, ReadOptions};
use crate::error::CommonError;
use crate::lambda::{Deadline, HandlerError};
use crate::profile::{Profile, ProfileBuilder, ProfileOptions};
use crate::storage::{Location, S3Uri};

/// Rows per record batch when profiling: large batches amortise per-batch work.
pub const BATCH_ROWS: usize = 65_536;

/// Where artifacts are read from and written to.
#[derive(Debug, Clone)]
pub struct Io {
    pub store: Option<S3Store>,
}

impl Io {
    /// Read a whole artifact (a profile, a baseline).
    pub async fn read(&self, loc: &Location) -> Result<Bytes, CommonError> {
        match loc {
            Location::S3(u) => self.s3(u)?.get(u).await,
            Location::Local(p) => tokio::fs::read(p)
                .await
                .map(Bytes::from)
                .map_err(|e| io_error(&e, loc)),
        }
    }

    /// Write an artifact.
    pub async fn write(
        &self,
        loc: &Location,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), CommonError> {
        match loc {
            Location::S3(u) => self.s3(u)?.put(u, body, content_type).await,
            Location::Local(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(|e| io_error(&e, loc))?;
                }
                tokio::fs::write(p, body)
                    .await
                    .map_err(|e| io_error(&e, loc))
            }
        }
    }

    fn s3(&self, u: &S3Uri) -> Result<&S3Store, CommonError> {
        self.store
            .as_ref()
            .ok_or_else(|| CommonError::InvalidInput(format!("{u}: no S3 client configured")))
    }

    /// Every `*.json` object under an S3 prefix or in a local directory, sorted.
    pub async fn list_json(&self, loc: &Location) -> Result<Vec<Location>, CommonError> {
        let mut out = match loc {
            Location::S3(u) => self
                .s3(u)?
                .list(u)
                .await?
                .into_iter()
                .filter(|o| o.uri.key.ends_with(".json"))
                .map(|o| Location::S3(o.uri))
                .collect::<Vec<_>>(),
            Location::Local(p) => {
                let mut v = Vec::new();
                let mut rd = tokio::fs::read_dir(p)
                    .await
                    .map_err(|e| io_error(&e, loc))?;
                while let Some(ent) = rd.next_entry().await.map_err(|e| io_error(&e, loc))? {
                    let path = ent.path();
                    if path.extension().and_then(|e| e.to_str()) == Some("json") {
                        v.push(Location::Local(path));
                    }
                }
                v
            }
        };
        out.sort_by_key(|l| l.to_string());
        Ok(out)
    }
}

fn io_error(e: &std::io::Error, loc: &Location) -> CommonError {
    match e.kind() {
        std::io::ErrorKind::NotFound => CommonError::NotFound(loc.to_string()),
        std::io::ErrorKind::PermissionDenied => CommonError::AccessDenied(loc.to_string()),
        _ => CommonError::Storage(format!("{loc}: {e}")),
    }
}

/// Profile a dataset (file, object or prefix), optionally counting against a baseline.
pub async fn profile_dataset(
    io: &Io,
    data: &Location,
    options: ProfileOptions,
    baseline: Option<&Profile>,
    deadline: Deadline,
) -> Result<Profile, HandlerError> {
    let reader = DataReader::new(
        io.store.clone(),
        ReadOptions {
            batch_size: BATCH_ROWS,
            ..ReadOptions::default()
        },
    );
    let mut builder = ProfileBuilder::new(options, &data.to_string())?;
    if let Some(b) = baseline {
        builder = builder.against(b);
    }
    let mut stream = reader.open(data).await?;
    while let Some(batch) = stream.next_batch().await {
        let batch = batch?;
        builder.push(&batch)?;
        if deadline.expired() {
            return Err(CommonError::DeadlineExceeded(format!(
                "profiled {} rows of {data} before the deadline; split the data (profile per file, then merge)",
                builder.rows()
            ))
            .into());
        }
    }
    for (name, ty) in builder.skipped() {
        tracing::info!(column = %name, data_type = %ty, "column skipped: neither numeric nor categorical");
    }
    Ok(builder.finish())
}

/// Read and validate a baseline.
pub async fn load_baseline(io: &Io, loc: &Location) -> Result<Profile, HandlerError> {
    let bytes = io.read(loc).await?;
    Ok(Profile::from_baseline_json(&bytes)?)
}

/// Read and validate a (shard/current) profile.
pub async fn load_profile(io: &Io, loc: &Location) -> Result<Profile, HandlerError> {
    let bytes = io.read(loc).await?;
    Ok(Profile::from_profile_json(&bytes)?)
}

/// The task input of the drift-detector function. Unknown fields are ignored.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct TaskInput {
    /// `check` (default), `profile`, `merge` or `baseline`.
    #[serde(default)]
    pub task: Option<String>,
    /// Dataset: `s3://bucket/key` or a prefix.
    #[serde(default)]
    pub data: Option<String>,
    /// Baseline JSON location (read by `check` and `profile`, written by `baseline`).
    #[serde(default)]
    pub baseline: Option<String>,
    /// `check`: a current profile (from profile+merge) instead of `data`.
    #[serde(default)]
    pub profile: Option<String>,
    /// `merge`/`baseline`: profiles to merge: a list of URIs or one prefix.
    #[serde(default)]
    pub profiles: Option<ProfilesArg>,
    /// `profile`/`merge`: where to write the result.
    #[serde(default)]
    pub output: Option<String>,
    /// `check`: where reports go (`drift.json`, `drift.html`); default
    /// `s3://<data bucket>/pipeline/<execution_name>/reports/`.
    #[serde(default)]
    pub report_prefix: Option<String>,
    /// Drift configuration (see [`DriftConfig`]).
    #[serde(default)]
    pub config: Option<Value>,
    /// Profile options (`sample_size`, `max_categories`).
    #[serde(default)]
    pub options: Option<Value>,
    #[serde(default)]
    pub execution_name: Option<String>,
}

impl TaskInput {
    /// Every single location the input names (`data`, `baseline`, `profile`, `output`,
    /// `report_prefix`), parsed: a bad one is `InputError.InvalidUri` before any work.
    pub fn locations(&self) -> Result<Vec<Location>, CommonError> {
        [
            &self.data,
            &self.baseline,
            &self.profile,
            &self.output,
            &self.report_prefix,
        ]
        .into_iter()
        .flatten()
        .map(|s| Location::parse(s))
        .collect()
    }
}

/// A list of profile URIs or a prefix holding them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ProfilesArg {
    List(Vec<String>),
    Prefix(String),
}

fn required<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, CommonError> {
    match v.as_deref() {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(CommonError::MissingField(name.to_string())),
    }
}

fn parse_options(v: &Option<Value>) -> Result<ProfileOptions, HandlerError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Opts {
        sample_size: Option<usize>,
        max_categories: Option<usize>,
    }
    let d = ProfileOptions::default();
    let Some(v) = v else { return Ok(d) };
    let o: Opts = serde_json::from_value(v.clone())
        .map_err(|e| CommonError::InvalidInput(format!("options: {e}")))?;
    let opts = ProfileOptions {
        sample_size: o.sample_size.unwrap_or(d.sample_size),
        max_categories: o.max_categories.unwrap_or(d.max_categories),
    };
    opts.validate()?;
    Ok(opts)
}

/// Parse a drift configuration object.
pub fn parse_config(v: &Option<Value>) -> Result<DriftConfig, HandlerError> {
    let cfg = match v {
        None | Some(Value::Null) => DriftConfig::default(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| super::DriftError::InvalidConfig(e.to_string()))?,
    };
    cfg.validate()?;
    Ok(cfg)
}

/// What one run did, for metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    pub rows: u64,
    pub features: usize,
    pub drifted: usize,
    pub drift_detected: Option<bool>,
}

async fn merge_profiles(io: &Io, arg: &ProfilesArg) -> Result<Profile, HandlerError> {
    let locs: Vec<Location> = match arg {
        ProfilesArg::List(v) => v
            .iter()
            .map(|s| Location::parse(s))
            .collect::<Result<_, _>>()?,
        ProfilesArg::Prefix(p) => io.list_json(&Location::parse(p)?).await?,
    };
    if locs.is_empty() {
        return Err(CommonError::MissingField("profiles (no profile found)".into()).into());
    }
    let mut acc: Option<Profile> = None;
    for l in &locs {
        let p = load_profile(io, l).await.map_err(|e| HandlerError {
            name: e.name,
            message: format!("{l}: {}", e.message),
        })?;
        acc = Some(match acc {
            None => p,
            Some(a) => a.merge(&p)?,
        });
    }
    acc.ok_or_else(|| CommonError::MissingField("profiles".into()).into())
}

/// Run one task; returns the JSON output for Step Functions.
pub async fn run(
    io: &Io,
    input: &TaskInput,
    deadline: Deadline,
) -> Result<(Value, Outcome), HandlerError> {
    let task = input.task.as_deref().unwrap_or("check");
    match task {
        "profile" => {
            let data = Location::parse(required(&input.data, "data")?)?;
            let output = Location::parse(required(&input.output, "output")?)?;
            let baseline = match &input.baseline {
                Some(b) => Some(load_baseline(io, &Location::parse(b)?).await?),
                None => None,
            };
            let opts = match &baseline {
                Some(b) => b.options,
                None => parse_options(&input.options)?,
            };
            let p = profile_dataset(io, &data, opts, baseline.as_ref(), deadline).await?;
            io.write(&output, p.to_json(), "application/json").await?;
            let out = json!({"profile_uri": output.to_string(), "rows": p.rows, "features": p.features.len()});
            Ok((
                out,
                Outcome {
                    rows: p.rows,
                    features: p.features.len(),
                    ..Default::default()
                },
            ))
        }
        "merge" => {
            let output = Location::parse(required(&input.output, "output")?)?;
            let arg = input
                .profiles
                .as_ref()
                .ok_or_else(|| CommonError::MissingField("profiles".into()))?;
            let p = merge_profiles(io, arg).await?;
            io.write(&output, p.to_json(), "application/json").await?;
            let out = json!({"profile_uri": output.to_string(), "rows": p.rows, "features": p.features.len(), "sources_total": p.sources_total});
            Ok((
                out,
                Outcome {
                    rows: p.rows,
                    features: p.features.len(),
                    ..Default::default()
                },
            ))
        }
        "baseline" => {
            let target = Location::parse(required(&input.baseline, "baseline")?)?;
            let p = match (&input.data, &input.profiles) {
                (Some(d), _) => {
                    profile_dataset(
                        io,
                        &Location::parse(d)?,
                        parse_options(&input.options)?,
                        None,
                        deadline,
                    )
                    .await?
                }
                (None, Some(arg)) => merge_profiles(io, arg).await?,
                (None, None) => return Err(CommonError::MissingField("data".into()).into()),
            };
            let p = strip_against(p);
            let (rows, features) = (p.rows, p.features.len());
            let body = p.to_json();
            let bytes = body.len();
            io.write(&target, body, "application/json").await?;
            let out = json!({"baseline_uri": target.to_string(), "rows": rows, "features": features, "bytes": bytes});
            Ok((
                out,
                Outcome {
                    rows,
                    features,
                    ..Default::default()
                },
            ))
        }
        "check" => {
            let baseline_loc = Location::parse(required(&input.baseline, "baseline")?)?;
            let cfg = parse_config(&input.config)?;
            let baseline = load_baseline(io, &baseline_loc).await?;
            let (current, data_loc) = match (&input.profile, &input.data) {
                (Some(p), _) => (load_profile(io, &Location::parse(p)?).await?, None),
                (None, Some(d)) => {
                    let loc = Location::parse(d)?;
                    (
                        profile_dataset(io, &loc, baseline.options, Some(&baseline), deadline)
                            .await?,
                        Some(loc),
                    )
                }
                (None, None) => return Err(CommonError::MissingField("data".into()).into()),
            };
            let prefix = report_prefix(input, data_loc.as_ref().or(Some(&baseline_loc)))?;
            let mut report = check(&baseline, &current, &cfg)?;
            let (json_loc, html_loc) = (join(&prefix, "drift.json"), join(&prefix, "drift.html"));
            report.verdict.report_uri = Some(json_loc.to_string());
            report.verdict.html_report_uri = Some(html_loc.to_string());
            write_reports(io, &report, &baseline, &current, &json_loc, &html_loc).await?;
            let v = &report.verdict;
            let outcome = Outcome {
                rows: current.rows,
                features: v.features_checked,
                drifted: v.drifted_count,
                drift_detected: Some(v.drift_detected),
            };
            let out =
                serde_json::to_value(v).map_err(|e| CommonError::InvalidInput(e.to_string()))?;
            Ok((out, outcome))
        }
        other => Err(CommonError::InvalidInput(format!(
            "unknown task {other:?} (profile, merge, baseline, check)"
        ))
        .into()),
    }
}

/// Write the JSON and HTML reports.
pub async fn write_reports(
    io: &Io,
    report: &DriftReport,
    baseline: &Profile,
    current: &Profile,
    json_loc: &Location,
    html_loc: &Location,
) -> Result<(), HandlerError> {
    io.write(json_loc, report.to_json(), "application/json")
        .await?;
    io.write(
        html_loc,
        html::render(report, baseline, current).into_bytes(),
        "text/html; charset=utf-8",
    )
    .await?;
    Ok(())
}

/// A baseline never carries against-baseline counts of some other baseline.
pub fn strip_against(mut p: Profile) -> Profile {
    for f in &mut p.features {
        if let crate::profile::FeatureStats::Numeric(n) = &mut f.stats {
            n.against = None;
        }
    }
    p
}

fn report_prefix(input: &TaskInput, near: Option<&Location>) -> Result<Location, HandlerError> {
    if let Some(p) = input.report_prefix.as_deref().filter(|p| !p.is_empty()) {
        return Ok(Location::parse(p)?);
    }
    match (near, input.execution_name.as_deref()) {
        (Some(Location::S3(u)), Some(exec)) if !exec.is_empty() => Ok(Location::S3(S3Uri::new(
            &u.bucket,
            format!("pipeline/{exec}/reports/"),
        ))),
        _ => Err(CommonError::MissingField("report_prefix".into()).into()),
    }
}

fn join(prefix: &Location, name: &str) -> Location {
    match prefix {
        Location::S3(u) => Location::S3(u.join(name)),
        Location::Local(p) => Location::Local(p.join(name)),
    }
}

/// The EMF metrics of one drift-detector invocation: `DurationMs`, and `RowsProfiled`,
/// `FeaturesChecked` (plus `FeaturesDrifted` and `DriftDetected` for a check) or
/// `Errors`; the task kind and the execution name as properties.
pub fn metrics(
    input: &TaskInput,
    duration: std::time::Duration,
    result: &Result<(Value, Outcome), HandlerError>,
) -> crate::telemetry::Metrics {
    use crate::telemetry::{Metrics, Unit};
    let mut m = Metrics::new("drift-detector");
    if let Some(e) = &input.execution_name {
        m.property("ExecutionName", e.as_str());
    }
    m.property("Task", input.task.clone().unwrap_or_else(|| "check".into()));
    m.put(
        "DurationMs",
        duration.as_secs_f64() * 1000.0,
        Unit::Milliseconds,
    );
    match result {
        Ok((_, o)) => {
            m.count("RowsProfiled", o.rows)
                .count("FeaturesChecked", o.features as u64);
            if let Some(d) = o.drift_detected {
                m.count("FeaturesDrifted", o.drifted as u64)
                    .count("DriftDetected", u64::from(d));
            }
        }
        Err(_) => {
            m.count("Errors", 1);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_say_the_task_and_what_it_counted_or_that_it_failed() {
        let input = TaskInput {
            task: Some("check".into()),
            execution_name: Some("run-1".into()),
            ..Default::default()
        };
        let ok = Ok((
            Value::Null,
            Outcome {
                rows: 10,
                features: 3,
                drifted: 1,
                drift_detected: Some(true),
            },
        ));
        let emf = metrics(&input, std::time::Duration::from_millis(5), &ok).to_emf(0);
        assert_eq!(emf["RowsProfiled"], 10.0);
        assert_eq!(emf["FeaturesDrifted"], 1.0);
        assert_eq!(emf["DriftDetected"], 1.0);
        assert_eq!(emf["Task"], "check");
        assert_eq!(emf["ExecutionName"], "run-1");
        let err: Result<(Value, Outcome), HandlerError> =
            Err(CommonError::MissingField("data".into()).into());
        let emf = metrics(&input, std::time::Duration::ZERO, &err).to_emf(0);
        assert_eq!(emf["Errors"], 1.0);
        assert!(emf.get("RowsProfiled").is_none());
    }
}
