//! Drawing a sequence's next token from its logits: the most likely one (temperature 0), or
//! one sampled with temperature, top-k and top-p from a seeded generator.
//!
//! The arithmetic is candle-transformers' `LogitsProcessor`'s, step for step: the logits
//! times the inverse temperature, candle-nn's softmax (its sum of the exponentials in four
//! registers of 8 lanes, then across them), rand 0.9's ChaCha12 generator and
//! `WeightedIndex`. So a seed draws the tokens it drew when Parley sampled with that crate
//! (the unit test holds the two together), and candle-transformers, a large crate to build,
//! is needed by the tests alone.

use rand09::SeedableRng;
use rand09::distr::Distribution;
use rand09::distr::weighted::WeightedIndex;
use rand09::rngs::StdRng;

/// How the next token is chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampling {
    /// The most likely token (the first of equals).
    ArgMax,
    All {
        temperature: f64,
    },
    TopK {
        k: usize,
        temperature: f64,
    },
    TopP {
        p: f64,
        temperature: f64,
    },
    TopKThenTopP {
        k: usize,
        p: f64,
        temperature: f64,
    },
}

/// A seeded sampler: one per sequence, so each draws its own tokens whatever the others do.
pub struct Sampler {
    rng: StdRng,
    sampling: Sampling,
}

impl Sampler {
    pub fn new(seed: u64, sampling: Sampling) -> Self {
        Sampler { rng: StdRng::seed_from_u64(seed), sampling }
    }

    /// The next token. Fails on empty logits, or when no token has a probability that can be
    /// drawn (all of them NaN, say).
    pub fn sample(&mut self, logits: &[f32]) -> Result<u32, String> {
        if logits.is_empty() {
            return Err("no logits to sample from".into());
        }
        match self.sampling {
            Sampling::ArgMax => Ok(argmax(logits) as u32),
            Sampling::All { temperature } => self.multinomial(&probabilities(logits, temperature)),
            Sampling::TopP { p, temperature } => {
                let mut probabilities = probabilities(logits, temperature);
                if p <= 0.0 || p >= 1.0 {
                    self.multinomial(&probabilities)
                } else {
                    self.top_p(&mut probabilities, p as f32)
                }
            }
            Sampling::TopK { k, temperature } => self.top_k(&probabilities(logits, temperature), k),
            Sampling::TopKThenTopP { k, p, temperature } => {
                self.top_k_then_top_p(&mut probabilities(logits, temperature), k, p as f32)
            }
        }
    }

    fn multinomial(&mut self, probabilities: &[f32]) -> Result<u32, String> {
        let weights = WeightedIndex::new(probabilities)
            .map_err(|err| format!("cannot sample from these probabilities: {err}"))?;
        Ok(weights.sample(&mut self.rng) as u32)
    }

    /// From the fewest most likely tokens whose probabilities reach `p` (the rest set to 0).
    fn top_p(&mut self, probabilities: &mut [f32], p: f32) -> Result<u32, String> {
        let mut order: Vec<usize> = (0..probabilities.len()).collect();
        order.sort_by(|&i, &j| probabilities[j].total_cmp(&probabilities[i]));
        let mut sum = 0.0;
        for &index in &order {
            if sum >= p {
                probabilities[index] = 0.0;
            } else {
                sum += probabilities[index];
            }
        }
        self.multinomial(probabilities)
    }

    /// The `k` most likely tokens, in the order a partial sort of the token indices by
    /// probability leaves them (candle-transformers' order). The sort runs on each token's
    /// probability key and index packed in one number, comparing the keys alone: the same
    /// comparisons give the same moves, and the keys are read in place, not looked up by index
    /// at every comparison (a third of the time a token's draw took).
    fn top(probabilities: &[f32], k: usize) -> Vec<usize> {
        let mut keyed: Vec<u64> =
            probabilities.iter().enumerate().map(|(i, &p)| (order_key(p) as u64) << 32 | i as u64).collect();
        keyed.select_nth_unstable_by(k, |a, b| (b >> 32).cmp(&(a >> 32)));
        keyed[..k].iter().map(|&keyed| (keyed & 0xFFFF_FFFF) as usize).collect()
    }

    fn top_k(&mut self, probabilities: &[f32], k: usize) -> Result<u32, String> {
        if k >= probabilities.len() {
            return self.multinomial(probabilities);
        }
        let top = Self::top(probabilities, k);
        let kept: Vec<f32> = top.iter().map(|&i| probabilities[i]).collect();
        let index = self.multinomial(&kept)?;
        Ok(top[index as usize] as u32)
    }

    fn top_k_then_top_p(&mut self, probabilities: &mut [f32], k: usize, p: f32) -> Result<u32, String> {
        if k >= probabilities.len() {
            return self.top_p(probabilities, p);
        }
        let top = Self::top(probabilities, k);
        let mut kept: Vec<f32> = top.iter().map(|&i| probabilities[i]).collect();
        let sum = kept.iter().sum::<f32>();
        let index = if p <= 0.0 || p >= sum { self.multinomial(&kept)? } else { self.top_p(&mut kept, p)? };
        Ok(top[index as usize] as u32)
    }
}

/// A number whose order is `f32::total_cmp`'s order of the values: total_cmp's signed
/// integer, its sign bit flipped so that unsigned order is the same.
fn order_key(value: f32) -> u32 {
    let bits = value.to_bits() as i32;
    ((bits ^ ((((bits >> 31) as u32) >> 1) as i32)) as u32) ^ 0x8000_0000
}

/// The index of the largest logit; the first of equal ones.
fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    for (index, &logit) in logits.iter().enumerate() {
        if logits[best] < logit {
            best = index;
        }
    }
    best
}

/// The softmax of `logits / temperature`, rounded as candle rounds it: each logit times
/// `1 / temperature` (in f32), less the largest, exponentiated, then divided by their sum.
fn probabilities(logits: &[f32], temperature: f64) -> Vec<f32> {
    let scale = (1.0 / temperature) as f32;
    let scaled = |logit: f32| logit * scale + 0.0;
    let max = logits[1..].iter().fold(scaled(logits[0]), |max, &logit| max.max(scaled(logit)));
    let mut probabilities: Vec<f32> = logits.iter().map(|&logit| (scaled(logit) - max).exp()).collect();
    let sum = lane_sum(&probabilities);
    for probability in &mut probabilities {
        *probability /= sum;
    }
    probabilities
}

/// A sum in candle's order: whole runs of 32 values added into 32 running sums (four
/// registers of 8 lanes), the four added pairwise, the halves of the last, then its four
/// lanes pairwise; the values past the last whole run after that, one by one. candle sums
/// so on every CPU with AVX2 (others add one by one); this is its order on any CPU.
fn lane_sum(values: &[f32]) -> f32 {
    let whole = values.len() / 32 * 32;
    let mut sums = [[0f32; 8]; 4];
    for run in values[..whole].chunks_exact(32) {
        for (register, eight) in sums.iter_mut().zip(run.chunks_exact(8)) {
            for (sum, &value) in register.iter_mut().zip(eight) {
                *sum += value;
            }
        }
    }
    let add = |a: [f32; 8], b: [f32; 8]| -> [f32; 8] { std::array::from_fn(|lane| a[lane] + b[lane]) };
    let all = add(add(sums[0], sums[1]), add(sums[2], sums[3]));
    let four: [f32; 4] = std::array::from_fn(|lane| all[lane] + all[lane + 4]);
    let mut sum = (four[0] + four[1]) + (four[2] + four[3]);
    for &value in &values[whole..] {
        sum += value;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};
    use candle_transformers::generation::{LogitsProcessor, Sampling as Theirs};
    use rand09::Rng;

    /// Logits shaped like a model's: most far below a few, some equal, a length that is not
    /// a multiple of 32 (the sum's tail) as well as the vocabulary of SmolLM2.
    fn logits(rng: &mut StdRng, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| match i % 97 {
                0 => 12.5,
                1 => 12.5,
                _ => rng.random_range(-8.0f32..11.0),
            })
            .collect()
    }

    #[test]
    fn draws_the_tokens_candle_transformers_draws() {
        let mut rng = StdRng::seed_from_u64(5);
        let modes = |temperature: f64| {
            [
                (Sampling::ArgMax, Theirs::ArgMax),
                (Sampling::All { temperature }, Theirs::All { temperature }),
                (Sampling::TopK { k: 40, temperature }, Theirs::TopK { k: 40, temperature }),
                (Sampling::TopP { p: 0.9, temperature }, Theirs::TopP { p: 0.9, temperature }),
                (Sampling::TopP { p: 1.0, temperature }, Theirs::TopP { p: 1.0, temperature }),
                (
                    Sampling::TopKThenTopP { k: 40, p: 0.95, temperature },
                    Theirs::TopKThenTopP { k: 40, p: 0.95, temperature },
                ),
                (
                    Sampling::TopKThenTopP { k: 5, p: 0.5, temperature },
                    Theirs::TopKThenTopP { k: 5, p: 0.5, temperature },
                ),
                (Sampling::TopK { k: 100_000, temperature }, Theirs::TopK { k: 100_000, temperature }),
            ]
        };
        let mut compared = 0;
        for len in [49_152, 1_000, 33, 7] {
            for temperature in [0.3, 0.8, 1.0, 1.7] {
                for (seed, (ours, theirs)) in modes(temperature).into_iter().enumerate() {
                    let mut ours = Sampler::new(seed as u64 + 11, ours);
                    let mut theirs = LogitsProcessor::from_sampling(seed as u64 + 11, theirs);
                    for _ in 0..20 {
                        let logits = logits(&mut rng, len);
                        let tensor = Tensor::from_slice(&logits, len, &Device::Cpu).unwrap();
                        assert_eq!(ours.sample(&logits).unwrap(), theirs.sample(&tensor).unwrap());
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, 4 * 4 * 8 * 20);
    }

    #[test]
    fn the_sum_is_candles_to_the_bit() {
        let mut rng = StdRng::seed_from_u64(9);
        for len in [1, 31, 32, 33, 64, 1_000, 49_152] {
            let values: Vec<f32> = (0..len).map(|_| rng.random_range(0.0f32..1.0).powi(8)).collect();
            let tensor = Tensor::from_slice(&values, len, &Device::Cpu).unwrap();
            let theirs = candle_nn::ops::softmax_last_dim(&tensor).unwrap().to_vec1::<f32>().unwrap();
            let ours = probabilities(&values, 1.0);
            assert_eq!(
                ours.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
                theirs.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn order_keys_sort_as_total_cmp_does() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut values = vec![0.0, -0.0, 1.0, -1.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN];
        values.extend([f32::MIN_POSITIVE, f32::MAX, f32::MIN, 1e-45, -1e-45]);
        values.extend((0..200).map(|_| f32::from_bits(rng.random())));
        for a in &values {
            for b in &values {
                assert_eq!(order_key(*a).cmp(&order_key(*b)), a.total_cmp(b), "{a} {b}");
            }
        }
    }

    #[test]
    fn bad_logits_are_an_error_not_a_panic() {
        let mut sampler = Sampler::new(1, Sampling::All { temperature: 1.0 });
        assert!(sampler.sample(&[]).unwrap_err().contains("no logits"));
        assert!(sampler.sample(&[f32::NAN, f32::NAN]).unwrap_err().contains("cannot sample"));
        assert_eq!(Sampler::new(1, Sampling::ArgMax).sample(&[1.0, 3.0, 3.0, 2.0]).unwrap(), 1);
    }
}
