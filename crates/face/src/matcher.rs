//! Distances between descriptors and face-api.js's `FaceMatcher` (spec §9).

use crate::pipeline::Descriptor;

/// face-api.js's conventional match threshold: two descriptors closer than this (strictly) are
/// taken to be the same person.
pub const DEFAULT_MATCH_THRESHOLD: f64 = 0.6;

/// Euclidean distance, accumulated in double as face-api.js does.
pub fn euclidean_distance(a: &Descriptor, b: &Descriptor) -> f64 {
    a.0.iter()
        .zip(b.0.iter())
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum::<f64>()
        .sqrt()
}

/// A labelled set of reference descriptors, matched as face-api.js's `FaceMatcher` does: the
/// distance to a label is the mean distance to that label's descriptors, the best label is the
/// nearest, and it counts only when that mean is strictly below the threshold.
#[derive(Clone)]
pub struct FaceMatcher<L> {
    labels: Vec<(L, Vec<Descriptor>)>,
    threshold: f64,
}

/// The result of [`FaceMatcher::find_best_match`].
#[derive(Debug, Clone, PartialEq)]
pub struct BestMatch<'a, L> {
    /// The nearest label, or `None` when even it is not below the threshold ("unknown").
    pub label: Option<&'a L>,
    pub distance: f64,
}

impl<L> FaceMatcher<L> {
    /// Labels with no descriptor are ignored.
    pub fn new(labels: Vec<(L, Vec<Descriptor>)>, threshold: f64) -> Self {
        let labels = labels.into_iter().filter(|(_, d)| !d.is_empty()).collect();
        Self { labels, threshold }
    }

    /// Mean distance from `query` to each of `descriptors`.
    pub fn mean_distance(descriptors: &[Descriptor], query: &Descriptor) -> f64 {
        descriptors
            .iter()
            .map(|d| euclidean_distance(d, query))
            .sum::<f64>()
            / descriptors.len() as f64
    }

    /// The nearest label by mean distance; `label` is `None` when that distance is not below the
    /// threshold, or when there are no labels.
    pub fn find_best_match(&self, query: &Descriptor) -> BestMatch<'_, L> {
        let best = self
            .labels
            .iter()
            .map(|(label, ds)| (label, Self::mean_distance(ds, query)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((label, distance)) => BestMatch {
                label: (distance < self.threshold).then_some(label),
                distance,
            },
            None => BestMatch {
                label: None,
                distance: f64::INFINITY,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(i: usize, scale: f32) -> Descriptor {
        let mut d = [0f32; 128];
        d[i] = scale;
        Descriptor(d)
    }

    #[test]
    fn distance_is_euclidean() {
        let d = euclidean_distance(&unit(0, 3.0), &unit(1, 4.0));
        assert!((d - 5.0).abs() < 1e-12);
    }

    #[test]
    fn matcher_uses_mean_distance_and_strict_threshold() {
        let matcher = FaceMatcher::new(
            vec![
                ("a", vec![unit(0, 0.0), unit(0, 1.0)]),
                ("b", vec![unit(1, 2.0)]),
            ],
            0.5,
        );
        // Mean distance to "a" is (0.5 + 0.5)/2 = 0.5: not strictly below 0.5.
        let m = matcher.find_best_match(&unit(0, 0.5));
        assert_eq!(m.label, None);
        assert!((m.distance - 0.5).abs() < 1e-12);
        let m = matcher.find_best_match(&unit(1, 1.9));
        assert_eq!(m.label, Some(&"b"));
    }
}
