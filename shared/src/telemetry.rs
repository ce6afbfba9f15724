//! Structured logs and CloudWatch Embedded Metric Format (EMF) metrics.
//!
//! Logs are JSON lines (tracing-subscriber's JSON formatter) so CloudWatch Logs
//! Insights can filter on fields; every line of an invocation carries the Step
//! Functions execution name when the input has one (see [`crate::lambda`]).
//! Metrics are EMF documents printed to stdout: CloudWatch extracts them from the log
//! stream with no PutMetricData call and no extra latency.

use serde_json::{json, Map, Value};

/// Install the JSON log subscriber for a Lambda function. The level comes from
/// `RUST_LOG` (default `info`). Safe to call twice (the second call is a no-op).
pub fn init_lambda_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .flatten_event(true)
        .try_init();
}

/// Install a human-readable subscriber on stderr for the CLI (`RUST_LOG`, default `warn`).
pub fn init_cli_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// EMF metric units used by trainguard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Bytes,
    Milliseconds,
    Seconds,
    Percent,
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Bytes => "Bytes",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
            Unit::Percent => "Percent",
            Unit::None => "None",
        }
    }
}

/// A batch of metrics for one invocation, printed as one EMF document.
///
/// The only dimension is `Function` (bounded cardinality); the execution name rides
/// along as a property so a metric can be traced back to its run in Logs Insights
/// without multiplying CloudWatch metric series.
#[derive(Debug, Clone)]
pub struct Metrics {
    namespace: String,
    function: String,
    properties: Map<String, Value>,
    values: Vec<(String, f64, Unit)>,
}

impl Metrics {
    /// Metrics for `function`, in the namespace from `TRAINGUARD_METRICS_NAMESPACE`
    /// (default `trainguard`).
    pub fn new(function: &str) -> Self {
        let namespace = std::env::var("TRAINGUARD_METRICS_NAMESPACE")
            .unwrap_or_else(|_| "trainguard".to_string());
        Metrics {
            namespace,
            function: function.to_string(),
            properties: Map::new(),
            values: Vec::new(),
        }
    }

    /// Attach a non-dimension property (e.g. the execution name).
    pub fn property(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.properties.insert(key.to_string(), value.into());
        self
    }

    /// Record a value; recording the same name twice adds to it.
    pub fn put(&mut self, name: &str, value: f64, unit: Unit) -> &mut Self {
        if let Some(slot) = self.values.iter_mut().find(|(n, _, _)| n == name) {
            slot.1 += value;
        } else {
            self.values.push((name.to_string(), value, unit));
        }
        self
    }

    /// Record a count.
    pub fn count(&mut self, name: &str, value: u64) -> &mut Self {
        self.put(name, value as f64, Unit::Count)
    }

    /// The value recorded under `name`, if any.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _, _)| n == name).map(|v| v.1)
    }

    /// The EMF document at `timestamp_ms`.
    pub fn to_emf(&self, timestamp_ms: i64) -> Value {
        let defs: Vec<Value> = self
            .values
            .iter()
            .map(|(n, _, u)| json!({"Name": n, "Unit": u.as_str()}))
            .collect();
        let mut doc = Map::new();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [["Function"]],
                    "Metrics": defs,
                }]
            }),
        );
        doc.insert("Function".into(), json!(self.function));
        for (k, v) in &self.properties {
            doc.insert(k.clone(), v.clone());
        }
        for (n, v, _) in &self.values {
            doc.insert(n.clone(), json!(v));
        }
        Value::Object(doc)
    }

    /// Print the EMF document on stdout (one line), where the Lambda log agent picks it up.
    pub fn emit(&self) {
        if self.values.is_empty() {
            return;
        }
        println!("{}", self.to_emf(chrono::Utc::now().timestamp_millis()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_declares_every_value_it_carries() {
        let mut m = Metrics::new("schema-validator");
        m.count("RowsRead", 10)
            .count("RowsRead", 5)
            .count("Violations", 2);
        m.property("ExecutionName", "exec-1");
        let doc = m.to_emf(1_700_000_000_000);
        let defs = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(defs["Dimensions"], json!([["Function"]]));
        let names: Vec<&str> = defs["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["RowsRead", "Violations"]);
        assert_eq!(doc["RowsRead"], json!(15.0));
        assert_eq!(doc["Violations"], json!(2.0));
        assert_eq!(doc["Function"], json!("schema-validator"));
        assert_eq!(doc["ExecutionName"], json!("exec-1"));
        assert_eq!(doc["_aws"]["Timestamp"], json!(1_700_000_000_000i64));
    }
}
