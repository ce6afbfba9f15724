//! `trainguard baseline` and `trainguard drift`: the drift detector on local files and
//! s3:// URIs. Exit codes: 0 no drift (or baseline written), 1 drift detected, 2 unusable
//! input (the error name is printed on stderr, and with `--json` on stdout). Progress on
//! stderr while profiling (see [`crate::progress`]).

use std::process::ExitCode;

use trainguard::aws::S3Store;
use trainguard::drift::task::{self, Io};
use trainguard::drift::{check, DriftConfig};
use trainguard::lambda::{Deadline, HandlerError};
use trainguard::profile::ProfileOptions;
use trainguard::storage::Location;

use crate::output::Output;
use crate::progress::{watch, Progress};

#[derive(clap::Args, Debug)]
pub struct BaselineArgs {
    /// Dataset: file or directory, or s3:// object or prefix (CSV, compressed CSV, Parquet).
    pub data: String,
    /// Where to write the baseline JSON (file or s3:// URI).
    #[arg(short, long)]
    pub output: String,
    /// Sample size kept per numeric feature.
    #[arg(long, default_value_t = trainguard::profile::DEFAULT_SAMPLE_SIZE)]
    pub sample_size: usize,
    /// Categories kept per categorical feature (the rest go to an "other" bucket).
    #[arg(long, default_value_t = trainguard::profile::DEFAULT_MAX_CATEGORIES)]
    pub max_categories: usize,
}

#[derive(clap::Args, Debug)]
pub struct DriftArgs {
    /// Dataset: file or directory, or s3:// object or prefix.
    pub data: String,
    /// The baseline JSON (file or s3:// URI) written by `trainguard baseline`.
    #[arg(long)]
    pub baseline: String,
    /// Write the full JSON report (every feature's test, statistic, p-value) here.
    #[arg(long)]
    pub report: Option<String>,
    /// Write the self-contained HTML report here.
    #[arg(long)]
    pub html: Option<String>,
    /// Drift configuration JSON file (alpha, correction, thresholds, per-feature settings).
    #[arg(long)]
    pub config: Option<String>,
    /// Significance level (overrides the config file).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Multiple-testing correction: none, bonferroni, bh (overrides the config file).
    #[arg(long)]
    pub correction: Option<trainguard::drift::Correction>,
    /// A feature whose drift alone means drift (repeatable).
    #[arg(long = "critical")]
    pub critical: Vec<String>,
}

async fn io_for(locations: &[&str]) -> Io {
    let needs_s3 = locations.iter().any(|l| l.starts_with("s3://"));
    let store = if needs_s3 {
        let config = trainguard::aws::load_config().await;
        Some(S3Store::new(trainguard::aws::s3_client(&config)))
    } else {
        None
    };
    Io { store }
}

fn fail(out: Output, e: HandlerError) -> ExitCode {
    out.fail(e.name, &e.message)
}

/// With `--json`: `{"baseline_uri", "rows", "features", "bytes"}`.
pub async fn run_baseline(a: BaselineArgs, out: Output) -> ExitCode {
    match baseline(&a, out).await {
        Ok((rows, features, bytes)) => {
            if out.json {
                out.emit(&serde_json::json!({
                    "baseline_uri": a.output,
                    "rows": rows,
                    "features": features,
                    "bytes": bytes,
                }));
            } else {
                out.note(format!(
                    "baseline written to {}: {rows} rows, {features} features, {bytes} bytes",
                    a.output
                ));
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(out, e),
    }
}

async fn baseline(a: &BaselineArgs, out: Output) -> Result<(u64, usize, usize), HandlerError> {
    let io = io_for(&[&a.data, &a.output]).await;
    let data = Location::parse(&a.data)?;
    let target = Location::parse(&a.output)?;
    let opts = ProfileOptions {
        sample_size: a.sample_size,
        max_categories: a.max_categories,
    };
    opts.validate()?;
    let profile = watch(
        Progress::start("profiling", out.progress_here()),
        task::profile_dataset(&io, &data, opts, None, Deadline::none()),
    )
    .await?;
    let p = task::strip_against(profile);
    let body = p.to_json();
    let bytes = body.len();
    io.write(&target, body, "application/json").await?;
    Ok((p.rows, p.features.len(), bytes))
}

/// With `--json`: the verdict, exactly what the Lambda returns.
pub async fn run_drift(a: DriftArgs, out: Output) -> ExitCode {
    match drift(&a, out).await {
        Ok(true) => ExitCode::from(1),
        Ok(false) => ExitCode::SUCCESS,
        Err(e) => fail(out, e),
    }
}

async fn drift(a: &DriftArgs, out: Output) -> Result<bool, HandlerError> {
    let mut locs: Vec<&str> = vec![&a.data, &a.baseline];
    locs.extend(a.report.as_deref());
    locs.extend(a.html.as_deref());
    locs.extend(a.config.as_deref());
    let io = io_for(&locs).await;
    let mut cfg = match &a.config {
        Some(c) => {
            let bytes = io.read(&Location::parse(c)?).await?;
            serde_json::from_slice::<DriftConfig>(&bytes)
                .map_err(|e| trainguard::drift::DriftError::InvalidConfig(format!("{c}: {e}")))?
        }
        None => DriftConfig::default(),
    };
    if let Some(alpha) = a.alpha {
        cfg.alpha = alpha;
    }
    if let Some(c) = a.correction {
        cfg.correction = c;
    }
    cfg.critical.extend(a.critical.iter().cloned());
    cfg.validate()?;
    let baseline = task::load_baseline(&io, &Location::parse(&a.baseline)?).await?;
    let data = Location::parse(&a.data)?;
    let current = watch(
        Progress::start("profiling", out.progress_here()),
        task::profile_dataset(
            &io,
            &data,
            baseline.options,
            Some(&baseline),
            Deadline::none(),
        ),
    )
    .await?;
    let mut report = check(&baseline, &current, &cfg)?;
    report.verdict.report_uri = a.report.clone();
    report.verdict.html_report_uri = a.html.clone();
    if let Some(r) = &a.report {
        io.write(&Location::parse(r)?, report.to_json(), "application/json")
            .await?;
    }
    if let Some(h) = &a.html {
        let page = trainguard::drift::html::render(&report, &baseline, &current);
        io.write(
            &Location::parse(h)?,
            page.into_bytes(),
            "text/html; charset=utf-8",
        )
        .await?;
    }
    let v = &report.verdict;
    if out.json {
        out.emit(v);
    } else {
        println!(
            "{}: {} of {} features drifted (share {:.2}, threshold {:.2})",
            if v.drift_detected {
                "DRIFT"
            } else {
                "no drift"
            },
            v.drifted_count,
            v.features_checked,
            v.share_drifted,
            v.share_threshold
        );
        for f in &report.features {
            let eff = f
                .effect
                .as_ref()
                .map(|e| {
                    format!(
                        " {}={}",
                        e.metric,
                        e.value.map(|x| format!("{x:.4}")).unwrap_or("-".into())
                    )
                })
                .unwrap_or_default();
            println!(
                "  {:<24} {:<11} {:<10} stat={} p={} p_adj={}{}{}",
                f.name,
                f.kind,
                format!("{:?}", f.status).to_lowercase(),
                f.statistic.map(|x| format!("{x:.4}")).unwrap_or("-".into()),
                f.pvalue.map(|x| format!("{x:.3e}")).unwrap_or("-".into()),
                f.pvalue_adjusted
                    .map(|x| format!("{x:.3e}"))
                    .unwrap_or("-".into()),
                eff,
                if f.drifted { "  DRIFT" } else { "" }
            );
        }
    }
    Ok(v.drift_detected)
}
