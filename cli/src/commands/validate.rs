//! `trainguard validate` and `trainguard infer-contract`: the schema validator on local
//! files, directories and s3:// URIs, with the same library code the Lambda runs.
//!
//! Exit codes: 0 passed, 1 checks failed (error-severity violations), 2 unusable input
//! (the documented error name is printed on stderr, and with `--json` on stdout).
//! Progress on stderr while reading (see [`crate::progress`]).

use std::process::ExitCode;

use trainguard::aws::S3Store;
use trainguard::dataset::{CsvOptions, DataReader, NullTokens, ReadOptions};
use trainguard::lambda::Deadline;
use trainguard::schema::{
    self, infer_contract, Contract, InferOptions, Report, SchemaError, Severity,
};
use trainguard::storage::Location;
use trainguard::ErrorName;

use crate::output::Output;
use crate::progress::{watch, Progress};

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Data: a CSV/Parquet file, a directory, or an s3:// object or prefix.
    pub data: String,
    /// The data contract (local JSON file or s3:// URI).
    #[arg(long)]
    pub contract: String,
    /// Also write the full report (local path or s3:// URI).
    #[arg(long, value_name = "PATH")]
    pub report: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct InferArgs {
    /// Sample: a CSV/Parquet file, a directory, or an s3:// object or prefix.
    pub data: String,
    /// Where to write the contract (local path or s3:// URI); stdout when absent.
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<String>,
    /// Relative slack on ranges, null ratios and cardinalities.
    #[arg(long, default_value_t = 0.1)]
    pub slack: f64,
    /// Read at most this many rows.
    #[arg(long)]
    pub max_rows: Option<u64>,
    /// CSV delimiter (default: sniffed from the header line).
    #[arg(long)]
    pub delimiter: Option<String>,
}

fn fail(out: Output, e: &SchemaError) -> ExitCode {
    out.fail(e.error_name(), &e.to_string())
}

/// An S3 store when any of `uris` needs one (so local runs need no AWS config).
async fn store_for(uris: &[Option<&str>]) -> Option<S3Store> {
    if uris.iter().flatten().any(|u| u.starts_with("s3://")) {
        let config = trainguard::aws::load_config().await;
        Some(S3Store::new(trainguard::aws::s3_client(&config)))
    } else {
        None
    }
}

async fn read_bytes(store: Option<&S3Store>, at: &str) -> Result<Vec<u8>, SchemaError> {
    match Location::parse(at)? {
        Location::S3(u) => {
            let store = store.ok_or_else(|| {
                trainguard::error::CommonError::InvalidInput("no S3 client".into())
            })?;
            Ok(store.get(&u).await?.to_vec())
        }
        Location::Local(p) => std::fs::read(&p).map_err(|e| {
            let what = format!("{}: {e}", p.display());
            match e.kind() {
                std::io::ErrorKind::NotFound => {
                    trainguard::error::CommonError::NotFound(what).into()
                }
                _ => trainguard::error::CommonError::Storage(what).into(),
            }
        }),
    }
}

async fn write_bytes(store: Option<&S3Store>, at: &str, body: Vec<u8>) -> Result<(), SchemaError> {
    match Location::parse(at)? {
        Location::S3(u) => {
            let store = store.ok_or_else(|| {
                trainguard::error::CommonError::InvalidInput("no S3 client".into())
            })?;
            Ok(store.put(&u, body, "application/json").await?)
        }
        Location::Local(p) => std::fs::write(&p, body).map_err(|e| {
            trainguard::error::CommonError::Storage(format!("{}: {e}", p.display())).into()
        }),
    }
}

/// With `--json`: the verdict, exactly what the Lambda returns.
pub async fn run_validate(a: ValidateArgs, out: Output) -> ExitCode {
    let store = store_for(&[Some(&a.data), Some(&a.contract), a.report.as_deref()]).await;
    let result: Result<Report, SchemaError> = async {
        let contract = Contract::from_json(&read_bytes(store.as_ref(), &a.contract).await?)?;
        let location = Location::parse(&a.data)?;
        let reader = schema::reader_for(store.clone(), &contract);
        let report = watch(
            Progress::start("validating", out.progress_here()),
            schema::validate(
                &reader,
                &location,
                &contract,
                Some(&a.contract),
                &Deadline::none(),
            ),
        )
        .await?;
        if let Some(path) = &a.report {
            let body = serde_json::to_vec_pretty(&report).unwrap_or_default();
            write_bytes(store.as_ref(), path, body).await?;
        }
        Ok(report)
    }
    .await;
    let report = match result {
        Ok(r) => r,
        Err(e) => return fail(out, &e),
    };
    if out.json {
        out.emit(&report.verdict(a.report.clone()));
    } else {
        print_summary(&report, a.report.as_deref());
    }
    if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_summary(r: &Report, report_path: Option<&str>) {
    println!(
        "{}: {} — {} object(s), {} row(s), {} error(s), {} warning(s)",
        r.data,
        if r.passed { "PASSED" } else { "FAILED" },
        r.objects.len(),
        r.rows,
        r.violations.error,
        r.violations.warning
    );
    let mut findings: Vec<_> = r.findings.iter().collect();
    findings.sort_by_key(|f| f.severity);
    for f in findings {
        let sev = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let example = f
            .examples
            .iter()
            .take(3)
            .map(|e| format!("row {}: {:?}", e.row, e.value))
            .collect::<Vec<_>>()
            .join(", ");
        print!(
            "  {sev:<7} {:<20} {:<14} {}",
            f.column.as_deref().unwrap_or("(dataset)"),
            f.check.as_str(),
            f.message
        );
        if example.is_empty() {
            println!();
        } else {
            println!("  [{example}]");
        }
    }
    if let Some(p) = report_path {
        println!("full report: {p}");
    }
}

/// The contract goes to stdout (it is JSON either way) unless `-o` is given; then
/// `--json` prints `{"contract_uri", "columns"}`.
pub async fn run_infer(a: InferArgs, out: Output) -> ExitCode {
    let store = store_for(&[Some(&a.data), a.output.as_deref()]).await;
    let result: Result<(), SchemaError> = async {
        let delimiter = a
            .delimiter
            .as_deref()
            .map(|d| serde_json::from_value::<CsvOptions>(serde_json::json!({ "delimiter": d })))
            .transpose()
            .map_err(|e| trainguard::error::CommonError::InvalidInput(format!("--delimiter: {e}")))?
            .and_then(|c| c.delimiter);
        if !(0.0..=10.0).contains(&a.slack) {
            return Err(trainguard::error::CommonError::InvalidInput(format!(
                "--slack {} is not within 0..=10",
                a.slack
            ))
            .into());
        }
        let csv = CsvOptions {
            delimiter,
            ..CsvOptions::default()
        };
        let options = InferOptions {
            slack: a.slack,
            max_rows: a.max_rows,
            csv: csv.clone(),
            null_tokens: NullTokens::default(),
            ..InferOptions::default()
        };
        let reader = DataReader::new(
            store.clone(),
            ReadOptions {
                csv,
                ..ReadOptions::default()
            },
        );
        let location = Location::parse(&a.data)?;
        let contract = watch(
            Progress::start("reading the sample", out.progress_here()),
            infer_contract(&reader, &location, &options, &Deadline::none()),
        )
        .await?;
        let mut body = serde_json::to_vec_pretty(&contract).unwrap_or_default();
        body.push(b'\n');
        match &a.output {
            Some(path) => {
                write_bytes(store.as_ref(), path, body).await?;
                if out.json {
                    out.emit(&serde_json::json!({
                        "contract_uri": path,
                        "columns": contract.columns.len(),
                    }));
                } else {
                    out.note(format!(
                        "wrote a contract for {} column(s) to {path}",
                        contract.columns.len()
                    ));
                }
            }
            None => print!("{}", String::from_utf8_lossy(&body)),
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(out, &e),
    }
}
