//! The reward model's head: a linear score on frozen features, trained as a Bradley–Terry
//! model (the chosen reply's score minus the rejected one's, through a logistic) with
//! candle-nn's AdamW, stopped early on a validation share of the training pairs, and the
//! held-out figures: pairwise accuracy with a bootstrap interval, and calibration.

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::{Rng, SeedableRng, rngs::StdRng};

/// One preference: features row `chosen` over row `rejected`, from comparison `group`
/// (pairs of one comparison stay together in every split and resample).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub chosen: usize,
    pub rejected: usize,
    pub group: usize,
}

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Most full passes over the training pairs.
    pub max_steps: usize,
    /// Steps without a better validation loss before training stops.
    pub patience: usize,
    /// Share of the training comparisons held out to stop on.
    pub validation_share: f64,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            // 1e-2 stopped within a few steps at heads that were sure far too often (make
            // bench-reward: calibration off by 8 to 15 points; 1e-3: 2 to 5).
            learning_rate: 1e-3,
            weight_decay: 1e-2,
            max_steps: 2000,
            patience: 100,
            validation_share: 0.1,
            seed: 7,
        }
    }
}

/// A trained head: features are standardized (`(x - mean) / scale`), then `weights · x`.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
    pub weights: Vec<f32>,
}

impl Head {
    pub fn score(&self, x: &[f32]) -> f32 {
        x.iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .zip(&self.weights)
            .map(|(((x, m), s), w)| (x - m) / s * w)
            .sum()
    }

    /// The head's tensors by name, as safetensors stores them.
    pub fn tensors(&self) -> candle_core::Result<Vec<(String, Tensor)>> {
        let d = self.weights.len();
        Ok(vec![
            ("mean".into(), Tensor::from_slice(&self.mean, d, &Device::Cpu)?),
            ("scale".into(), Tensor::from_slice(&self.scale, d, &Device::Cpu)?),
            ("weights".into(), Tensor::from_slice(&self.weights, d, &Device::Cpu)?),
        ])
    }

    pub fn from_tensors(tensors: &std::collections::HashMap<String, Tensor>) -> Result<Head, String> {
        let get = |name: &str| -> Result<Vec<f32>, String> {
            tensors
                .get(name)
                .ok_or_else(|| format!("the head has no tensor {name:?}"))?
                .to_dtype(DType::F32)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1())
                .map_err(|e| format!("{name}: {e}"))
        };
        let head = Head { mean: get("mean")?, scale: get("scale")?, weights: get("weights")? };
        if head.mean.len() != head.weights.len() || head.scale.len() != head.weights.len() {
            return Err("the head's tensors differ in length".into());
        }
        Ok(head)
    }
}

/// One step of training, as the loss curve shows it.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub step: usize,
    pub train_loss: f32,
    pub validation_loss: f32,
    pub validation_accuracy: f32,
}

pub struct Trained {
    pub head: Head,
    /// Every step's losses; the head is the one of the best validation loss.
    pub curve: Vec<Step>,
    pub best_step: usize,
}

/// Whether comparison `group` goes to validation (a fixed share, by seed).
fn held_out(group: usize, seed: u64, share: f64) -> bool {
    let mut rng = StdRng::seed_from_u64(seed ^ (group as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.gen_bool(share.clamp(0.0, 1.0))
}

/// The differences `chosen - rejected` of the pairs, standardized, as a matrix.
fn differences(
    features: &[Vec<f32>],
    pairs: &[&Pair],
    mean: &[f32],
    scale: &[f32],
) -> candle_core::Result<Tensor> {
    let d = mean.len();
    let mut data = Vec::with_capacity(pairs.len() * d);
    for pair in pairs {
        let (c, r) = (&features[pair.chosen], &features[pair.rejected]);
        data.extend((0..d).map(|j| (c[j] - r[j]) / scale[j]));
    }
    Tensor::from_vec(data, (pairs.len(), d), &Device::Cpu)
}

/// -log σ(margin), averaged, computed stably: relu(-m) + log(1 + exp(-|m|)).
fn bt_loss(margins: &Tensor) -> candle_core::Result<Tensor> {
    let softplus = (margins.neg()?.relu()? + (margins.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    softplus.mean_all()
}

/// Trains a head on `pairs` of `features` rows. `cancelled` is asked between steps.
pub fn train(
    features: &[Vec<f32>],
    pairs: &[Pair],
    options: &TrainOptions,
    cancelled: &dyn Fn() -> bool,
) -> Result<Trained, String> {
    let err = |e: candle_core::Error| e.to_string();
    let d = features.first().map(Vec::len).ok_or("no features to train on")?;
    let (validation, train): (Vec<&Pair>, Vec<&Pair>) =
        pairs.iter().partition(|p| held_out(p.group, options.seed, options.validation_share));
    let (validation, train) = if validation.is_empty() || train.is_empty() {
        (pairs.iter().collect::<Vec<_>>(), pairs.iter().collect())
    } else {
        (validation, train)
    };
    if train.is_empty() {
        return Err("no pairs to train on".into());
    }
    // Standardized over every reply the training pairs hold.
    let rows: std::collections::BTreeSet<usize> = train.iter().flat_map(|p| [p.chosen, p.rejected]).collect();
    let n = rows.len() as f32;
    let mut mean = vec![0f32; d];
    for &r in &rows {
        mean.iter_mut().zip(&features[r]).for_each(|(m, x)| *m += x / n);
    }
    let mut scale = vec![0f32; d];
    for &r in &rows {
        scale.iter_mut().zip(&features[r]).zip(&mean).for_each(|((s, x), m)| *s += (x - m).powi(2) / n);
    }
    scale.iter_mut().for_each(|s| *s = s.sqrt().max(1e-6));
    let x_train = differences(features, &train, &mean, &scale).map_err(err)?;
    let x_validation = differences(features, &validation, &mean, &scale).map_err(err)?;
    let weights = Var::zeros((d, 1), DType::F32, &Device::Cpu).map_err(err)?;
    let params = ParamsAdamW {
        lr: options.learning_rate,
        weight_decay: options.weight_decay,
        ..ParamsAdamW::default()
    };
    let mut optimizer = AdamW::new(vec![weights.clone()], params).map_err(err)?;
    let mut curve = vec![];
    let mut best = (f32::INFINITY, 0usize, weights.as_tensor().copy().map_err(err)?);
    for step in 1..=options.max_steps {
        if cancelled() {
            return Err("cancelled".into());
        }
        let margins = x_train.matmul(weights.as_tensor()).map_err(err)?;
        let loss = bt_loss(&margins).map_err(err)?;
        optimizer.backward_step(&loss).map_err(err)?;
        let margins = x_validation.matmul(weights.as_tensor()).map_err(err)?;
        let validation_loss = bt_loss(&margins).and_then(|l| l.to_scalar::<f32>()).map_err(err)?;
        let right = margins
            .squeeze(D::Minus1)
            .and_then(|m| m.to_vec1::<f32>())
            .map_err(err)?
            .iter()
            .map(|&m| won(m) as f32)
            .sum::<f32>();
        curve.push(Step {
            step,
            train_loss: loss.to_scalar::<f32>().map_err(err)?,
            validation_loss,
            validation_accuracy: right / validation.len() as f32,
        });
        if validation_loss < best.0 {
            best = (validation_loss, step, weights.as_tensor().copy().map_err(err)?);
        } else if step - best.1 >= options.patience {
            break;
        }
    }
    let weights = best.2.flatten_all().and_then(|w| w.to_vec1::<f32>()).map_err(err)?;
    Ok(Trained { head: Head { mean, scale, weights }, curve, best_step: best.1 })
}

/// How right a margin (chosen minus rejected) is: 1, or one half for a tie.
fn won(margin: f32) -> f64 {
    match margin.partial_cmp(&0.0) {
        Some(std::cmp::Ordering::Greater) => 1.0,
        Some(std::cmp::Ordering::Equal) => 0.5,
        _ => 0.0,
    }
}

/// Held-out figures of a head.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub pairs: usize,
    pub accuracy: f64,
    /// 95% bootstrap interval of the accuracy, comparisons resampled (1,000 times).
    pub interval: (f64, f64),
    /// Predicted probability that the chosen wins, in ten bins: (mean predicted, observed
    /// share right, pairs), for the bins that hold any.
    pub calibration: Vec<(f64, f64, usize)>,
}

pub fn evaluate(scores: &[f32], pairs: &[Pair], seed: u64) -> Evaluation {
    let right = |p: &Pair| won(scores[p.chosen] - scores[p.rejected]);
    let mut groups: std::collections::BTreeMap<usize, (f64, usize)> = Default::default();
    for p in pairs {
        let g = groups.entry(p.group).or_default();
        g.0 += right(p);
        g.1 += 1;
    }
    let groups: Vec<(f64, usize)> = groups.into_values().collect();
    let accuracy = groups.iter().map(|g| g.0).sum::<f64>() / pairs.len().max(1) as f64;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draws: Vec<f64> = (0..1000)
        .map(|_| {
            let (mut sum, mut count) = (0.0, 0);
            for _ in 0..groups.len() {
                let g = groups[rng.gen_range(0..groups.len())];
                sum += g.0;
                count += g.1;
            }
            sum / count.max(1) as f64
        })
        .collect();
    draws.sort_by(f64::total_cmp);
    let interval = if groups.is_empty() { (0.0, 0.0) } else { (draws[25], draws[974]) };
    // The head's probability that the first of a pair wins, each pair in both orders so
    // that the bins are symmetric about one half.
    let mut bins = vec![(0.0, 0.0, 0usize); 10];
    for p in pairs {
        let m = f64::from(scores[p.chosen] - scores[p.rejected]);
        for (prob, won) in [(1.0 / (1.0 + (-m).exp()), 1.0), (1.0 / (1.0 + m.exp()), 0.0)] {
            let bin = &mut bins[((prob * 10.0) as usize).min(9)];
            bin.0 += prob;
            bin.1 += won;
            bin.2 += 1;
        }
    }
    let calibration =
        bins.into_iter().filter(|b| b.2 > 0).map(|(p, w, n)| (p / n as f64, w / n as f64, n)).collect();
    Evaluation { pairs: pairs.len(), accuracy, interval, calibration }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Features where the first coordinate decides the preference, the rest noise.
    fn separable(groups: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<Pair>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut features = vec![];
        let mut pairs = vec![];
        for group in 0..groups {
            let a: Vec<f32> = (0..8).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..8).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let (i, j) = (features.len(), features.len() + 1);
            let a_wins = a[0] > b[0];
            features.push(a);
            features.push(b);
            pairs.push(if a_wins {
                Pair { chosen: i, rejected: j, group }
            } else {
                Pair { chosen: j, rejected: i, group }
            });
        }
        (features, pairs)
    }

    #[test]
    fn a_learnable_preference_is_learned_and_random_labels_are_not() {
        let (features, pairs) = separable(600, 1);
        let (fit, test) = pairs.split_at(400);
        let trained = train(&features, fit, &TrainOptions::default(), &|| false).unwrap();
        let scores: Vec<f32> = features.iter().map(|f| trained.head.score(f)).collect();
        let held = evaluate(&scores, test, 3);
        assert!(held.accuracy > 0.95, "{held:?}");
        assert!(held.interval.0 <= held.accuracy && held.accuracy <= held.interval.1, "{held:?}");
        assert!(trained.curve.len() >= trained.best_step && trained.best_step > 0);
        // Random labels: about half right (the interval holds one half).
        let mut rng = StdRng::seed_from_u64(5);
        let shuffled: Vec<Pair> = fit
            .iter()
            .map(|p| {
                if rng.gen_bool(0.5) {
                    Pair { chosen: p.rejected, rejected: p.chosen, group: p.group }
                } else {
                    *p
                }
            })
            .collect();
        let control = train(&features, &shuffled, &TrainOptions::default(), &|| false).unwrap();
        let scores: Vec<f32> = features.iter().map(|f| control.head.score(f)).collect();
        let held = evaluate(&scores, test, 3);
        assert!(
            held.interval.0 < 0.5 && 0.5 < held.interval.1 || (held.accuracy - 0.5).abs() < 0.1,
            "{held:?}"
        );
    }

    #[test]
    fn calibration_bins_are_symmetric_and_a_head_round_trips() {
        let (features, pairs) = separable(200, 2);
        let trained = train(&features, &pairs, &TrainOptions::default(), &|| false).unwrap();
        let scores: Vec<f32> = features.iter().map(|f| trained.head.score(f)).collect();
        let held = evaluate(&scores, &pairs, 1);
        let total: usize = held.calibration.iter().map(|b| b.2).sum();
        assert_eq!(total, 2 * pairs.len());
        let tensors: std::collections::HashMap<String, Tensor> =
            trained.head.tensors().unwrap().into_iter().collect();
        assert_eq!(Head::from_tensors(&tensors).unwrap(), trained.head);
        assert!(train(&features, &pairs, &TrainOptions::default(), &|| true).is_err(), "cancel stops it");
    }
}
