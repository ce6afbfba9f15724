//! Oracle tests: trainguard's statistics against scipy's numbers in `tests/fixtures/drift/`
//! (written by `scripts/oracle/gen_drift_fixtures.py` with the pinned scipy 1.17.1).
//!
//! Tolerances (documented in docs/drift-detector.md, "Checked against scipy"):
//! * KS statistics: exact equality; both sides compute `i/n1 - j/n2` with the same IEEE
//!   operations.
//! * p-values: |ours - scipy| <= 1e-12 + 1e-9 · scipy. The exact recursions and series are
//!   the same algorithms evaluated in a different order (numpy's BLAS matrix products,
//!   scipy's double-double Smirnov sum), which moves the last few bits; 1e-9 relative
//!   leaves three orders of magnitude of room above what we observe, yet catches any
//!   algorithmic slip, which shows up at 1e-3 or worse.
//! * chi-square, PSI, BH, Wasserstein: 1e-12 relative (pure arithmetic).

use serde_json::Value;

use super::correction::{adjust, Correction};
use super::ks::{self, Alternative, Method};
use super::stats;

fn fixture(name: &str) -> Vec<Value> {
    let path = crate::test_support::repo_path("tests/fixtures/drift").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        doc["scipy"], "1.17.1",
        "fixtures must come from the pinned scipy"
    );
    doc["cases"].as_array().unwrap().clone()
}

/// Floats are stored as text (Python's shortest round-trip repr, or inf/nan) and parsed
/// with Rust's correctly rounded parser, so statistics can be compared bit for bit.
fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("not a number: {s}")),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.as_f64().unwrap_or(f64::NAN),
        other => panic!("floats must be stored as strings: {other}"),
    }
}

/// The sample generator shared with the Python script: `((a i + c) mod p) / s + o`.
pub(crate) fn gen(spec: &Value) -> Vec<f64> {
    if let Some(vals) = spec.get("values") {
        return vals.as_array().unwrap().iter().map(num).collect();
    }
    let g = |k: &str| spec[k].as_u64().unwrap() as u128;
    let (a, c, p, n) = (g("a"), g("c"), g("p"), g("n"));
    let (s, o) = (num(&spec["s"]), num(&spec["o"]));
    (0..n).map(|i| ((a * i + c) % p) as f64 / s + o).collect()
}

fn close(ours: f64, want: f64, rel: f64, abs: f64) -> bool {
    if want.is_nan() {
        return ours.is_nan();
    }
    if want.is_infinite() {
        return ours == want;
    }
    (ours - want).abs() <= abs + rel * want.abs()
}

fn alt(s: &str) -> Alternative {
    match s {
        "two-sided" => Alternative::TwoSided,
        "less" => Alternative::Less,
        "greater" => Alternative::Greater,
        _ => panic!("{s}"),
    }
}

#[test]
fn ks_2samp_matches_scipy() {
    let mut failures = Vec::new();
    let cases = fixture("ks_2samp.json");
    assert!(cases.len() > 150);
    for c in &cases {
        let a = gen(&c["a"]);
        let b = gen(&c["b"]);
        let method = match c["method"].as_str().unwrap() {
            "auto" => Method::Auto,
            "exact" => Method::Exact,
            _ => Method::Asymp,
        };
        let r = ks::ks_2samp(&a, &b, alt(c["alternative"].as_str().unwrap()), method).unwrap();
        let (ws, wp) = (num(&c["statistic"]), num(&c["pvalue"]));
        if r.statistic != ws
            || !close(r.pvalue, wp, 1e-9, 1e-12)
            || i64::from(r.sign) != c["sign"].as_i64().unwrap()
        {
            failures.push(format!(
                "n1={} n2={} {} {}: ours D={} p={} sign={}, scipy D={ws} p={wp} sign={}",
                a.len(),
                b.len(),
                c["alternative"],
                c["method"],
                r.statistic,
                r.pvalue,
                r.sign,
                c["sign"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn exact_p_values_match_scipy_over_the_lattice() {
    let mut failures = Vec::new();
    let cases = fixture("ks_exact_grid.json");
    for c in &cases {
        let (n1, n2) = (c["n1"].as_u64().unwrap(), c["n2"].as_u64().unwrap());
        let d = num(&c["d"]);
        let r = ks::ks_pvalue(
            d,
            1,
            n1,
            n2,
            alt(c["alternative"].as_str().unwrap()),
            Method::Exact,
        );
        let ok = if c["success"].as_bool().unwrap() {
            r.method == Method::Exact && close(r.pvalue, num(&c["pvalue"]), 1e-9, 1e-12)
        } else {
            r.method == Method::Asymp
        };
        if !ok {
            failures.push(format!(
                "n1={n1} n2={n2} d={d} {}: ours {:?}, scipy {} {}",
                c["alternative"], r, c["success"], c["pvalue"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn kstwo_sf_matches_scipy_in_every_regime() {
    let mut failures = Vec::new();
    let cases = fixture("kstwo_sf.json");
    for c in &cases {
        let (n, x, want) = (num(&c["n"]), num(&c["x"]), num(&c["sf"]));
        let got = ks::kstwo_sf(x, n);
        if !close(got, want, 1e-9, 1e-12) {
            failures.push(format!(
                "n={n} x={x} (n x^2={}): ours {got}, scipy {want}",
                n * x * x
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn smirnov_matches_scipy() {
    let mut failures = Vec::new();
    for c in &fixture("smirnov.json") {
        let (n, x, want) = (c["n"].as_u64().unwrap(), num(&c["x"]), num(&c["sf"]));
        let got = ks::smirnov_sf(n, x);
        if !close(got, want, 1e-9, 1e-13) {
            failures.push(format!("n={n} x={x}: ours {got}, scipy {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn counts(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

#[test]
fn chisquare_matches_scipy() {
    for c in &fixture("chisquare.json") {
        let r = stats::chisquare_counts(&counts(&c["baseline"]), &counts(&c["current"]));
        let (ws, wp) = (num(&c["statistic"]), num(&c["pvalue"]));
        assert!(
            close(r.statistic, ws, 1e-12, 0.0),
            "{c}: statistic {}",
            r.statistic
        );
        assert!(close(r.pvalue, wp, 1e-9, 1e-15), "{c}: p {}", r.pvalue);
    }
}

#[test]
fn psi_matches_reference_formula() {
    for c in &fixture("psi.json") {
        let got = stats::psi(&counts(&c["baseline"]), &counts(&c["current"]));
        assert!(close(got, num(&c["psi"]), 1e-12, 1e-15), "{c}: {got}");
    }
}

#[test]
fn benjamini_hochberg_matches_false_discovery_control() {
    for c in &fixture("bh.json") {
        let ps: Vec<f64> = c["pvalues"].as_array().unwrap().iter().map(num).collect();
        let want: Vec<f64> = c["bh"].as_array().unwrap().iter().map(num).collect();
        let got = adjust(&ps, Correction::BenjaminiHochberg);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                close(*g, *w, 1e-12, 0.0),
                "{ps:?}: ours {got:?}, scipy {want:?}"
            );
        }
    }
}

#[test]
fn wasserstein_matches_scipy() {
    for c in &fixture("wasserstein.json") {
        let mut a = gen(&c["a"]);
        let mut b = gen(&c["b"]);
        a.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        let got = stats::wasserstein_sorted(&a, &b);
        assert!(
            close(got, num(&c["distance"]), 1e-10, 1e-15),
            "ours {got}, scipy {}",
            c["distance"]
        );
    }
}
