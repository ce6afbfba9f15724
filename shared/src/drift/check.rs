//! The drift check: baseline profile + current profile + configuration → report.

use std::collections::HashSet;

use super::config::{DriftConfig, Effect};
use super::correction::{adjust, Correction};
use super::ks::{self, Extremes, Method};
use super::report::{
    CategoryRow, DriftReport, DriftedFeature, EffectSize, FeatureResult, Status, Summary, Verdict,
    MAX_VERDICT_FEATURES,
};
use super::stats;
use super::DriftError;
use crate::profile::{
    distinct_sorted, quantile_sorted, sample_fingerprint, CategoricalProfile, Feature,
    FeatureStats, NumericProfile, Profile,
};

fn summary_numeric(n: &NumericProfile) -> Summary {
    let total = n.count + n.nulls + n.infinite;
    Summary {
        count: n.count,
        nulls: n.nulls,
        null_rate: (total > 0).then(|| n.nulls as f64 / total as f64),
        mean: n.mean,
        std: n.std,
        min: n.min,
        median: quantile_sorted(&n.sample, 0.5),
        max: n.max,
    }
}

fn summary_categorical(c: &CategoricalProfile) -> Summary {
    let total = c.count + c.nulls;
    Summary {
        count: c.count,
        nulls: c.nulls,
        null_rate: (total > 0).then(|| c.nulls as f64 / total as f64),
        ..Default::default()
    }
}

fn summary_of(stats: &FeatureStats) -> Summary {
    match stats {
        FeatureStats::Numeric(n) => summary_numeric(n),
        FeatureStats::Categorical(c) => summary_categorical(c),
    }
}

/// KS extremes of the baseline sample against every current value, from the
/// against-baseline counts. Returns (extremes, n_baseline, n_current).
pub fn extremes_against(
    sample: &[f64],
    equal: &[u64],
    between: &[u64],
) -> Option<(Extremes, u64, u64)> {
    let (values, mult) = distinct_sorted(sample);
    if equal.len() != values.len() || between.len() != values.len() + 1 {
        return None;
    }
    let n1: u64 = mult.iter().sum();
    let n2: u64 = equal.iter().sum::<u64>() + between.iter().sum::<u64>();
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let (mut cb, mut cc) = (0u64, 0u64);
    let mut max_d = f64::NEG_INFINITY;
    let mut min_d = f64::INFINITY;
    let (mut loc_max, mut loc_min) = (None, None);
    for k in 0..=values.len() {
        if between[k] > 0 {
            // The last current value in the gap: F_cur is highest there, F_base unchanged,
            // so F_base - F_cur is at its lowest; its highest point in the gap is never
            // above the value at the gap's left end, already counted.
            cc += between[k];
            let diff = cb as f64 / f1 - cc as f64 / f2;
            if diff < min_d {
                min_d = diff;
                loc_min = None;
            }
            if diff > max_d {
                max_d = diff;
                loc_max = None;
            }
        }
        if k < values.len() {
            cb += mult[k];
            cc += equal[k];
            let diff = cb as f64 / f1 - cc as f64 / f2;
            if diff > max_d {
                max_d = diff;
                loc_max = Some(values[k]);
            }
            if diff < min_d {
                min_d = diff;
                loc_min = Some(values[k]);
            }
        }
    }
    Some((
        Extremes {
            max_s: max_d.max(0.0),
            min_s: (-min_d).clamp(0.0, 1.0),
            loc_max,
            loc_min,
        },
        n1,
        n2,
    ))
}

/// PSI of a numeric feature over the baseline sample's deciles.
fn numeric_psi(base: &[f64], cur: &[f64]) -> Option<f64> {
    if base.is_empty() || cur.is_empty() {
        return None;
    }
    let mut edges: Vec<f64> = (1..10)
        .filter_map(|i| quantile_sorted(base, i as f64 / 10.0))
        .collect();
    edges.dedup();
    let bin = |v: f64| edges.partition_point(|&e| e < v);
    let mut bc = vec![0u64; edges.len() + 1];
    let mut cc = vec![0u64; edges.len() + 1];
    for &v in base {
        bc[bin(v)] += 1;
    }
    for &v in cur {
        cc[bin(v)] += 1;
    }
    Some(stats::psi(&bc, &cc))
}

struct Pending {
    result: FeatureResult,
    /// Effect value and threshold, for the gate after correction.
    gate: Option<(Option<f64>, f64)>,
}

fn base_result(
    name: &str,
    kind: &str,
    status: Status,
    alpha: f64,
    critical: bool,
    b: Summary,
    c: Summary,
) -> FeatureResult {
    FeatureResult {
        name: name.to_string(),
        kind: kind.to_string(),
        status,
        test: None,
        statistic: None,
        pvalue: None,
        pvalue_adjusted: None,
        method: None,
        compared: None,
        n_baseline: None,
        n_current: None,
        effect: None,
        alpha,
        significant: false,
        drifted: false,
        critical,
        reason: None,
        baseline: b,
        current: c,
        categories: Vec::new(),
        new_categories: Vec::new(),
    }
}

/// Marks a feature that has no values on one side or both (empty, all null now, or an
/// empty baseline), whatever its type; true when it cannot be tested.
fn untestable(r: &mut FeatureResult, baseline: u64, current: u64, all_null: &str) -> bool {
    let (status, drifted, reason) = match (baseline, current) {
        (0, 0) => (Status::Empty, false, "no values on either side"),
        (_, 0) => (Status::AllNull, true, all_null),
        (0, _) => (
            Status::BaselineEmpty,
            true,
            "the baseline had no values for this feature",
        ),
        _ => return false,
    };
    r.status = status;
    r.drifted |= drifted;
    r.reason = Some(reason.into());
    true
}

fn test_numeric(
    r: &mut FeatureResult,
    name: &str,
    b: &NumericProfile,
    c: &NumericProfile,
    cfg: &DriftConfig,
    effect: Effect,
    threshold: f64,
) -> Option<(Option<f64>, f64)> {
    // Prefer the baseline sample against every current value.
    let against = c
        .against
        .as_ref()
        .filter(|a| a.baseline_sample == sample_fingerprint(name, &b.sample));
    let (ext, n1, n2, compared) =
        match against.and_then(|a| extremes_against(&b.sample, &a.equal, &a.between)) {
            Some((e, n1, n2)) => (e, n1, n2, "sample-vs-all"),
            None => (
                ks::extremes_sorted(&b.sample, &c.sample),
                b.sample.len() as u64,
                c.sample.len() as u64,
                "sample-vs-sample",
            ),
        };
    let (d, sign, _) = ks::select_statistic(&ext, cfg.alternative);
    let res = ks::ks_pvalue(d, sign, n1, n2, cfg.alternative, cfg.method);
    r.test = Some("ks".into());
    r.statistic = Some(res.statistic);
    r.pvalue = Some(res.pvalue);
    r.method = Some(
        if res.method == Method::Exact {
            "exact"
        } else {
            "asymp"
        }
        .into(),
    );
    r.compared = Some(compared.into());
    r.n_baseline = Some(n1);
    r.n_current = Some(n2);
    let value = match effect {
        Effect::KsD => Some(res.statistic),
        Effect::Psi => numeric_psi(&b.sample, &c.sample),
        Effect::Wasserstein => {
            let w = stats::wasserstein_sorted(&b.sample, &c.sample);
            // A constant baseline has no scale: the raw distance is reported instead.
            match b.std {
                Some(s) if s > 0.0 => Some(w / s),
                _ => Some(w),
            }
        }
        Effect::None => None,
    };
    if effect == Effect::None {
        return None;
    }
    r.effect = Some(EffectSize {
        metric: effect.name().into(),
        value,
        threshold,
    });
    Some((value, threshold))
}

fn test_categorical(
    r: &mut FeatureResult,
    b: &CategoricalProfile,
    c: &CategoricalProfile,
    effect: Effect,
    threshold: f64,
) -> Option<(Option<f64>, f64)> {
    // Categories the baseline does not list: when the baseline had an "other" bucket they
    // may be hiding in it, so they are compared as "other"; otherwise they are new, which
    // makes chi-square infinite (p = 0), exactly as scipy would.
    let mut keys: Vec<String> = b.categories.keys().cloned().collect();
    let mut cur_other = c.other;
    let mut new = Vec::new();
    let mut extra: Vec<(String, u64)> = Vec::new();
    for (k, &n) in &c.categories {
        if !b.categories.contains_key(k) {
            if b.other > 0 {
                cur_other += n;
            } else {
                new.push(k.clone());
                extra.push((k.clone(), n));
            }
        }
    }
    let mut bc: Vec<u64> = keys.iter().map(|k| b.categories[k]).collect();
    let mut cc: Vec<u64> = keys
        .iter()
        .map(|k| c.categories.get(k).copied().unwrap_or(0))
        .collect();
    for (k, n) in extra {
        keys.push(k);
        bc.push(0);
        cc.push(n);
    }
    if b.other > 0 || cur_other > 0 {
        keys.push(crate::profile::OTHER.to_string());
        bc.push(b.other);
        cc.push(cur_other);
    }
    let chi = stats::chisquare_counts(&bc, &cc);
    r.test = Some("chi-square".into());
    r.statistic = Some(chi.statistic);
    r.pvalue = Some(chi.pvalue);
    r.method = Some(format!("chi2({})", chi.dof));
    r.n_baseline = Some(b.count);
    r.n_current = Some(c.count);
    if !new.is_empty() {
        r.reason = Some(format!(
            "{} categor{} absent from the baseline",
            new.len(),
            if new.len() == 1 { "y" } else { "ies" }
        ));
    }
    r.new_categories = new;
    let mut rows: Vec<CategoryRow> = keys
        .iter()
        .zip(bc.iter().zip(&cc))
        .map(|(k, (&b, &c))| CategoryRow {
            category: k.clone(),
            baseline: b,
            current: c,
        })
        .collect();
    rows.sort_by(|x, y| {
        (y.baseline + y.current)
            .cmp(&(x.baseline + x.current))
            .then_with(|| x.category.cmp(&y.category))
    });
    r.categories = rows;
    let value = match effect {
        Effect::Psi => Some(stats::psi(&bc, &cc)),
        _ => None,
    };
    if effect == Effect::None {
        return None;
    }
    r.effect = Some(EffectSize {
        metric: effect.name().into(),
        value,
        threshold,
    });
    Some((value, threshold))
}

/// Compare `current` with `baseline`: test every baseline feature, correct the p-values
/// of those actually tested for multiple testing, gate each on its effect size, and
/// decide the dataset's verdict.
pub fn check(
    baseline: &Profile,
    current: &Profile,
    cfg: &DriftConfig,
) -> Result<DriftReport, DriftError> {
    check_inputs(baseline, current, cfg)?;
    let mut pending: Vec<Pending> = baseline
        .features
        .iter()
        .map(|f| test_feature(f, current.feature(&f.name), cfg))
        .collect();
    apply_correction(&mut pending, cfg.correction);
    let features: Vec<FeatureResult> = pending.into_iter().map(|p| p.result).collect();
    let verdict = verdict(&features, baseline, current, cfg);
    Ok(DriftReport {
        version: 1,
        kind: "trainguard.drift-report".into(),
        created_at: chrono::Utc::now().to_rfc3339(),
        verdict,
        config: cfg.clone(),
        baseline_sources: baseline.sources.clone(),
        current_sources: current.sources.clone(),
        features,
    })
}

/// A configuration in range, a baseline with rows and features, a current dataset with
/// rows.
fn check_inputs(
    baseline: &Profile,
    current: &Profile,
    cfg: &DriftConfig,
) -> Result<(), DriftError> {
    cfg.validate()?;
    if baseline.rows == 0 || baseline.features.is_empty() {
        return Err(DriftError::EmptyBaseline(format!(
            "{} rows, {} features",
            baseline.rows,
            baseline.features.len()
        )));
    }
    if current.rows == 0 {
        return Err(DriftError::EmptyDataset(current.sources.join(", ")));
    }
    Ok(())
}

/// One baseline feature against its current counterpart (if any): ignored, missing,
/// type changed, untestable, or tested with its effect-size gate still to apply.
fn test_feature(f: &Feature, cur: Option<&Feature>, cfg: &DriftConfig) -> Pending {
    let fc = cfg.features.get(&f.name).cloned().unwrap_or_default();
    let csum = cur.map(|g| summary_of(&g.stats)).unwrap_or_default();
    let mut r = base_result(
        &f.name,
        f.stats.type_name(),
        Status::Tested,
        fc.alpha.unwrap_or(cfg.alpha),
        cfg.is_critical(&f.name),
        summary_of(&f.stats),
        csum,
    );
    if fc.ignore {
        r.status = Status::Ignored;
        return Pending {
            result: r,
            gate: None,
        };
    }
    let Some(g) = cur else {
        r.status = Status::Missing;
        r.drifted = cfg.missing_is_drift;
        r.reason = Some("the feature is missing from the current data".into());
        return Pending {
            result: r,
            gate: None,
        };
    };
    let gate = match (&f.stats, &g.stats) {
        (FeatureStats::Numeric(b), FeatureStats::Numeric(c)) => {
            if untestable(
                &mut r,
                b.count,
                c.count,
                "every current value is null, NaN or infinite",
            ) {
                None
            } else {
                let effect = fc.effect.unwrap_or(cfg.numeric_effect);
                let threshold = fc.threshold.unwrap_or(cfg.numeric_threshold);
                test_numeric(&mut r, &f.name, b, c, cfg, effect, threshold)
            }
        }
        (FeatureStats::Categorical(b), FeatureStats::Categorical(c)) => {
            if untestable(&mut r, b.count, c.count, "every current value is null") {
                None
            } else {
                let mut effect = fc.effect.unwrap_or(cfg.categorical_effect);
                if matches!(effect, Effect::KsD | Effect::Wasserstein) {
                    effect = Effect::Psi;
                }
                let threshold = fc.threshold.unwrap_or(cfg.categorical_threshold);
                test_categorical(&mut r, b, c, effect, threshold)
            }
        }
        (b, c) => {
            r.status = Status::TypeChanged;
            r.drifted = true;
            r.reason = Some(format!(
                "{} in the baseline, {} now",
                b.type_name(),
                c.type_name()
            ));
            None
        }
    };
    Pending { result: r, gate }
}

/// Correct the p-values of the features actually tested, then decide each: drifted when
/// significant after correction and its effect size reaches its threshold.
fn apply_correction(pending: &mut [Pending], correction: Correction) {
    let ps: Vec<f64> = pending
        .iter()
        .map(|p| {
            if p.result.status == Status::Tested {
                p.result.pvalue.unwrap_or(f64::NAN)
            } else {
                f64::NAN
            }
        })
        .collect();
    let adjusted = adjust(&ps, correction);
    for (p, adj) in pending.iter_mut().zip(adjusted) {
        let r = &mut p.result;
        if r.status != Status::Tested {
            continue;
        }
        r.pvalue_adjusted = (!adj.is_nan()).then_some(adj);
        r.significant = adj < r.alpha;
        let effect_ok = match p.gate {
            None => true,
            Some((Some(v), t)) => v >= t,
            // An undefined effect size (e.g. PSI of an empty side) does not block.
            Some((None, _)) => true,
        };
        r.drifted = r.significant && effect_ok;
        if r.drifted && r.reason.is_none() {
            r.reason = Some("significant and the effect size passes its threshold".into());
        } else if r.significant && !effect_ok && r.reason.is_none() {
            r.reason = Some("significant, but the effect size is below its threshold".into());
        }
    }
}

/// The dataset's verdict: the share of counted features that drifted against the
/// threshold, or any critical feature drifting.
fn verdict(
    features: &[FeatureResult],
    baseline: &Profile,
    current: &Profile,
    cfg: &DriftConfig,
) -> Verdict {
    let counted: Vec<&FeatureResult> = features
        .iter()
        .filter(|r| {
            !matches!(r.status, Status::Ignored | Status::Empty)
                && (r.status != Status::Missing || cfg.missing_is_drift)
        })
        .collect();
    let drifted: Vec<&FeatureResult> = counted.iter().copied().filter(|r| r.drifted).collect();
    let share = if counted.is_empty() {
        0.0
    } else {
        drifted.len() as f64 / counted.len() as f64
    };
    let critical_drifted: Vec<String> = drifted
        .iter()
        .filter(|r| r.critical)
        .map(|r| r.name.clone())
        .collect();
    let baseline_names: HashSet<&str> = baseline.features.iter().map(|f| f.name.as_str()).collect();
    Verdict {
        drift_detected: (!counted.is_empty() && share >= cfg.share_threshold)
            || !critical_drifted.is_empty(),
        drifted_features: drifted
            .iter()
            .take(MAX_VERDICT_FEATURES)
            .map(|r| drifted_feature(r))
            .collect(),
        drifted_features_truncated: drifted.len() > MAX_VERDICT_FEATURES,
        drifted_count: drifted.len(),
        features_checked: counted.len(),
        share_drifted: share,
        share_threshold: cfg.share_threshold,
        critical_drifted,
        missing_features: features
            .iter()
            .filter(|r| r.status == Status::Missing)
            .map(|r| r.name.clone())
            .collect(),
        new_features: current
            .features
            .iter()
            .filter(|f| !baseline_names.contains(f.name.as_str()))
            .map(|f| f.name.clone())
            .collect(),
        rows_baseline: baseline.rows,
        rows_current: current.rows,
        report_uri: None,
        html_report_uri: None,
    }
}

/// A drifted feature as the verdict lists it.
fn drifted_feature(r: &FeatureResult) -> DriftedFeature {
    DriftedFeature {
        name: r.name.clone(),
        test: r.test.clone(),
        statistic: r.statistic,
        pvalue: r.pvalue,
        pvalue_adjusted: r.pvalue_adjusted,
        effect_metric: r.effect.as_ref().map(|e| e.metric.clone()),
        effect_size: r.effect.as_ref().and_then(|e| e.value),
        critical: r.critical,
        status: r.status,
    }
}

#[cfg(test)]
mod tests;
