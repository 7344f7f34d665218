//! Elementwise f32 ops (each one IEEE f32 operation, bit-exact with tfjs).

use super::Tensor;

/// `a + b` (same shapes).
pub fn add(a: &Tensor, b: &Tensor) -> Tensor {
    let mut out = Tensor::default();
    add_into(a, b, &mut out);
    out
}

/// `out = a + b`, reusing `out`'s buffer.
pub fn add_into(a: &Tensor, b: &Tensor, out: &mut Tensor) {
    assert_eq!(a.shape(), b.shape(), "add: shapes differ");
    let (h, w, c) = a.shape();
    out.reshape_for_overwrite(h, w, c);
    for ((o, x), y) in out.data_mut().iter_mut().zip(a.data()).zip(b.data()) {
        *o = x + y;
    }
}

/// `x = max(x, 0)` in place.
pub fn relu_inplace(x: &mut Tensor) {
    x.data_mut().iter_mut().for_each(|v| *v = v.max(0.0));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_then_relu() {
        let a = Tensor::from_vec(1, 2, 1, vec![1.0, -3.0]).expect("shape");
        let b = Tensor::from_vec(1, 2, 1, vec![0.5, 1.0]).expect("shape");
        let mut s = add(&a, &b);
        relu_inplace(&mut s);
        assert_eq!(s.data(), &[1.5, 0.0]);
    }
}
