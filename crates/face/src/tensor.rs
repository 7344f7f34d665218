//! The activation tensor every network passes between layers: one image, NHWC, f32.

/// A batch-1 NHWC float32 tensor (`[1, h, w, c]`), stored row-major with channels innermost,
/// exactly as tfjs stores it, so index arithmetic in the kernels matches the spec's formulas.
///
/// The buffer is reused by [`Tensor::reshape_for_overwrite`] so a network can run layer after layer
/// without allocating once its buffers have grown to size.
#[derive(Clone, Default)]
pub struct Tensor {
    h: usize,
    w: usize,
    c: usize,
    /// At least `h * w * c` values; only that prefix is the tensor. The rest is capacity kept
    /// from earlier, larger shapes so that reshaping back up needs no zero-filling.
    data: Vec<f32>,
}

impl PartialEq for Tensor {
    fn eq(&self, other: &Self) -> bool {
        self.shape() == other.shape() && self.data() == other.data()
    }
}

thread_local! {
    /// Spare tensors of this thread, reused across layers and calls (see [`Tensor::take`]).
    static SPARE: std::cell::RefCell<Vec<Tensor>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// At most this many spare tensors are kept per thread.
const MAX_SPARE: usize = 8;

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
        self.h * self.w * self.c
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn data(&self) -> &[f32] {
        &self.data[..self.len()]
    }
    pub fn data_mut(&mut self) -> &mut [f32] {
        let n = self.len();
        &mut self.data[..n]
    }
    pub fn into_vec(mut self) -> Vec<f32> {
        self.data.truncate(self.len());
        self.data
    }

    /// A tensor from this thread's spares (empty shape, possibly with a large allocation), for
    /// intermediate results; hand it back with [`Tensor::recycle`]. Spares are taken out rather
    /// than borrowed, so nested use (a rayon worker running another job while it waits) is safe.
    pub fn take() -> Tensor {
        SPARE.with(|s| s.borrow_mut().pop()).unwrap_or_default()
    }

    /// Returns a tensor to this thread's spares.
    pub fn recycle(self) {
        SPARE.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < MAX_SPARE {
                s.push(self);
            }
        });
    }

    /// The value at row `y`, column `x`, channel `ch` (panics when out of range, like slicing).
    pub fn at(&self, y: usize, x: usize, ch: usize) -> f32 {
        self.data()[(y * self.w + x) * self.c + ch]
    }

    /// The `c` channel values of pixel (y, x).
    pub fn pixel(&self, y: usize, x: usize) -> &[f32] {
        let i = (y * self.w + x) * self.c;
        &self.data()[i..i + self.c]
    }

    /// One image row (`w * c` values).
    pub fn row(&self, y: usize) -> &[f32] {
        let n = self.w * self.c;
        &self.data()[y * n..(y + 1) * n]
    }

    /// Gives the tensor a new shape, keeping (and growing) its allocation. The contents are
    /// unspecified afterwards: every kernel that writes into a reshaped tensor overwrites all of it.
    pub fn reshape_for_overwrite(&mut self, h: usize, w: usize, c: usize) {
        self.h = h;
        self.w = w;
        self.c = c;
        if self.data.len() < h * w * c {
            self.data.resize(h * w * c, 0.0);
        }
    }

    /// Like [`Tensor::reshape_for_overwrite`], then sets every value to zero.
    pub fn reshape_zeroed(&mut self, h: usize, w: usize, c: usize) {
        self.reshape_for_overwrite(h, w, c);
        self.data_mut().fill(0.0);
    }

    /// Copies `other` into this tensor, reusing its allocation.
    pub fn copy_from(&mut self, other: &Tensor) {
        let (h, w, c) = other.shape();
        self.reshape_for_overwrite(h, w, c);
        self.data_mut().copy_from_slice(other.data());
    }

    /// Largest absolute value (0 for an empty tensor); handy for tolerance checks.
    pub fn max_abs(&self) -> f32 {
        self.data().iter().fold(0.0f32, |m, v| m.max(v.abs()))
    }
}
