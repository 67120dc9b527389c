//! Scaling of every lab timeout by `SRBUILD_LAB_TIMEOUT_X`.
//!
//! Slow CI machines (TCG on a loaded host) can stretch all waits at once
//! by setting e.g. `SRBUILD_LAB_TIMEOUT_X=3`.

use std::sync::OnceLock;
use std::time::Duration;

/// Name of the environment variable holding the timeout multiplier.
pub const ENV: &str = "SRBUILD_LAB_TIMEOUT_X";

/// Parses a multiplier; `None` for anything that is not a finite number > 0.
pub fn parse_factor(s: &str) -> Option<f64> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Some(x),
        _ => None,
    }
}

/// The process-wide multiplier (read once; invalid values warn once and count as 1.0).
pub fn factor() -> f64 {
    static FACTOR: OnceLock<f64> = OnceLock::new();
    *FACTOR.get_or_init(|| match std::env::var(ENV) {
        Err(_) => 1.0,
        Ok(s) => parse_factor(&s).unwrap_or_else(|| {
            eprintln!("srbuild-lab: warning: {ENV}={s:?} is not a positive number; using 1.0");
            1.0
        }),
    })
}

/// `d` multiplied by [`factor`].
pub fn scaled(d: Duration) -> Duration {
    scale_by(d, factor())
}

/// `d` multiplied by `x`, saturating instead of overflowing.
pub fn scale_by(d: Duration, x: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * x).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_positive_finite_numbers() {
        assert_eq!(parse_factor("2.5"), Some(2.5));
        assert_eq!(parse_factor(" 3 "), Some(3.0));
        assert_eq!(parse_factor("0"), None);
        assert_eq!(parse_factor("-1"), None);
        assert_eq!(parse_factor("abc"), None);
        assert_eq!(parse_factor("inf"), None);
        assert_eq!(parse_factor("NaN"), None);
    }

    #[test]
    fn scales_and_saturates() {
        assert_eq!(
            scale_by(Duration::from_secs(2), 1.5),
            Duration::from_secs(3)
        );
        assert_eq!(scale_by(Duration::MAX, 10.0), Duration::MAX);
    }
}
