//! Correction for testing many features at once.
//!
//! Checking 100 features at α = 0.05 with no correction flags about five of them on
//! perfectly stable data. Bonferroni controls the family-wise error rate (the chance of any
//! false alarm); Benjamini-Hochberg controls the false discovery rate (the expected share of
//! false alarms among the features flagged) and keeps more power, which is why it is the
//! default. Adjusted p-values are compared with the configured α.

/// The multiple-testing correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Correction {
    /// Raw p-values.
    None,
    /// p · m, capped at 1.
    Bonferroni,
    /// Benjamini-Hochberg step-up adjusted p-values (`scipy.stats.false_discovery_control`).
    #[default]
    #[serde(alias = "bh", alias = "fdr")]
    BenjaminiHochberg,
}

impl std::str::FromStr for Correction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Correction::None),
            "bonferroni" => Ok(Correction::Bonferroni),
            "bh" | "fdr" | "benjamini-hochberg" => Ok(Correction::BenjaminiHochberg),
            other => Err(format!(
                "unknown correction {other:?} (none, bonferroni, bh)"
            )),
        }
    }
}

/// Adjusted p-values, in input order. NaN entries stay NaN and do not count as tests.
pub fn adjust(pvalues: &[f64], correction: Correction) -> Vec<f64> {
    let valid: Vec<usize> = (0..pvalues.len())
        .filter(|&i| !pvalues[i].is_nan())
        .collect();
    let m = valid.len() as f64;
    let mut out = pvalues.to_vec();
    match correction {
        Correction::None => {}
        Correction::Bonferroni => {
            for &i in &valid {
                out[i] = (pvalues[i] * m).min(1.0);
            }
        }
        Correction::BenjaminiHochberg => {
            let mut order = valid.clone();
            order.sort_by(|&a, &b| pvalues[a].total_cmp(&pvalues[b]));
            // p_(k) * (m / k) (scipy's order of operations), then the running minimum from the largest down.
            let mut running = f64::INFINITY;
            for (rank0, &i) in order.iter().enumerate().rev() {
                let adj = pvalues[i] * (m / (rank0 + 1) as f64);
                running = running.min(adj);
                out[i] = running.min(1.0);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bh_matches_the_textbook_example() {
        // Step-up: sorted p (0.01, 0.02, 0.03, 0.5), m = 4 -> 0.04, 0.04, 0.04, 0.5.
        let adj = adjust(&[0.03, 0.5, 0.01, 0.02], Correction::BenjaminiHochberg);
        let want = [0.04, 0.5, 0.04, 0.04];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-15, "{adj:?}");
        }
    }

    #[test]
    fn bonferroni_caps_at_one_and_nan_is_skipped() {
        let adj = adjust(&[0.2, f64::NAN, 0.01], Correction::Bonferroni);
        assert_eq!(adj[0], 0.4);
        assert!(adj[1].is_nan());
        assert_eq!(adj[2], 0.02);
        assert_eq!(adjust(&[0.6, 0.7], Correction::Bonferroni), vec![1.0, 1.0]);
    }

    #[test]
    fn parse_names() {
        assert_eq!(
            "BH".parse::<Correction>().unwrap(),
            Correction::BenjaminiHochberg
        );
        assert!("holm".parse::<Correction>().is_err());
    }
}
