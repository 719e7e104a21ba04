//! Latency summaries: nearest-rank percentiles over every recorded sample (no histogram
//! bucketing), in milliseconds.

use std::time::Duration;

use serde::Serialize;

/// Percentiles of one set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    /// How many samples.
    pub n: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile (meaningful from about 1,000 samples).
    pub p999_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

impl Summary {
    /// p99 / p50, the tail's distance from the median (0 without samples).
    pub fn p99_over_p50(&self) -> f64 {
        if self.p50_ms > 0.0 {
            self.p99_ms / self.p50_ms
        } else {
            0.0
        }
    }
}

/// Summarises `samples` (any order).
pub fn summarize(samples: &[Duration]) -> Summary {
    if samples.is_empty() {
        return Summary::default();
    }
    let mut millis: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    millis.sort_by(f64::total_cmp);
    let at = |quantile: f64| {
        // Nearest rank: the smallest sample with at least `quantile` of the samples at or below.
        let rank = (quantile * millis.len() as f64).ceil() as usize;
        millis[rank.clamp(1, millis.len()) - 1]
    };
    Summary {
        n: millis.len(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        p999_ms: at(0.999),
        mean_ms: millis.iter().sum::<f64>() / millis.len() as f64,
        max_ms: millis[millis.len() - 1],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        let summary = summarize(&samples);
        assert_eq!(summary.n, 1000);
        assert_eq!(summary.p50_ms, 500.0);
        assert_eq!(summary.p99_ms, 990.0);
        assert_eq!(summary.p999_ms, 999.0);
        assert_eq!(summary.max_ms, 1000.0);
        assert_eq!(summary.p99_over_p50(), 990.0 / 500.0);
        assert_eq!(summarize(&[]).n, 0);
        assert_eq!(summarize(&[]).p99_over_p50(), 0.0);
    }
}
