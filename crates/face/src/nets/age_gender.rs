//! AgeGenderNet (spec §8.2): a TinyXception with two middle blocks, then an age regressor and a
//! two-way gender softmax.

use super::face_expression::softmax;
use super::{face_input, load_conv, load_separable};
use crate::error::Result;
use crate::image::RgbImage;
use crate::kernels::{
    global_avg_pool, max_pool, relu_inplace, Activation, Conv2d, CropRect, FullyConnected, Padding,
    SeparableConv2d,
};
use crate::tensor::Tensor;
use crate::weights::Weights;

/// The manifest's model name.
pub const MODEL: &str = "age_gender_model";
pub const INPUT_SIZE: usize = 112;
/// vladmandic's divisor (0.22.2 used 256).
pub const DIVISOR: f32 = 255.0;

/// `age` in years; `gender_probs` = softmax over `[male, female]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgeGender {
    pub age: f32,
    pub gender_probs: [f32; 2],
}

impl AgeGender {
    /// face-api.js's `gender` / `genderProbability`: male when P(male) > 0.5.
    pub fn is_male(&self) -> bool {
        self.gender_probs[0] > 0.5
    }
}

/// `reductionBlock`: `maxPool3x3/2(sep1(relu(sep0(act ? relu(x) : x)))) + expansion(x)`.
struct ReductionBlock {
    activate_input: bool,
    /// Carries the ReLU that `separable_conv1`'s input gets.
    sep0: SeparableConv2d,
    sep1: SeparableConv2d,
    /// 1×1 stride 2 conv of the block's (non-activated) input, plus the pooled branch.
    expansion: Conv2d,
}

/// `mainBlock`: `sep2(relu(sep1(relu(sep0(relu(x)))))) + x`.
struct MainBlock {
    seps: [SeparableConv2d; 3],
}

pub struct AgeGenderNet {
    conv_in: Conv2d,
    entry: [ReductionBlock; 2],
    middle: [MainBlock; 2],
    exit: ReductionBlock,
    exit_sep: SeparableConv2d,
    fc_age: FullyConnected,
    fc_gender: FullyConnected,
}

impl AgeGenderNet {
    pub fn load(w: &Weights) -> Result<Self> {
        let relu = Activation::Relu;
        let conv_in = load_conv(
            w,
            "entry_flow/conv_in",
            [3, 3, 3, 32],
            2,
            Padding::Same,
            relu,
        )?;
        let entry = [
            ReductionBlock::load(w, "entry_flow/reduction_block_0", 32, 64, false)?,
            ReductionBlock::load(w, "entry_flow/reduction_block_1", 64, 128, true)?,
        ];
        let middle = [
            MainBlock::load(w, "middle_flow/main_block_0")?,
            MainBlock::load(w, "middle_flow/main_block_1")?,
        ];
        let exit = ReductionBlock::load(w, "exit_flow/reduction_block", 128, 256, true)?;
        let exit_sep = load_separable(
            w,
            "exit_flow/separable_conv",
            256,
            512,
            1,
            Padding::Same,
            relu,
        )?;
        let fc = |name: &str, n: usize| -> Result<FullyConnected> {
            let weights = w.get(&format!("fc/{name}/weights"), &[512, n])?;
            let bias = w.get(&format!("fc/{name}/bias"), &[n])?;
            Ok(FullyConnected::new(weights, [512, n], Some(bias)))
        };
        Ok(Self {
            conv_in,
            entry,
            middle,
            exit,
            exit_sep,
            fc_age: fc("age", 1)?,
            fc_gender: fc("gender", 2)?,
        })
    }

    /// Age and gender probabilities for a prepared `[112, 112, 3]` input.
    pub fn forward(&self, input: &Tensor) -> AgeGender {
        let mut x = self.conv_in.forward(input);
        for block in &self.entry {
            x = block.forward(&x);
        }
        for block in &self.middle {
            x = block.forward(&x);
        }
        x = self.exit.forward(&x);
        let features = global_avg_pool(&self.exit_sep.forward(&x));
        let age = self.fc_age.forward(&features)[0];
        let gender = softmax(&self.fc_gender.forward(&features));
        AgeGender {
            age,
            gender_probs: [gender[0], gender[1]],
        }
    }

    /// Age and gender of the face in `crop` (non-empty, inside `img`).
    pub fn age_gender(&self, img: &RgbImage, crop: CropRect) -> AgeGender {
        self.forward(&face_input(img, crop, INPUT_SIZE, DIVISOR))
    }
}

impl ReductionBlock {
    fn load(
        w: &Weights,
        prefix: &str,
        cin: usize,
        cout: usize,
        activate_input: bool,
    ) -> Result<Self> {
        let same = Padding::Same;
        Ok(Self {
            activate_input,
            sep0: load_separable(
                w,
                &format!("{prefix}/separable_conv0"),
                cin,
                cout,
                1,
                same,
                Activation::Relu,
            )?,
            sep1: load_separable(
                w,
                &format!("{prefix}/separable_conv1"),
                cout,
                cout,
                1,
                same,
                Activation::None,
            )?,
            expansion: load_conv(
                w,
                &format!("{prefix}/expansion_conv"),
                [1, 1, cin, cout],
                2,
                same,
                Activation::None,
            )?,
        })
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let o = if self.activate_input {
            let mut a = x.clone();
            relu_inplace(&mut a);
            self.sep0.forward(&a)
        } else {
            self.sep0.forward(x)
        };
        let pooled = max_pool(&self.sep1.forward(&o), 3, 2, Padding::Same);
        let mut out = Tensor::default();
        // tf.add(pooled, conv(x) + bias): one f32 addition, so the order of operands is immaterial.
        self.expansion.forward_residual_into(x, &pooled, &mut out);
        out
    }
}

impl MainBlock {
    fn load(w: &Weights, prefix: &str) -> Result<Self> {
        let sep = |k: usize, act: Activation| {
            load_separable(
                w,
                &format!("{prefix}/separable_conv{k}"),
                128,
                128,
                1,
                Padding::Same,
                act,
            )
        };
        Ok(Self {
            seps: [
                sep(0, Activation::Relu)?,
                sep(1, Activation::Relu)?,
                sep(2, Activation::None)?,
            ],
        })
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let mut a = x.clone();
        relu_inplace(&mut a);
        let o = self.seps[1].forward(&self.seps[0].forward(&a));
        let mut out = Tensor::default();
        self.seps[2].forward_residual_into(&o, x, &mut out);
        out
    }
}
