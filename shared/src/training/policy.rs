//! The recovery policy: every knob of the planner, with documented defaults.
//!
//! The policy travels in the task input (`"policy": {...}`), so one state machine can
//! run jobs with different rules; every field is optional.

use serde::{Deserialize, Serialize};

/// How the planner may use gradient accumulation to keep the global batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AccumulationMode {
    /// Use accumulation when the job already has an accumulation hyperparameter.
    #[default]
    Auto,
    /// The training script understands the first `grad_accum_params` name even when it
    /// is not set (it defaults to 1): always use it.
    Always,
    /// Never touch accumulation; scale the learning rate instead.
    Never,
}

/// How the learning rate follows the global batch when accumulation cannot keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LrScaling {
    /// lr × (new batch / old batch) (Goyal et al. 2017, SGD).
    #[default]
    Linear,
    /// lr × sqrt(new batch / old batch) (common for Adam-type optimizers).
    Sqrt,
    /// Leave the learning rate alone.
    None,
}

impl LrScaling {
    /// The factor for a batch ratio `new / old`.
    pub fn factor(self, ratio: f64) -> f64 {
        match self {
            LrScaling::Linear => ratio,
            LrScaling::Sqrt => ratio.sqrt(),
            LrScaling::None => 1.0,
        }
    }
}

/// One rung of the instance ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderRung {
    pub instance_type: String,
    /// GPUs per instance. Moving between rungs with different GPU counts would change
    /// the data-parallel world size and with it the global batch, so the planner only
    /// climbs to a rung with the same count (unknown counts are compatible with all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u32>,
    /// Memory per GPU, GiB. The ladder only climbs to strictly more memory per GPU.
    pub gpu_memory_gib: f64,
}

fn rung(instance_type: &str, gpus: u32, gpu_memory_gib: f64) -> LadderRung {
    LadderRung {
        instance_type: instance_type.to_string(),
        gpus: Some(gpus),
        gpu_memory_gib,
    }
}

/// The default ladder, ordered by memory per GPU within each GPU count (NVIDIA T4 and
/// V100 16 GB, A10G and L4 24 GB, L40S 48 GB, A100 40/80 GB, H100 80 GB).
pub fn default_ladder() -> Vec<LadderRung> {
    vec![
        rung("ml.g4dn.xlarge", 1, 16.0),
        rung("ml.p3.2xlarge", 1, 16.0),
        rung("ml.g5.xlarge", 1, 24.0),
        rung("ml.g6.xlarge", 1, 24.0),
        rung("ml.g6e.xlarge", 1, 48.0),
        rung("ml.g4dn.12xlarge", 4, 16.0),
        rung("ml.g5.12xlarge", 4, 24.0),
        rung("ml.g6e.12xlarge", 4, 48.0),
        rung("ml.p3.16xlarge", 8, 16.0),
        rung("ml.g5.48xlarge", 8, 24.0),
        rung("ml.p4d.24xlarge", 8, 40.0),
        rung("ml.p4de.24xlarge", 8, 80.0),
        rung("ml.p5.48xlarge", 8, 80.0),
    ]
}

/// Exponential backoff: `min(max_seconds, base_seconds × multiplier^k)` for the k-th
/// wait of a kind (k from 0). Deterministic, so the same input gives the same plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backoff {
    pub base_seconds: u64,
    pub max_seconds: u64,
    pub multiplier: f64,
}

impl Backoff {
    /// The k-th wait.
    pub fn wait(&self, k: u32) -> u64 {
        let raw = self.base_seconds as f64 * self.multiplier.powi(k.min(64) as i32);
        if !raw.is_finite() || raw >= self.max_seconds as f64 {
            self.max_seconds
        } else {
            raw.round() as u64
        }
    }
}

/// The recovery policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Retries allowed in total; when the history holds this many, the next failure
    /// halts with `TrainingRecovery.AttemptsExhausted`.
    pub max_attempts: u32,
    /// Hyperparameter names of the per-device batch size, first present wins.
    pub batch_size_params: Vec<String>,
    /// Hyperparameter names of gradient accumulation steps, first present wins.
    pub grad_accum_params: Vec<String>,
    /// Hyperparameter names of the learning rate, first present wins.
    pub learning_rate_params: Vec<String>,
    /// The batch is divided by this on OOM (> 1).
    pub batch_reduction_factor: f64,
    /// Round the reduced batch down to a multiple of this (e.g. 8 for tensor cores).
    pub round_batch_to_multiple_of: Option<u64>,
    /// The smallest per-device batch; below it the planner climbs the ladder.
    pub min_batch_size: u64,
    pub gradient_accumulation: AccumulationMode,
    pub lr_scaling: LrScaling,
    pub instance_ladder: Vec<LadderRung>,
    /// On a bigger instance, go back to the original batch (and accumulation).
    pub restore_batch_on_upgrade: bool,
    /// Spot interruptions (over all attempts) after which the job moves to on-demand.
    pub spot_interruption_limit: u32,
    /// Waits for throttling, internal errors and spot retries.
    pub transient_backoff: Backoff,
    /// Waits for quota and capacity shortages (the run queues instead of failing).
    pub capacity_backoff: Backoff,
    /// Waits of one kind before halting with `TrainingRecovery.WaitsExhausted`.
    pub max_waits: u32,
    /// Learning-rate reductions for NaN/diverging loss before halting.
    pub max_lr_reductions: u32,
    /// The learning rate is multiplied by this on NaN/diverging loss (0 < f < 1).
    pub lr_reduction_factor: f64,
    /// Resume a job that hit MaxRuntimeInSeconds from its checkpoint.
    pub resume_on_max_runtime: bool,
    /// CheckpointConfig.S3Uri to add when the failed job had none (so later retries
    /// can resume), e.g. `s3://bucket/pipeline/<execution>/checkpoints/`.
    pub checkpoint_s3_uri: Option<String>,
    /// Lines read from the end of each log stream.
    pub log_tail_lines: usize,
    /// Log streams (hosts) read at most.
    pub log_max_streams: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_attempts: 8,
            batch_size_params: vec!["per_device_train_batch_size".into(), "batch_size".into()],
            grad_accum_params: vec!["gradient_accumulation_steps".into()],
            learning_rate_params: vec!["learning_rate".into(), "lr".into()],
            batch_reduction_factor: 2.0,
            round_batch_to_multiple_of: None,
            min_batch_size: 1,
            gradient_accumulation: AccumulationMode::Auto,
            lr_scaling: LrScaling::Linear,
            instance_ladder: default_ladder(),
            restore_batch_on_upgrade: true,
            spot_interruption_limit: 3,
            transient_backoff: Backoff {
                base_seconds: 60,
                max_seconds: 900,
                multiplier: 2.0,
            },
            capacity_backoff: Backoff {
                base_seconds: 600,
                max_seconds: 3600,
                multiplier: 2.0,
            },
            max_waits: 6,
            max_lr_reductions: 2,
            lr_reduction_factor: 0.5,
            resume_on_max_runtime: true,
            checkpoint_s3_uri: None,
            log_tail_lines: 200,
            log_max_streams: 16,
        }
    }
}

impl Policy {
    /// Check the numbers make sense; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.batch_reduction_factor.is_finite() && self.batch_reduction_factor > 1.0) {
            return Err(format!(
                "batch_reduction_factor must be > 1, got {}",
                self.batch_reduction_factor
            ));
        }
        if !(self.lr_reduction_factor.is_finite()
            && self.lr_reduction_factor > 0.0
            && self.lr_reduction_factor < 1.0)
        {
            return Err(format!(
                "lr_reduction_factor must be in (0, 1), got {}",
                self.lr_reduction_factor
            ));
        }
        if self.min_batch_size == 0 {
            return Err("min_batch_size must be >= 1".into());
        }
        if self.round_batch_to_multiple_of == Some(0) {
            return Err("round_batch_to_multiple_of must be >= 1".into());
        }
        for (name, b) in [
            ("transient_backoff", &self.transient_backoff),
            ("capacity_backoff", &self.capacity_backoff),
        ] {
            if !(b.multiplier.is_finite() && b.multiplier >= 1.0) {
                return Err(format!(
                    "{name}.multiplier must be >= 1, got {}",
                    b.multiplier
                ));
            }
            if b.base_seconds > b.max_seconds {
                return Err(format!("{name}.base_seconds must not exceed max_seconds"));
            }
        }
        for r in &self.instance_ladder {
            if r.instance_type.trim().is_empty()
                || !(r.gpu_memory_gib.is_finite() && r.gpu_memory_gib > 0.0)
            {
                return Err(format!(
                    "instance_ladder entry {:?} needs an instance_type and gpu_memory_gib > 0",
                    r.instance_type
                ));
            }
        }
        if self.log_tail_lines == 0 || self.log_max_streams == 0 {
            return Err("log_tail_lines and log_max_streams must be >= 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_partial_policies_fill_in() {
        Policy::default().validate().unwrap();
        let p: Policy = serde_json::from_value(
            serde_json::json!({"batch_reduction_factor": 4.0, "lr_scaling": "sqrt"}),
        )
        .unwrap();
        assert_eq!(p.batch_reduction_factor, 4.0);
        assert_eq!(p.lr_scaling, LrScaling::Sqrt);
        assert_eq!(p.max_attempts, Policy::default().max_attempts);
        let bad = Policy {
            batch_reduction_factor: 1.0,
            ..Policy::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .contains("batch_reduction_factor"));
        let bad = Policy {
            min_batch_size: 0,
            ..Policy::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff {
            base_seconds: 60,
            max_seconds: 900,
            multiplier: 2.0,
        };
        assert_eq!(
            [b.wait(0), b.wait(1), b.wait(2), b.wait(4), b.wait(1000)],
            [60, 120, 240, 900, 900]
        );
    }

    #[test]
    fn default_ladder_is_ordered_by_memory_within_gpu_count() {
        let l = default_ladder();
        for w in l.windows(2) {
            if w[0].gpus == w[1].gpus {
                assert!(w[0].gpu_memory_gib <= w[1].gpu_memory_gib, "{w:?}");
            }
        }
    }
}
