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

/// `out = relu(t0 + (t1 + (… + tn)))` elementwise, the sum nested right to left as written in
/// face-api.js's dense blocks (so every f32 rounding matches).
pub fn sum_right_relu_into(ts: &[&Tensor], out: &mut Tensor) {
    let Some((last, rest)) = ts.split_last() else {
        return;
    };
    assert!(
        rest.iter().all(|t| t.shape() == last.shape()),
        "sum: shapes differ"
    );
    let (h, w, c) = last.shape();
    out.reshape_for_overwrite(h, w, c);
    let out = out.data_mut();
    out.copy_from_slice(last.data());
    for t in rest.iter().rev() {
        out.iter_mut().zip(t.data()).for_each(|(o, v)| *o += v);
    }
    out.iter_mut().for_each(|o| *o = o.max(0.0));
}

/// `x = max(x, 0)` in place.
pub fn relu_inplace(x: &mut Tensor) {
    x.data_mut().iter_mut().for_each(|v| *v = v.max(0.0));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_right_nests_from_the_right() {
        // 1e8 + (-1e8 + 1) = 0 in f32, whereas (1e8 + -1e8) + 1 = 1.
        let t = |v: f32| Tensor::from_vec(1, 1, 1, vec![v]).expect("shape");
        let (a, b, c) = (t(1e8), t(-1e8), t(1.0));
        let mut out = Tensor::default();
        sum_right_relu_into(&[&a, &b, &c], &mut out);
        assert_eq!(out.data(), &[0.0]);
        sum_right_relu_into(&[&c, &a, &b], &mut out);
        assert_eq!(out.data(), &[1.0]);
    }

    #[test]
    fn add_then_relu() {
        let a = Tensor::from_vec(1, 2, 1, vec![1.0, -3.0]).expect("shape");
        let b = Tensor::from_vec(1, 2, 1, vec![0.5, 1.0]).expect("shape");
        let mut s = add(&a, &b);
        relu_inplace(&mut s);
        assert_eq!(s.data(), &[1.5, 0.0]);
    }
}
