//! Categorical tests and effect sizes: chi-square (as `scipy.stats.chisquare`), the
//! population stability index (Evidently's formula) and the 1-D Wasserstein distance (as
//! `scipy.stats.wasserstein_distance`).

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Result of a chi-square goodness-of-fit test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquare {
    /// Σ (observed - expected)² / expected; +inf when a category with observations has
    /// zero expected count (scipy's result for that case).
    pub statistic: f64,
    /// Upper tail of χ²(k - 1); 0 when the statistic is infinite.
    pub pvalue: f64,
    /// Degrees of freedom used (k - 1).
    pub dof: usize,
}

/// `scipy.stats.chisquare(f_obs, f_exp)` with `ddof = 0`.
///
/// Cells where both counts are zero carry no information and would make scipy's statistic
/// NaN (0/0); they are dropped before counting degrees of freedom. A cell with observations
/// and zero expectation gives an infinite statistic and p = 0, as in scipy: the caller
/// reports such categories by name.
pub fn chisquare(observed: &[f64], expected: &[f64]) -> ChiSquare {
    let mut stat = 0.0;
    let mut k = 0usize;
    for (&o, &e) in observed.iter().zip(expected) {
        if o == 0.0 && e == 0.0 {
            continue;
        }
        k += 1;
        let d = o - e;
        stat += d * d / e;
    }
    let dof = k.saturating_sub(1);
    let pvalue = if stat.is_infinite() {
        0.0
    } else if dof == 0 {
        // One category: χ²(0) is a point mass at 0 (scipy returns NaN); no evidence either way.
        1.0
    } else {
        match ChiSquared::new(dof as f64) {
            Ok(d) => d.sf(stat),
            Err(_) => f64::NAN,
        }
    };
    ChiSquare {
        statistic: stat,
        pvalue,
        dof,
    }
}

/// The chi-square test of current category counts against baseline frequencies, the way
/// Evidently sets it up: expected = baseline counts scaled to the current total.
pub fn chisquare_counts(baseline: &[u64], current: &[u64]) -> ChiSquare {
    let nb: u64 = baseline.iter().sum();
    let nc: u64 = current.iter().sum();
    if nb == 0 || nc == 0 {
        return ChiSquare {
            statistic: f64::NAN,
            pvalue: f64::NAN,
            dof: 0,
        };
    }
    let scale = nc as f64 / nb as f64;
    let exp: Vec<f64> = baseline.iter().map(|&b| b as f64 * scale).collect();
    let obs: Vec<f64> = current.iter().map(|&c| c as f64).collect();
    chisquare(&obs, &exp)
}

/// Proportions below this are replaced by it before taking logs (Evidently's choice).
pub const PSI_EPSILON: f64 = 0.0001;

/// Population stability index: Σ (b% - c%) ln(b% / c%) over the cells, empty cells set to
/// [`PSI_EPSILON`].
pub fn psi(baseline: &[u64], current: &[u64]) -> f64 {
    let nb: u64 = baseline.iter().sum();
    let nc: u64 = current.iter().sum();
    if nb == 0 || nc == 0 {
        return f64::NAN;
    }
    baseline
        .iter()
        .zip(current)
        .map(|(&b, &c)| {
            let mut pb = b as f64 / nb as f64;
            let mut pc = c as f64 / nc as f64;
            if pb == 0.0 {
                pb = PSI_EPSILON;
            }
            if pc == 0.0 {
                pc = PSI_EPSILON;
            }
            (pb - pc) * (pb / pc).ln()
        })
        .sum()
}

/// `scipy.stats.wasserstein_distance(u, v)` for two **sorted**, non-empty samples:
/// ∫ |F_u - F_v| dx between the empirical CDFs.
pub fn wasserstein_sorted(u: &[f64], v: &[f64]) -> f64 {
    if u.is_empty() || v.is_empty() {
        return f64::NAN;
    }
    let (nu, nv) = (u.len() as f64, v.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut total = 0.0;
    let mut prev: Option<f64> = None;
    loop {
        let next = match (u.get(i), v.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        if let Some(p) = prev {
            let fu = i as f64 / nu;
            let fv = j as f64 / nv;
            total += (fu - fv).abs() * (next - p);
        }
        while i < u.len() && u[i] <= next {
            i += 1;
        }
        while j < v.len() && v[j] <= next {
            j += 1;
        }
        prev = Some(next);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chisquare_of_matching_counts_is_zero() {
        let c = chisquare_counts(&[10, 20, 30], &[1, 2, 3]);
        assert!(c.statistic.abs() < 1e-12);
        assert!((c.pvalue - 1.0).abs() < 1e-12);
        assert_eq!(c.dof, 2);
    }

    #[test]
    fn new_category_gives_infinite_statistic() {
        let c = chisquare_counts(&[10, 20, 0], &[10, 20, 5]);
        assert!(c.statistic.is_infinite());
        assert_eq!(c.pvalue, 0.0);
    }

    #[test]
    fn psi_is_zero_for_equal_proportions_and_positive_otherwise() {
        assert!(psi(&[1, 2, 3], &[10, 20, 30]).abs() < 1e-15);
        assert!(psi(&[1, 2, 3], &[3, 2, 1]) > 0.1);
    }

    #[test]
    fn wasserstein_of_shift_is_the_shift() {
        let u = [0.0, 1.0, 2.0, 3.0];
        let v = [0.5, 1.5, 2.5, 3.5];
        assert!((wasserstein_sorted(&u, &v) - 0.5).abs() < 1e-12);
        assert_eq!(wasserstein_sorted(&u, &u), 0.0);
    }
}
