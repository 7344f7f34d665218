//! Fully connected layer.

/// `y = x · W + b`, with `W` stored as `[in, out]` (the manifests' layout).
#[derive(Debug, Clone)]
pub struct FullyConnected {
    n_in: usize,
    n_out: usize,
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
}

impl FullyConnected {
    pub fn new(weights: &[f32], shape: [usize; 2], bias: Option<&[f32]>) -> Self {
        let [n_in, n_out] = shape;
        assert_eq!(weights.len(), n_in * n_out, "fc weights vs shape {shape:?}");
        if let Some(b) = bias {
            assert_eq!(b.len(), n_out, "fc bias length");
        }
        Self {
            n_in,
            n_out,
            weights: weights.to_vec(),
            bias: bias.map(<[f32]>::to_vec),
        }
    }

    pub fn n_in(&self) -> usize {
        self.n_in
    }
    pub fn n_out(&self) -> usize {
        self.n_out
    }

    /// Accumulates in f32 over the inputs in order, then adds the bias once.
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        assert_eq!(x.len(), self.n_in, "fc input length");
        let mut out = vec![0.0f32; self.n_out];
        for (xi, row) in x.iter().zip(self.weights.chunks_exact(self.n_out)) {
            out.iter_mut().zip(row).for_each(|(o, w)| *o += xi * w);
        }
        if let Some(b) = &self.bias {
            out.iter_mut().zip(b).for_each(|(o, b)| *o += b);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fc_is_row_vector_times_in_out_matrix() {
        // W = [[1, 2, 3], [4, 5, 6]] (in = 2, out = 3).
        let fc = FullyConnected::new(
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            [2, 3],
            Some(&[0.5, 0.0, -1.0]),
        );
        assert_eq!(fc.forward(&[1.0, 10.0]), vec![41.5, 52.0, 62.0]);
    }
}
