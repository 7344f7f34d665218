//! The face-api.js networks, one file each. Each has `load(&Weights)`, which lays the weights out
//! once, and a forward pass over a prepared input [`Tensor`]. Tensor names in the code are the
//! manifest names, so each file reads side by side with the spec and the weight listing.

pub mod age_gender;
pub mod face_expression;
pub mod face_landmark68;
pub mod face_recognition;
pub mod ssd_mobilenetv1;
pub mod tiny_face_detector;

use crate::error::Result;
use crate::image::RgbImage;
use crate::kernels::{
    crop_to_input_into, normalize, Activation, Conv2d, CropRect, Padding, SeparableConv2d,
};
use crate::tensor::Tensor;
use crate::weights::Weights;

/// Mean RGB of the face nets (landmarks, expression, age/gender, recognition), spec §2.3.
pub const FACE_MEAN_RGB: [f32; 3] = [122.782, 117.001, 104.298];

/// The input of a face net: `crop` of `img`, centered zero-pad to square, legacy bilinear to
/// `size`, then `(x − FACE_MEAN_RGB) / divisor`.
pub fn face_input(img: &RgbImage, crop: CropRect, size: usize, divisor: f32) -> Tensor {
    let mut x = Tensor::default();
    face_input_into(img, crop, size, divisor, &mut x);
    x
}

/// [`face_input`] into a reused tensor.
pub fn face_input_into(img: &RgbImage, crop: CropRect, size: usize, divisor: f32, x: &mut Tensor) {
    crop_to_input_into(img, crop, size, true, x);
    normalize(x, FACE_MEAN_RGB, divisor);
}

/// `<prefix>/filters` (`[k, k, cin, cout]`) and `<prefix>/bias`.
pub(crate) fn load_conv(
    w: &Weights,
    prefix: &str,
    shape: [usize; 4],
    stride: usize,
    padding: Padding,
    act: Activation,
) -> Result<Conv2d> {
    let filters = w.get(&format!("{prefix}/filters"), &shape)?;
    let bias = w.get(&format!("{prefix}/bias"), &[shape[3]])?;
    Ok(Conv2d::new(
        filters,
        shape,
        Some(bias),
        stride,
        padding,
        act,
    ))
}

/// `<prefix>/depthwise_filter` (`[3, 3, cin, 1]`), `<prefix>/pointwise_filter`
/// (`[1, 1, cin, cout]`) and `<prefix>/bias`.
pub(crate) fn load_separable(
    w: &Weights,
    prefix: &str,
    cin: usize,
    cout: usize,
    stride: usize,
    padding: Padding,
    act: Activation,
) -> Result<SeparableConv2d> {
    let dw_shape = [3, 3, cin, 1];
    let pw_shape = [1, 1, cin, cout];
    let dw = w.get(&format!("{prefix}/depthwise_filter"), &dw_shape)?;
    let pw = w.get(&format!("{prefix}/pointwise_filter"), &pw_shape)?;
    let bias = w.get(&format!("{prefix}/bias"), &[cout])?;
    Ok(SeparableConv2d::new(
        dw,
        dw_shape,
        pw,
        pw_shape,
        Some(bias),
        stride,
        padding,
        act,
    ))
}

/// `1 / (1 + exp(−v))` in f64, as the host-side JavaScript computes it.
pub(crate) fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}
