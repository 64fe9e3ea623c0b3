//! What fine-tuning the model's top transformer layer would cost here, beside the head on
//! frozen features: one layer of the base model's shape in f32 (Parley's quantized forward
//! pass has no gradients), with candle's autograd and candle-nn's AdamW, trained on the
//! Bradley–Terry loss of pairs of replies. The seconds one step takes on a batch of
//! replies, per token, are what `parley reward train --fine-tune-cost` multiplies by the
//! tokens of the training replies: the time of one pass over them.
//!
//! Only the cost is measured: the weights are random (the time of a step does not depend on
//! them), so no accuracy comes of it.

use crate::model::llama::Config;
use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use std::time::Instant;

/// One step's time on `replies` sequences of `tokens` tokens.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    pub replies: usize,
    pub tokens: usize,
    pub step_secs: f64,
    /// The loss before the first step and after the last.
    pub losses: (f32, f32),
}

impl Cost {
    pub fn secs_per_token(&self) -> f64 {
        self.step_secs / (self.replies * self.tokens) as f64
    }
}

struct Layer {
    attn_norm: Var,
    q: Var,
    k: Var,
    v: Var,
    o: Var,
    ffn_norm: Var,
    gate: Var,
    up: Var,
    down: Var,
    out_norm: Var,
    head: Var,
}

impl Layer {
    fn new(c: &Config, device: &Device) -> candle_core::Result<Layer> {
        let kv = c.kv_heads * c.head_dim;
        let matrix = |rows: usize, cols: usize| Var::randn(0f32, 0.02, (rows, cols), device);
        let ones = |n: usize| Var::from_tensor(&Tensor::ones(n, DType::F32, device)?);
        Ok(Layer {
            attn_norm: ones(c.dim)?,
            q: matrix(c.dim, c.dim)?,
            k: matrix(kv, c.dim)?,
            v: matrix(kv, c.dim)?,
            o: matrix(c.dim, c.dim)?,
            ffn_norm: ones(c.dim)?,
            gate: matrix(c.hidden, c.dim)?,
            up: matrix(c.hidden, c.dim)?,
            down: matrix(c.dim, c.hidden)?,
            out_norm: ones(c.dim)?,
            head: matrix(1, c.dim)?,
        })
    }

    fn vars(&self) -> Vec<Var> {
        [
            &self.attn_norm,
            &self.q,
            &self.k,
            &self.v,
            &self.o,
            &self.ffn_norm,
            &self.gate,
            &self.up,
            &self.down,
            &self.out_norm,
            &self.head,
        ]
        .into_iter()
        .cloned()
        .collect()
    }
}

/// RMS norm from differentiable operations (candle-nn's fused one has no backward pass).
fn rms(x: &Tensor, weight: &Tensor, eps: f32) -> candle_core::Result<Tensor> {
    let norm = x.sqr()?.mean_keepdim(D::Minus1)?.affine(1.0, f64::from(eps))?.sqrt()?;
    x.broadcast_div(&norm)?.broadcast_mul(weight)
}

/// `x` (rows of `cols`) times the transpose of `w`.
fn linear(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    x.matmul(&w.t()?)
}

/// Softmax over the last dimension, from differentiable operations.
fn softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// Rotary position embedding, halves rotated (`cos`, `sin`: `[t, head_dim / 2]`).
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    let half = x.dim(D::Minus1)? / 2;
    let (a, b) = (x.narrow(D::Minus1, 0, half)?, x.narrow(D::Minus1, half, half)?);
    Tensor::cat(
        &[(a.broadcast_mul(cos)? - b.broadcast_mul(sin)?)?, (a.broadcast_mul(sin)? + b.broadcast_mul(cos)?)?],
        D::Minus1,
    )
}

/// The layer over `x` (`[b, t, dim]`, the states the layer below gives), then the score of
/// each sequence's last token: `[b]`.
fn scores(
    layer: &Layer,
    c: &Config,
    x: &Tensor,
    tables: &(Tensor, Tensor, Tensor),
) -> candle_core::Result<Tensor> {
    let (b, t, dim) = x.dims3()?;
    let (cos, sin, mask) = tables;
    let (hd, heads, kv_heads) = (c.head_dim, c.heads, c.kv_heads);
    let group = heads / kv_heads;
    let h = rms(x, layer.attn_norm.as_tensor(), c.eps)?.reshape((b * t, dim))?;
    let q = linear(&h, &layer.q)?.reshape((b, t, heads, hd))?.transpose(1, 2)?.contiguous()?;
    let k = linear(&h, &layer.k)?.reshape((b, t, kv_heads, hd))?.transpose(1, 2)?.contiguous()?;
    let v = linear(&h, &layer.v)?.reshape((b, t, kv_heads, hd))?.transpose(1, 2)?.contiguous()?;
    let (q, k) = (rope(&q, cos, sin)?, rope(&k, cos, sin)?);
    // Grouped-query attention without copying keys: the heads of a group as one long query.
    let q = q.reshape((b, kv_heads, group * t, hd))?;
    let attention = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?.broadcast_add(mask)?;
    let out = softmax(&attention)?
        .matmul(&v)?
        .reshape((b, heads, t, hd))?
        .transpose(1, 2)?
        .reshape((b * t, dim))?;
    let x = (x.reshape((b * t, dim))? + linear(&out, &layer.o)?)?;
    let h = rms(&x, layer.ffn_norm.as_tensor(), c.eps)?;
    let mlp = linear(&(linear(&h, &layer.gate)?.silu()? * linear(&h, &layer.up)?)?, &layer.down)?;
    let x = (x + mlp)?.reshape((b, t, dim))?;
    let last = x.narrow(1, t - 1, 1)?.squeeze(1)?;
    linear(&rms(&last, layer.out_norm.as_tensor(), c.eps)?, &layer.head)?.squeeze(1)
}

/// Times `steps` training steps (after one untimed) of one layer of `config`'s shape on
/// `replies` sequences (an even number: pairs) of `tokens` tokens, at learning rate `lr`:
/// the median step.
pub fn time_steps(
    config: &Config,
    (replies, tokens): (usize, usize),
    steps: usize,
    lr: f64,
) -> candle_core::Result<Cost> {
    let device = Device::Cpu;
    let layer = Layer::new(config, &device)?;
    let mut optimizer = AdamW::new(layer.vars(), ParamsAdamW { lr, ..Default::default() })?;
    let x = Tensor::randn(0f32, 1.0, (replies, tokens, config.dim), &device)?;
    let half = config.head_dim / 2;
    let angles: Vec<f32> = (0..tokens)
        .flat_map(|p| {
            (0..half).map(move |i| p as f32 / config.rope_base.powf(2.0 * i as f32 / config.head_dim as f32))
        })
        .collect();
    let angles = Tensor::from_vec(angles, (tokens, half), &device)?;
    let group = config.heads / config.kv_heads;
    // Row r of a group's long query is position r mod t.
    let mask: Vec<f32> = (0..group * tokens)
        .flat_map(|r| (0..tokens).map(move |c| if c > r % tokens { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    let tables = (angles.cos()?, angles.sin()?, Tensor::from_vec(mask, (group * tokens, tokens), &device)?);
    let mut times = vec![];
    let mut losses = vec![];
    for step in 0..=steps {
        let started = Instant::now();
        let s = scores(&layer, config, &x, &tables)?;
        // Replies 2i over 2i + 1: the Bradley–Terry loss, log(1 + e^-(chosen - rejected)).
        let pairs = s.reshape((replies / 2, 2))?;
        let margin = (pairs.narrow(1, 0, 1)? - pairs.narrow(1, 1, 1)?)?;
        let loss = (margin.neg()?.exp()? + 1.0)?.log()?.mean_all()?;
        losses.push(loss.to_scalar::<f32>()?);
        optimizer.backward_step(&loss)?;
        if step > 0 {
            times.push(started.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    let last = scores(&layer, config, &x, &tables)?.reshape((replies / 2, 2))?;
    let margin = (last.narrow(1, 0, 1)? - last.narrow(1, 1, 1)?)?;
    let after = (margin.neg()?.exp()? + 1.0)?.log()?.mean_all()?.to_scalar::<f32>()?;
    Ok(Cost {
        replies,
        tokens,
        step_secs: times.get(times.len() / 2).copied().unwrap_or(0.0),
        losses: (losses[0], after),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gradients reach every weight: a few steps on one batch of a small layer bring the
    /// loss down, and the step is timed.
    #[test]
    fn steps_lower_the_loss_of_their_batch() {
        let config = Config {
            dim: 16,
            hidden: 32,
            layers: 1,
            heads: 4,
            kv_heads: 2,
            head_dim: 4,
            vocab: 8,
            eps: 1e-5,
            rope_base: 10000.0,
            context: 16,
        };
        let cost = time_steps(&config, (4, 6), 30, 1e-2).unwrap();
        let (before, after) = cost.losses;
        // Small random weights score the two replies of a pair nearly alike (loss near ln 2);
        // the inputs are random and unseeded (candle's CPU generator), hence the margin.
        assert!((before - std::f32::consts::LN_2).abs() < 0.3, "random weights score alike: {before}");
        assert!(after < before / 2.0, "{before} -> {after}");
        assert!(cost.step_secs > 0.0 && cost.secs_per_token() > 0.0);
    }
}
