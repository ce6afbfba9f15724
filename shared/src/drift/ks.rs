//! The two-sample Kolmogorov-Smirnov test, computed the way `scipy.stats.ks_2samp`
//! (scipy 1.17) computes it, so that a statistic and p-value printed by trainguard can be
//! checked against the tool every data scientist already trusts.
//!
//! * Statistic: the two empirical CDFs, right-continuous, compared at every point of the
//!   pooled sample (this is what makes ties between the samples come out right).
//! * `method = Auto`: the exact null distribution when both samples have at most 10,000
//!   values, the asymptotic one above; `Exact` falls back to asymptotic when the lattice
//!   is too large or the computation overflows, exactly where scipy does.
//! * Exact two-sided, equal sizes: the alternating binomial series of the square-lattice
//!   reflection argument, evaluated Horner-style; unequal sizes: Hodges' "inside" lattice
//!   count with Viehmann's (arXiv:2102.08037) recursion for the complement, which never
//!   forms a large binomial coefficient. Exact one-sided: a product for equal sizes,
//!   Hodges' count of boundary-crossing paths otherwise.
//! * Asymptotic two-sided: the one-sample Kolmogorov distribution `K_n` at
//!   `n = round(n1 n2 / (n1 + n2))` (Simard & L'Ecuyer's choice of algorithm by `n` and
//!   `n x²`: Ruben-Gambino end regions, Durbin's matrix, Pomeranz, Pelz-Good and the
//!   one-sided Smirnov sum); one-sided: Hodges' corrected exponential.
//!
//! The code is written from the papers and scipy's documentation; the oracle tests in
//! `tests/fixtures/drift/` hold scipy's own numbers for the same inputs.

use std::cmp::Ordering;

/// The alternative hypothesis, named as in scipy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Alternative {
    /// The two distributions differ.
    TwoSided,
    /// The CDF of the first sample lies below the second's somewhere (statistic D-).
    Less,
    /// The CDF of the first sample lies above the second's somewhere (statistic D+).
    Greater,
}

/// How the p-value is computed, named as in scipy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Exact when both samples have at most [`MAX_AUTO_N`] values, else asymptotic.
    Auto,
    /// The exact null distribution (falls back to asymptotic when infeasible).
    Exact,
    /// The asymptotic distribution.
    Asymp,
}

/// `Auto` uses the exact distribution up to this many values per sample (scipy's switch).
pub const MAX_AUTO_N: u64 = 10_000;

/// The outcome of a two-sample KS test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct KsResult {
    /// D, D+ or D- (for `Exact`, snapped to the lattice `h / lcm(n1, n2)` as scipy does).
    pub statistic: f64,
    /// The p-value, in [0, 1].
    pub pvalue: f64,
    /// The method actually used (`Exact` or `Asymp`).
    pub method: Method,
    /// +1 when the first sample's ECDF is above the second's at the statistic, else -1.
    pub sign: i8,
}

/// The raw statistics of two ECDFs: the largest positive and negative differences.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extremes {
    /// max over pooled points of F1 - F2 (>= 0 because both reach 1).
    pub max_s: f64,
    /// max over pooled points of F2 - F1, clipped to [0, 1].
    pub min_s: f64,
    /// A pooled value where `max_s` is reached (scipy's `statistic_location`), if known.
    pub loc_max: Option<f64>,
    /// A pooled value where `min_s` is reached, if known.
    pub loc_min: Option<f64>,
}

/// KS statistics of two **sorted**, NaN-free samples.
///
/// Walks both arrays once; at every distinct pooled value the right-continuous ECDFs are
/// `i / n1` and `j / n2` with the same float operations as scipy, so D is bitwise equal.
/// Locations follow numpy's `argmax` over `concat(sorted1, sorted2)`: the smallest value of
/// the first sample reaching the extreme, else the smallest of the second.
pub fn extremes_sorted(a: &[f64], b: &[f64]) -> Extremes {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    // (value, in a?) best locations for each extreme, tracked per sample.
    let mut max_d = f64::NEG_INFINITY;
    let mut min_d = f64::INFINITY;
    let (mut max_loc_a, mut max_loc_b): (Option<f64>, Option<f64>) = (None, None);
    let (mut min_loc_a, mut min_loc_b): (Option<f64>, Option<f64>) = (None, None);
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => {
                if x.partial_cmp(&y) == Some(Ordering::Greater) {
                    y
                } else {
                    x
                }
            }
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        let (i0, j0) = (i, j);
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        let in_a = i > i0;
        let in_b = j > j0;
        let diff = i as f64 / n1 - j as f64 / n2;
        if diff > max_d {
            max_d = diff;
            max_loc_a = in_a.then_some(v);
            max_loc_b = in_b.then_some(v);
        } else if diff == max_d {
            if max_loc_a.is_none() && in_a {
                max_loc_a = Some(v);
            }
            if max_loc_b.is_none() && in_b {
                max_loc_b = Some(v);
            }
        }
        if diff < min_d {
            min_d = diff;
            min_loc_a = in_a.then_some(v);
            min_loc_b = in_b.then_some(v);
        } else if diff == min_d {
            if min_loc_a.is_none() && in_a {
                min_loc_a = Some(v);
            }
            if min_loc_b.is_none() && in_b {
                min_loc_b = Some(v);
            }
        }
        if i0 == i && j0 == j {
            // Unreachable for NaN-free input; guards against an endless loop.
            break;
        }
    }
    Extremes {
        max_s: if max_d.is_finite() { max_d } else { 0.0 },
        min_s: if min_d.is_finite() {
            (-min_d).clamp(0.0, 1.0)
        } else {
            0.0
        },
        loc_max: max_loc_a.or(max_loc_b),
        loc_min: min_loc_a.or(min_loc_b),
    }
}

/// Pick the statistic for an alternative from the two extremes (scipy's rule: two-sided
/// takes D- only when it is strictly larger).
pub fn select_statistic(e: &Extremes, alternative: Alternative) -> (f64, i8, Option<f64>) {
    if alternative == Alternative::Less
        || (alternative == Alternative::TwoSided && e.min_s > e.max_s)
    {
        (e.min_s, -1, e.loc_min)
    } else {
        (e.max_s, 1, e.loc_max)
    }
}

/// Errors of the KS computation (only degenerate input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KsError {
    /// One of the samples had no values.
    #[error("a KS sample is empty")]
    EmptySample,
    /// A sample contained NaN.
    #[error("a KS sample contains NaN")]
    NaN,
}

/// `scipy.stats.ks_2samp(a, b, alternative, method)` for unsorted samples.
pub fn ks_2samp(
    a: &[f64],
    b: &[f64],
    alternative: Alternative,
    method: Method,
) -> Result<KsResult, KsError> {
    if a.iter().chain(b).any(|v| v.is_nan()) {
        return Err(KsError::NaN);
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable_by(f64::total_cmp);
    b.sort_unstable_by(f64::total_cmp);
    ks_2samp_sorted(&a, &b, alternative, method)
}

/// [`ks_2samp`] for samples already sorted ascending (and NaN-free).
pub fn ks_2samp_sorted(
    a: &[f64],
    b: &[f64],
    alternative: Alternative,
    method: Method,
) -> Result<KsResult, KsError> {
    if a.is_empty() || b.is_empty() {
        return Err(KsError::EmptySample);
    }
    let e = extremes_sorted(a, b);
    let (d, sign, _) = select_statistic(&e, alternative);
    Ok(ks_pvalue(
        d,
        sign,
        a.len() as u64,
        b.len() as u64,
        alternative,
        method,
    ))
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The p-value of statistic `d` for samples of sizes `n1`, `n2` (both > 0), with scipy's
/// choice between the exact and the asymptotic distribution.
pub fn ks_pvalue(
    d: f64,
    sign: i8,
    n1: u64,
    n2: u64,
    alternative: Alternative,
    method: Method,
) -> KsResult {
    let g = gcd(n1, n2);
    let (n1g, n2g) = (n1 / g, n2 / g);
    let mut mode = match method {
        Method::Auto => {
            if n1.max(n2) <= MAX_AUTO_N {
                Method::Exact
            } else {
                Method::Asymp
            }
        }
        Method::Exact => {
            if n1g as f64 >= i32::MAX as f64 / n2g as f64 {
                Method::Asymp
            } else {
                Method::Exact
            }
        }
        Method::Asymp => Method::Asymp,
    };
    let mut d = d;
    let mut prob = f64::NAN;
    if mode == Method::Exact {
        let (ok, snapped, p) = attempt_exact(n1, n2, g, d, alternative);
        d = snapped;
        prob = p;
        if !ok {
            mode = Method::Asymp;
        }
    }
    if mode == Method::Asymp {
        let (m, n) = if n1 >= n2 {
            (n1 as f64, n2 as f64)
        } else {
            (n2 as f64, n1 as f64)
        };
        let en = m * n / (m + n);
        prob = match alternative {
            Alternative::TwoSided => kstwo_sf(d, en.round_ties_even()),
            _ => {
                let z = en.sqrt() * d;
                let expt = -2.0 * z * z - 2.0 * z * (m + 2.0 * n) / (m * n * (m + n)).sqrt() / 3.0;
                expt.exp()
            }
        };
    }
    KsResult {
        statistic: d,
        pvalue: prob.clamp(0.0, 1.0),
        method: mode,
        sign,
    }
}

/// Returns (success, snapped d, p).
fn attempt_exact(n1: u64, n2: u64, g: u64, d: f64, alternative: Alternative) -> (bool, f64, f64) {
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let d = h as f64 / lcm as f64;
    if h == 0 {
        return (true, d, 1.0);
    }
    let prob = match alternative {
        Alternative::TwoSided => {
            if n1 == n2 {
                prob_outside_square(n1, h)
            } else {
                outer_prob_inside_method(n1, n2, g, h)
            }
        }
        _ => {
            if n1 == n2 {
                let n = n1 as f64;
                let mut p = 1.0;
                for j in 0..h {
                    let j = j as f64;
                    p *= (n - j) / (n + j + 1.0);
                }
                p
            } else {
                let paths = count_paths_outside(n1, n2, g, h);
                let all = binom(n1 as f64 + n2 as f64, n1 as f64);
                if !paths.is_finite() || !all.is_finite() || paths > all {
                    return (false, d, f64::NAN);
                }
                paths / all
            }
        }
    };
    if !prob.is_finite() || !(0.0..=1.0).contains(&prob) {
        return (false, d, prob);
    }
    (true, d, prob)
}

/// P(D_{n,n} >= h/n): 2 Σ_k (-1)^(k+1) C(2n, n - k h) / C(2n, n), each ratio formed as a
/// product of h factors and nested Horner-style so no term cancels catastrophically.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let mut p = 0.0;
    let mut k = (n / h) as i64;
    let (nf, hf) = (n as f64, h as f64);
    while k >= 0 {
        let kf = k as f64;
        let mut p1 = 1.0;
        for j in 0..h {
            let j = j as f64;
            p1 = (nf - kf * hf - j) * p1 / (nf + kf * hf + j + 1.0);
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// 1 - P(path stays strictly inside |x/m - y/n| < h/lcm), by Viehmann's recursion on the
/// complement, column by column over a sliding window of the lattice.
fn outer_prob_inside_method(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as i64, (n / g) as i64);
    let (n, h) = (n as i64, h as i64);
    let ceil_div = |a: i64, b: i64| -> i64 { (a as f64 / b as f64).ceil() as i64 };
    let floor_div = |a: i64, b: i64| -> i64 { (a as f64 / b as f64).floor() as i64 };
    let mut minj: i64 = 0;
    let mut maxj: i64 = ceil_div(h, mg).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a.max(1)];
    for v in a.iter_mut().take(maxj as usize) {
        *v = 0.0;
    }
    for i in 1..=(m as i64) {
        let (lastminj, lastlen) = (minj, curlen);
        minj = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        let fi = i as f64;
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            let src = (jj + minj - lastminj) as usize;
            let prev = a.get(src).copied().unwrap_or(1.0);
            val = (prev * fi + val * j as f64) / (fi + j as f64);
            if let Some(slot) = a.get_mut(jj as usize) {
                *slot = val;
            }
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = (maxj - minj) as usize;
            let end = (start + (lastlen - curlen) as usize).min(a.len());
            for v in a.iter_mut().take(end).skip(start) {
                *v = 1.0;
            }
        }
    }
    a.get((maxj - minj - 1).max(0) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// Binomial coefficient as scipy.special.binom evaluates it for integer arguments: an
/// exact-ish product for small k, a log-gamma ratio otherwise (inf when it overflows).
fn binom(n: f64, k: f64) -> f64 {
    let k = if k > n / 2.0 && n > 0.0 { n - k } else { k };
    if k < 0.0 {
        return 0.0;
    }
    if k < 20.0 {
        let (mut num, mut den) = (1.0f64, 1.0f64);
        let kk = k as i64;
        for i in 1..=kk {
            num *= i as f64 + n - k;
            den *= i as f64;
            if num.abs() > 1e50 {
                num /= den;
                den = 1.0;
            }
        }
        return num / den;
    }
    use statrs::function::gamma::ln_gamma;
    (ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)).exp()
}

/// Number of lattice paths from (0,0) to (m,n) that touch `m y <= n x - h g` (Hodges'
/// first-passage decomposition). May overflow to inf: the caller checks.
fn count_paths_outside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = (m / g, n / g);
    // Number of boundary rows to consider: n + (mg - h) // mg with Python floor division.
    let lxj = n as i64 + (mg as i64 - h as i64).div_euclid(mg as i64);
    if lxj <= 0 {
        return binom((m + n) as f64, n as f64);
    }
    let lxj = lxj as usize;
    let xj: Vec<u64> = (0..lxj as u64).map(|j| (h + mg * j).div_ceil(ng)).collect();
    let mut b = vec![0.0f64; lxj];
    b[0] = 1.0;
    for j in 1..lxj {
        let mut bj = binom((xj[j] + j as u64) as f64, j as f64);
        for i in 0..j {
            let c = binom((xj[j] - xj[i] + (j - i) as u64) as f64, (j - i) as f64);
            bj -= c * b[i];
        }
        b[j] = bj;
    }
    let mut total = 0.0;
    for (j, bj) in b.iter().enumerate() {
        let ext = binom(((m - xj[j]) + (n - j as u64)) as f64, (n - j as u64) as f64);
        total += bj * ext;
    }
    total
}

// ---------------------------------------------------------------------------------------
// The one-sample Kolmogorov distribution K_n (scipy.stats.kstwo), survival function.
// ---------------------------------------------------------------------------------------

const E128: i32 = 128;
const EP128: f64 = 3.402_823_669_209_385e38; // 2^128
const EM128: f64 = 2.938_735_877_055_719e-39; // 2^-128
const MIN_LOG: f64 = -708.0;

fn ldexp(x: f64, e: i32) -> f64 {
    // Scale in steps that stay within the exponent range of f64.
    let mut x = x;
    let mut e = e;
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e)
}

/// `scipy.stats.kstwo.sf(x, n)`: P(D_n >= x) for the one-sample two-sided statistic.
pub fn kstwo_sf(x: f64, n: f64) -> f64 {
    if n.is_nan() || x.is_nan() {
        return f64::NAN;
    }
    if n.fract() != 0.0 || n <= 0.0 {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let ni = n as u64;
    let t = n * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if ni <= 140 {
            let mut p = 1.0;
            for i in 1..=ni {
                p *= i as f64 * (1.0 / n) * (2.0 * t - 1.0);
            }
            p
        } else {
            (log_nfactorial_div_n_pow_n(n) + n * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - cdf);
    }
    if t >= n - 1.0 {
        return clip(2.0 * (1.0 - x).powf(n));
    }
    if x >= 0.5 {
        return clip(2.0 * smirnov_sf(ni, x));
    }
    let nxsq = t * x;
    if ni <= 140 {
        if nxsq <= 0.754693 {
            return clip(1.0 - kolmogn_dmtw_cdf(ni, x));
        }
        if nxsq <= 4.0 {
            return clip(1.0 - kolmogn_pomeranz_cdf(ni, x));
        }
        return clip(2.0 * smirnov_sf(ni, x));
    }
    if nxsq >= 370.0 {
        return 0.0;
    }
    if nxsq >= 2.2 {
        return clip(2.0 * smirnov_sf(ni, x));
    }
    let cdf = if nxsq >= 18.0 {
        1.0
    } else if ni <= 100_000 && n * x.powf(1.5) <= 1.4 {
        kolmogn_dmtw_cdf(ni, x)
    } else {
        kolmogn_pelz_good_cdf(n, x)
    };
    clip(1.0 - clip(cdf))
}

fn clip(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// log(n! / n^n) by Stirling's series.
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    const C: [f64; 8] = [
        -2.955_065_359_477_124_2e-2,
        6.410_256_410_256_41e-3,
        -1.917_526_917_526_917_5e-3,
        8.417_508_417_508_417e-4,
        -5.952_380_952_380_953e-4,
        7.936_507_936_507_937e-4,
        -2.777_777_777_777_778e-3,
        8.333_333_333_333_333e-2,
    ];
    let rn = 1.0 / n;
    let y = rn / n;
    let poly = C.iter().fold(0.0, |acc, c| acc * y + c);
    n.ln() / 2.0 - n + (2.0 * std::f64::consts::PI).ln() / 2.0 + rn * poly
}

/// Durbin's matrix method (Marsaglia-Tsang-Wang): P(D_n < x) as the (k,k) entry of H^n,
/// with explicit exponent bookkeeping so the powers neither overflow nor underflow.
fn kolmogn_dmtw_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut v = vec![0.0; m];
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] = (1.0 - h.powi(j as i32)) * fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    let mut hm = vec![0.0; m * m];
    for i in 1..m {
        for r in (i - 1)..m {
            hm[r * m + i] = w[r + 1 - i];
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }
    let mut pw = vec![0.0; m * m];
    for i in 0..m {
        pw[i * m + i] = 1.0;
    }
    let matmul = |a: &[f64], b: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; m * m];
        for i in 0..m {
            for l in 0..m {
                let ail = a[i * m + l];
                if ail == 0.0 {
                    continue;
                }
                for j in 0..m {
                    out[i * m + j] += ail * b[l * m + j];
                }
            }
        }
        out
    };
    let mut nn = n;
    let mut expnt: i32 = 0;
    let mut hexpnt: i32 = 0;
    while nn > 0 {
        if nn % 2 == 1 {
            pw = matmul(&pw, &hm);
            expnt += hexpnt;
        }
        hm = matmul(&hm, &hm);
        hexpnt *= 2;
        if hm[(k - 1) * m + (k - 1)].abs() > EP128 {
            for v in hm.iter_mut() {
                *v /= EP128;
            }
            hexpnt += E128;
        }
        nn /= 2;
    }
    let mut p = pw[(k - 1) * m + (k - 1)];
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < EM128 {
            p *= EP128;
            expnt -= E128;
        }
    }
    if expnt != 0 {
        p = ldexp(p, expnt);
    }
    clip(p)
}

/// Row bounds of Pomeranz's recursion.
fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let (d2, m2) = ((i + 1) / 2, (i + 1) % 2);
        if m2 == 0 {
            if d2 == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (d2 - 1 - ll - roundf - 1, d2 + ll - 1 + ceilf - 1)
            }
        } else {
            (d2 - 1 - ll - 1, d2 + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// Pomeranz (1974): P(D_n <= x) by convolving rows with truncated Poisson weights.
fn kolmogn_pomeranz_cdf(n: u64, x: f64) -> f64 {
    let ni = n as i64;
    let nf = n as f64;
    let t = nf * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;
    let mut gp = vec![0.0; npwrs];
    let mut g2p = vec![0.0; npwrs];
    let mut g12p = vec![0.0; npwrs];
    gp[0] = 1.0;
    g2p[0] = 1.0;
    g12p[0] = 1.0;
    let (a, b, c) = (g / nf, 2.0 * g / nf, (1.0 - 2.0 * g) / nf);
    for k in 1..npwrs {
        gp[k] = gp[k - 1] * a / k as f64;
        g2p[k] = g2p[k - 1] * b / k as f64;
        g12p[k] = g12p[k - 1] * c / k as f64;
    }
    let mut v0 = vec![0.0; npwrs];
    let mut v1 = vec![0.0; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s) = (0i64, 0i64);
    let mut expnt: i32 = 0;
    let (mut j1, _) = pomeranz_j1j2(0, ni, ll, ceilf, roundf);
    for i in 1..(2 * ni + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        v1.iter_mut().for_each(|v| *v = 0.0);
        let (nj1, nj2) = pomeranz_j1j2(i, ni, ll, ceilf, roundf);
        j1 = nj1;
        let j2 = nj2;
        let pw = if i == 1 || i == 2 * ni + 1 {
            &gp
        } else if i % 2 == 1 {
            &g2p
        } else {
            &g12p
        };
        let ln2 = j2 - k1 + 1;
        if ln2 > 0 {
            let ln2 = ln2 as usize;
            let off = (k1 - v0s) as usize;
            let src: Vec<f64> = (0..ln2)
                .map(|q| v0.get(off + q).copied().unwrap_or(0.0))
                .collect();
            let conv_start = (j1 - k1) as usize;
            let conv_len = (j2 - j1 + 1).max(0) as usize;
            for (q, slot) in v1.iter_mut().enumerate().take(conv_len) {
                // conv[p] = Σ_r src[r] * pw[p - r], p = conv_start + q
                let p = conv_start + q;
                let mut s = 0.0;
                for (r, sv) in src.iter().enumerate().take(p + 1) {
                    if let Some(w) = pw.get(p - r) {
                        if p - r < ln2 {
                            s += sv * w;
                        }
                    }
                }
                *slot = s;
            }
            let mx = v1.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < mx && mx < EM128 {
                v1.iter_mut().for_each(|v| *v *= EP128);
                expnt -= E128;
            }
            v1s = v0s + j1 - k1;
        }
    }
    let mut ans = v1.get((ni - v1s).max(0) as usize).copied().unwrap_or(0.0);
    for k in 1..=n {
        if ans.abs() > EP128 {
            ans *= EM128;
            expnt += E128;
        }
        ans *= k as f64;
    }
    if expnt != 0 {
        ans = ldexp(ans, expnt);
    }
    clip(ans)
}

/// Pelz-Good (1976) asymptotic series for P(D_n <= x).
fn kolmogn_pelz_good_cdf(n: f64, x: f64) -> f64 {
    use std::f64::consts::PI;
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let z = n.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -PI * PI / 8.0 / z2;
    if qlog < MIN_LOG {
        return 0.0;
    }
    let q = qlog.exp();
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut kk = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for k in (1..=maxk).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qp = q.powf(8.0 * k as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (acc, c) in kk.iter_mut().zip(coeffs) {
            *acc = *acc * qp + c;
        }
    }
    let sqrt2pi = (2.0 * PI).sqrt();
    let den = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (acc, dd) in kk.iter_mut().zip(den) {
        *acc = *acc * q * sqrt2pi / dd;
    }
    let q2 = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let mut k2extra = 0.0;
    let mut k3extra = 0.0;
    for k in (1..=maxk).rev() {
        let kf = k as f64;
        let ksq = kf * kf;
        let qp = q2.powf(ksq);
        k2extra += ksq * qp;
        let kspi = PI * kf;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp;
    }
    kk[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z3);
    kk[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
    for (i, acc) in kk.iter_mut().enumerate() {
        *acc /= n.powf(i as f64 / 2.0);
    }
    kk.iter().sum()
}

/// `scipy.special.smirnov(n, x)`: P(D_n^+ >= x), the one-sided one-sample statistic, by
/// the Birnbaum-Tingey sum (all terms positive, so no cancellation), with the binomial
/// built up incrementally in log space.
pub fn smirnov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let nx = nf * x;
    let nxfl = nx.floor();
    let alpha_zero = nx == nxfl;
    if nxfl == 0.0 || (nxfl == 1.0 && alpha_zero) {
        let cdf = x * (1.0 + x).powf(nf - 1.0);
        return clip(1.0 - cdf);
    }
    if -2.0 * nf * x * x < -708.3964185322641 {
        return 0.0;
    }
    if nxfl >= nf - 1.0 {
        return clip((1.0 - x).powf(nf));
    }
    if n > 1_000_000 {
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return clip(logp.exp());
    }
    // Lower sum: sf = x Σ_{j=0}^{J} C(n,j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1),
    // J = floor(n(1-x)), the last term dropped when it is zero.
    let last = (nf * (1.0 - x)).floor() as u64;
    let mut sum = 0.0f64;
    let mut ln_c = 0.0f64; // ln C(n, j)
    let terms = last + 1;
    for j in 0..terms {
        if j > 0 {
            ln_c += ((nf - (j - 1) as f64) / j as f64).ln();
        }
        let jf = j as f64;
        let a = (nf - jf) / nf - x; // 1 - x - j/n
        if a <= 0.0 {
            continue;
        }
        let b = jf / nf + x; // x + j/n
        let ln_t = ln_c + (nf - jf) * a.ln() + (jf - 1.0) * b.ln();
        let term = ln_t.exp();
        sum += term;
        if term != 0.0 && 4.0 * (terms - j) as f64 * term < f64::EPSILON * sum && j + 1 != terms {
            break;
        }
        if term == 0.0 && j > n / 2 {
            break;
        }
    }
    clip(x * sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_have_zero_statistic_and_p_one() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let r = ks_2samp(&a, &a, Alternative::TwoSided, Method::Auto).unwrap();
        assert_eq!(r.statistic, 0.0);
        assert_eq!(r.pvalue, 1.0);
        assert_eq!(r.method, Method::Exact);
    }

    #[test]
    fn disjoint_samples_have_statistic_one() {
        let r = ks_2samp(
            &[1.0, 2.0, 3.0],
            &[10.0, 11.0],
            Alternative::TwoSided,
            Method::Auto,
        )
        .unwrap();
        assert_eq!(r.statistic, 1.0);
        // Exact: 2 of the C(5, 2) = 10 orderings separate the samples completely.
        assert!((r.pvalue - 0.2).abs() < 1e-12, "{}", r.pvalue);
        assert_eq!(r.sign, 1);
    }

    #[test]
    fn empty_and_nan_are_errors() {
        assert_eq!(
            ks_2samp(&[], &[1.0], Alternative::TwoSided, Method::Auto),
            Err(KsError::EmptySample)
        );
        assert_eq!(
            ks_2samp(&[f64::NAN], &[1.0], Alternative::TwoSided, Method::Auto),
            Err(KsError::NaN)
        );
    }

    #[test]
    fn kstwo_sf_is_monotone_and_bounded() {
        for n in [1.0, 5.0, 50.0, 141.0, 1000.0, 20000.0] {
            let mut last = 1.0;
            for i in 1..100 {
                let x = i as f64 / 100.0;
                let p = kstwo_sf(x, n);
                assert!((0.0..=1.0).contains(&p), "n={n} x={x} p={p}");
                assert!(p <= last + 1e-12, "n={n} x={x}: {p} > {last}");
                last = p;
            }
        }
    }
}
