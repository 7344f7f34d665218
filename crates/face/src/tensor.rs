//! The activation tensor every network passes between layers: one image, NHWC, f32.

/// A batch-1 NHWC float32 tensor (`[1, h, w, c]`), stored row-major with channels innermost,
/// exactly as tfjs stores it, so index arithmetic in the kernels matches the spec's formulas.
///
/// The buffer is reused by [`Tensor::reshape_for_overwrite`] so a network can run layer after layer
/// without allocating once its buffers have grown to size.
#[derive(Clone, Default, PartialEq)]
pub struct Tensor {
    h: usize,
    w: usize,
    c: usize,
    data: Vec<f32>,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor[{}x{}x{}]", self.h, self.w, self.c)
    }
}

impl Tensor {
    /// An all-zero tensor.
    pub fn zeros(h: usize, w: usize, c: usize) -> Self {
        Self {
            h,
            w,
            c,
            data: vec![0.0; h * w * c],
        }
    }

    /// Wraps row-major HWC data; `None` when `data.len() != h * w * c`.
    pub fn from_vec(h: usize, w: usize, c: usize, data: Vec<f32>) -> Option<Self> {
        (data.len() == h * w * c).then_some(Self { h, w, c, data })
    }

    pub fn h(&self) -> usize {
        self.h
    }
    pub fn w(&self) -> usize {
        self.w
    }
    pub fn c(&self) -> usize {
        self.c
    }
    /// `(h, w, c)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.h, self.w, self.c)
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// The value at row `y`, column `x`, channel `ch` (panics when out of range, like slicing).
    pub fn at(&self, y: usize, x: usize, ch: usize) -> f32 {
        self.data[(y * self.w + x) * self.c + ch]
    }

    /// The `c` channel values of pixel (y, x).
    pub fn pixel(&self, y: usize, x: usize) -> &[f32] {
        let i = (y * self.w + x) * self.c;
        &self.data[i..i + self.c]
    }

    /// One image row (`w * c` values).
    pub fn row(&self, y: usize) -> &[f32] {
        let n = self.w * self.c;
        &self.data[y * n..(y + 1) * n]
    }

    /// Gives the tensor a new shape, keeping (and growing) its allocation. The contents are
    /// unspecified afterwards: every kernel that writes into a reshaped tensor overwrites all of it.
    pub fn reshape_for_overwrite(&mut self, h: usize, w: usize, c: usize) {
        self.h = h;
        self.w = w;
        self.c = c;
        self.data.resize(h * w * c, 0.0);
    }

    /// Largest absolute value (0 for an empty tensor); handy for tolerance checks.
    pub fn max_abs(&self) -> f32 {
        self.data.iter().fold(0.0f32, |m, v| m.max(v.abs()))
    }
}
