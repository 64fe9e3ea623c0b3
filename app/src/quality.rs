//! Quality figures over rankings: how far trainers agree (pairwise agreement, Kendall's τ-b,
//! Krippendorff's α), the consensus ranking of a comparison (ranked pairs with Borda as the
//! tie-break), and Bradley–Terry strengths of model versions. Pure functions over plain
//! data; the server feeds them what the store holds.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;
use uuid::Uuid;

/// One trainer's ranking as places: completion → place from 0 (best); tied completions share one.
pub type Places = HashMap<Uuid, usize>;

/// The places of a ranking given as groups, best first.
pub fn places(groups: &[Vec<Uuid>]) -> Places {
    groups.iter().enumerate().flat_map(|(place, group)| group.iter().map(move |id| (*id, place))).collect()
}

/// The completions two rankings both place, in a fixed order.
fn common(a: &Places, b: &Places) -> Vec<Uuid> {
    let mut items: Vec<Uuid> = a.keys().filter(|id| b.contains_key(id)).copied().collect();
    items.sort();
    items
}

/// Share of completion pairs that two rankings order alike (a tie agrees only with a tie),
/// as (alike, pairs). `None` when they share fewer than two completions.
pub fn pair_agreement(a: &Places, b: &Places) -> Option<(usize, usize)> {
    let items = common(a, b);
    let (mut alike, mut pairs) = (0, 0);
    for (i, x) in items.iter().enumerate() {
        for y in &items[i + 1..] {
            pairs += 1;
            if a[x].cmp(&a[y]) == b[x].cmp(&b[y]) {
                alike += 1;
            }
        }
    }
    (pairs > 0).then_some((alike, pairs))
}

/// Kendall's τ-b between two rankings over the completions both place (ties allowed).
/// `None` when either ranking ties everything, where τ-b is undefined.
pub fn kendall_tau_b(a: &Places, b: &Places) -> Option<f64> {
    let items = common(a, b);
    let (mut concordant, mut discordant, mut tied_a, mut tied_b, mut pairs) = (0i64, 0i64, 0i64, 0i64, 0i64);
    for (i, x) in items.iter().enumerate() {
        for y in &items[i + 1..] {
            pairs += 1;
            let (da, db) = (a[x].cmp(&a[y]), b[x].cmp(&b[y]));
            if da == Ordering::Equal {
                tied_a += 1;
            }
            if db == Ordering::Equal {
                tied_b += 1;
            }
            if da != Ordering::Equal && db != Ordering::Equal {
                if da == db {
                    concordant += 1;
                } else {
                    discordant += 1;
                }
            }
        }
    }
    let denominator = (((pairs - tied_a) * (pairs - tied_b)) as f64).sqrt();
    (denominator > 0.0).then(|| (concordant - discordant) as f64 / denominator)
}

/// The difference function of Krippendorff's α.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Nominal,
    Ordinal,
    Interval,
}

/// Krippendorff's α over units, each the values its coders gave (missing values left out).
/// Units with fewer than two values are not pairable and do not count. `None` when no
/// disagreement is expected (fewer than two distinct values), where α is undefined.
pub fn krippendorff_alpha(units: &[Vec<f64>], metric: Metric) -> Option<f64> {
    let mut coincidences = Coincidences::default();
    for unit in units {
        coincidences.add(unit);
    }
    coincidences.alpha(metric)
}

/// The coincidence matrix of Krippendorff's α, filled one unit at a time: each ordered pair
/// of values within a unit, weighted 1/(m−1). Its size is the number of distinct values, so
/// α over millions of units needs no list of them.
#[derive(Debug, Clone, Default)]
pub struct Coincidences {
    /// (value a, value b) by their bits → weight.
    cells: HashMap<(u64, u64), f64>,
}

impl Coincidences {
    pub fn add(&mut self, unit: &[f64]) {
        if unit.len() < 2 {
            return;
        }
        let weight = 1.0 / (unit.len() - 1) as f64;
        for (i, a) in unit.iter().enumerate() {
            for (j, b) in unit.iter().enumerate() {
                if i != j {
                    *self.cells.entry((a.to_bits(), b.to_bits())).or_default() += weight;
                }
            }
        }
    }

    pub fn alpha(&self, metric: Metric) -> Option<f64> {
        let mut values: Vec<f64> =
            self.cells.keys().flat_map(|(a, b)| [f64::from_bits(*a), f64::from_bits(*b)]).collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        if values.len() < 2 {
            return None;
        }
        let index = |v: f64| values.iter().position(|x| *x == v).expect("value listed");
        let size = values.len();
        let mut coincidences = vec![vec![0.0f64; size]; size];
        for ((a, b), weight) in &self.cells {
            coincidences[index(f64::from_bits(*a))][index(f64::from_bits(*b))] = *weight;
        }
        let totals: Vec<f64> = coincidences.iter().map(|row| row.iter().sum()).collect();
        let n: f64 = totals.iter().sum();
        let delta = |c: usize, k: usize| -> f64 {
            match metric {
                Metric::Nominal => f64::from(u8::from(c != k)),
                Metric::Interval => (values[c] - values[k]).powi(2),
                Metric::Ordinal => {
                    let (low, high) = (c.min(k), c.max(k));
                    let between: f64 = totals[low..=high].iter().sum();
                    (between - (totals[c] + totals[k]) / 2.0).powi(2)
                }
            }
        };
        let (mut observed, mut expected) = (0.0, 0.0);
        for c in 0..size {
            for k in 0..size {
                let d = delta(c, k);
                observed += coincidences[c][k] * d;
                expected += totals[c] * totals[k] * d;
            }
        }
        (expected > 0.0).then(|| 1.0 - (n - 1.0) * observed / expected)
    }
}

/// Borda scores: per ranking, one point for each completion placed below, half for each tie.
pub fn borda(items: &[Uuid], rankings: &[Places]) -> Vec<f64> {
    items
        .iter()
        .map(|x| {
            rankings
                .iter()
                .filter_map(|r| r.get(x).map(|place| (r, *place)))
                .map(|(r, place)| {
                    r.iter()
                        .filter(|(other, _)| *other != x)
                        .map(|(_, p)| match place.cmp(p) {
                            Ordering::Less => 1.0,
                            Ordering::Equal => 0.5,
                            Ordering::Greater => 0.0,
                        })
                        .sum::<f64>()
                })
                .sum()
        })
        .collect()
}

/// The consensus of several rankings of `items` by ranked pairs (Tideman): pairs are locked
/// in from the largest majority down, skipping any that would make a cycle; equal majorities
/// are taken in order of Borda difference. The locked graph is then read from the top, the
/// best-scored (Borda) of the completions nothing beats coming first; completions that reach
/// the top together with equal Borda scores share a place. Returned as groups, best first.
pub fn consensus(items: &[Uuid], rankings: &[Places]) -> Vec<Vec<Uuid>> {
    let n = items.len();
    let scores = borda(items, rankings);
    let prefer = |i: usize, j: usize| {
        rankings
            .iter()
            .filter(|r| matches!((r.get(&items[i]), r.get(&items[j])), (Some(a), Some(b)) if a < b))
            .count() as i64
    };
    let mut pairs = Vec::new();
    for i in 0..n {
        for j in 0..n {
            let margin = prefer(i, j) - prefer(j, i);
            if i != j && margin > 0 {
                pairs.push((margin, scores[i] - scores[j], i, j));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2)).then(a.3.cmp(&b.3)));
    let mut beats = vec![vec![false; n]; n];
    for (_, _, winner, loser) in pairs {
        if !reaches(&beats, loser, winner) {
            beats[winner][loser] = true;
        }
    }
    let mut left: Vec<usize> = (0..n).collect();
    let mut groups = Vec::new();
    while !left.is_empty() {
        let tops: Vec<usize> = left.iter().copied().filter(|&j| !left.iter().any(|&i| beats[i][j])).collect();
        let best = tops.iter().map(|&i| scores[i]).fold(f64::NEG_INFINITY, f64::max);
        let group: Vec<usize> = tops.into_iter().filter(|&i| (scores[i] - best).abs() < 1e-9).collect();
        left.retain(|i| !group.contains(i));
        groups.push(group.into_iter().map(|i| items[i]).collect());
    }
    groups
}

/// Whether `to` can be reached from `from` along locked pairs.
fn reaches(beats: &[Vec<bool>], from: usize, to: usize) -> bool {
    let mut stack = vec![from];
    let mut seen = vec![false; beats.len()];
    while let Some(at) = stack.pop() {
        if at == to {
            return true;
        }
        if !std::mem::replace(&mut seen[at], true) {
            stack.extend((0..beats.len()).filter(|&next| beats[at][next]));
        }
    }
    false
}

/// One game between two players: the winner, the loser, and its weight (a tie counts as half
/// a win each way).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Game {
    pub winner: usize,
    pub loser: usize,
    pub weight: f64,
}

/// Bradley–Terry strengths of `players` from games, by Hunter's MM algorithm, scaled to a
/// geometric mean of 1. `prior` adds that many tie-games between every two players (a little
/// keeps a player that never won from strength 0). P(i beats j) = s_i / (s_i + s_j).
pub fn bradley_terry(players: usize, games: &[Game], prior: f64) -> Vec<f64> {
    let mut played = Played::new(players);
    for game in games {
        played.add(game, 1.0);
    }
    played.strengths(prior)
}

/// Wins and games between every two players, summed.
struct Played {
    wins: Vec<f64>,
    played: Vec<Vec<f64>>,
}

impl Played {
    fn new(players: usize) -> Played {
        Played { wins: vec![0.0; players], played: vec![vec![0.0; players]; players] }
    }

    fn add(&mut self, game: &Game, times: f64) {
        self.wins[game.winner] += game.weight * times;
        self.played[game.winner][game.loser] += game.weight * times;
        self.played[game.loser][game.winner] += game.weight * times;
    }

    fn strengths(mut self, prior: f64) -> Vec<f64> {
        let players = self.wins.len();
        for (i, row) in self.played.iter_mut().enumerate() {
            for (j, games) in row.iter_mut().enumerate() {
                if i != j {
                    self.wins[i] += prior / 2.0;
                    *games += prior;
                }
            }
        }
        let (wins, played) = (self.wins, self.played);
        let mut strength = vec![1.0; players];
        for _ in 0..10_000 {
            let mut next: Vec<f64> = (0..players)
                .map(|i| {
                    let denominator: f64 = (0..players)
                        .filter(|&j| j != i && played[i][j] > 0.0)
                        .map(|j| played[i][j] / (strength[i] + strength[j]))
                        .sum();
                    if denominator > 0.0 { wins[i] / denominator } else { strength[i] }
                })
                .collect();
            let positive: Vec<f64> = next.iter().copied().filter(|s| *s > 0.0).collect();
            if !positive.is_empty() {
                let mean = (positive.iter().map(|s| s.ln()).sum::<f64>() / positive.len() as f64).exp();
                next.iter_mut().for_each(|s| *s /= mean);
            }
            let change = next.iter().zip(&strength).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            strength = next;
            if change < 1e-10 {
                break;
            }
        }
        strength
    }
}

/// Games in clusters (one per comparison), kept in one flat list: a million comparisons
/// take one allocation, not a million.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Clusters {
    games: Vec<Game>,
    /// Where each cluster starts in `games`.
    starts: Vec<usize>,
}

impl Clusters {
    /// Adds one cluster; an empty one is left out.
    pub fn push(&mut self, games: impl IntoIterator<Item = Game>) {
        let start = self.games.len();
        self.games.extend(games);
        if self.games.len() > start {
            self.starts.push(start);
        }
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    pub fn cluster(&self, i: usize) -> &[Game] {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.games.len());
        &self.games[self.starts[i]..end]
    }

    /// Every game of every cluster.
    pub fn games(&self) -> &[Game] {
        &self.games
    }

    /// Renumbers the players: `to[old]` is the new number.
    pub fn renumber(&mut self, to: &[usize]) {
        for game in &mut self.games {
            game.winner = to[game.winner];
            game.loser = to[game.loser];
        }
    }
}

impl From<Vec<Vec<Game>>> for Clusters {
    fn from(clusters: Vec<Vec<Game>>) -> Clusters {
        let mut out = Clusters::default();
        for cluster in clusters {
            out.push(cluster);
        }
        out
    }
}

/// Bradley–Terry strengths with percentile intervals from a bootstrap over clusters of games
/// (one cluster per comparison, resampled with replacement `rounds` times). `pick(n)` draws
/// an index below n. Returns (strength, low, high) per player, for the given `level` (0.95).
/// A round adds the drawn clusters' games into one table of wins, so it needs no copy of them.
pub fn bradley_terry_intervals(
    players: usize,
    clusters: &Clusters,
    prior: f64,
    rounds: usize,
    level: f64,
    pick: &mut dyn FnMut(usize) -> usize,
) -> Vec<(f64, f64, f64)> {
    let point = bradley_terry(players, clusters.games(), prior);
    if clusters.is_empty() || rounds == 0 {
        return point.into_iter().map(|s| (s, s, s)).collect();
    }
    let mut samples = vec![Vec::with_capacity(rounds); players];
    for _ in 0..rounds {
        let mut played = Played::new(players);
        for _ in 0..clusters.len() {
            for game in clusters.cluster(pick(clusters.len())) {
                played.add(game, 1.0);
            }
        }
        for (i, s) in played.strengths(prior).into_iter().enumerate() {
            samples[i].push(s);
        }
    }
    let tail = (1.0 - level) / 2.0;
    point
        .into_iter()
        .zip(samples)
        .map(|(s, mut drawn)| {
            drawn.sort_by(f64::total_cmp);
            let at = |q: f64| drawn[((q * (drawn.len() - 1) as f64).round() as usize).min(drawn.len() - 1)];
            (s, at(tail), at(1.0 - tail))
        })
        .collect()
}

/// Agreement among trainers who ranked the same comparisons.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Comparisons ranked by two or more trainers.
    pub comparisons: usize,
    /// Share of completion pairs ordered alike by two trainers, over every two trainers.
    pub pairwise: Option<f64>,
    /// Mean Kendall's τ-b over every two trainers of a comparison.
    pub kendall_tau: Option<f64>,
    /// Krippendorff's α (ordinal) with each (comparison, completion) a unit and its place the value.
    pub alpha: Option<f64>,
}

/// The rankings of one comparison, by trainer.
pub struct Ranked<'a> {
    pub rankings: &'a [(Uuid, Places)],
}

/// Agreement over comparisons; those ranked by fewer than two trainers are left out.
pub fn agreement(comparisons: &[Ranked<'_>]) -> Agreement {
    let mut tally = AgreementTally::default();
    for comparison in comparisons {
        tally.add(comparison.rankings);
    }
    tally.agreement()
}

/// Agreement summed one comparison at a time: what it keeps does not grow with the number
/// of comparisons, so figures over millions of rankings read them page by page.
#[derive(Debug, Clone, Default)]
pub struct AgreementTally {
    comparisons: usize,
    alike: usize,
    pairs: usize,
    tau_sum: f64,
    taus: usize,
    coincidences: Coincidences,
}

impl AgreementTally {
    /// Adds one comparison's rankings (by trainer); fewer than two count for nothing.
    pub fn add(&mut self, rankings: &[(Uuid, Places)]) {
        if rankings.len() < 2 {
            return;
        }
        self.comparisons += 1;
        for (i, (_, a)) in rankings.iter().enumerate() {
            for (_, b) in &rankings[i + 1..] {
                if let Some((x, y)) = pair_agreement(a, b) {
                    self.alike += x;
                    self.pairs += y;
                }
                if let Some(tau) = kendall_tau_b(a, b) {
                    self.tau_sum += tau;
                    self.taus += 1;
                }
            }
        }
        let mut items: Vec<Uuid> = rankings.iter().flat_map(|(_, r)| r.keys().copied()).collect();
        items.sort();
        items.dedup();
        for item in items {
            let unit: Vec<f64> =
                rankings.iter().filter_map(|(_, r)| r.get(&item)).map(|p| (*p + 1) as f64).collect();
            self.coincidences.add(&unit);
        }
    }

    pub fn agreement(&self) -> Agreement {
        Agreement {
            comparisons: self.comparisons,
            pairwise: (self.pairs > 0).then(|| self.alike as f64 / self.pairs as f64),
            kendall_tau: (self.taus > 0).then(|| self.tau_sum / self.taus as f64),
            alpha: self.coincidences.alpha(Metric::Ordinal),
        }
    }
}

/// Each trainer's mean Kendall's τ-b against the consensus of the *other* trainers of the
/// same comparisons (leaving their own ranking out of the consensus they are held to).
pub fn agreement_with_consensus(comparisons: &[Ranked<'_>]) -> HashMap<Uuid, (f64, usize)> {
    let mut tally = ConsensusTally::default();
    for comparison in comparisons {
        tally.add(comparison.rankings);
    }
    tally.per_trainer()
}

/// `agreement_with_consensus` summed one comparison at a time: a sum and a count per trainer.
#[derive(Debug, Clone, Default)]
pub struct ConsensusTally {
    taus: HashMap<Uuid, (f64, usize)>,
}

impl ConsensusTally {
    pub fn add(&mut self, rankings: &[(Uuid, Places)]) {
        if rankings.len() < 2 {
            return;
        }
        for (who, mine) in rankings {
            let others: Vec<Places> =
                rankings.iter().filter(|(w, _)| w != who).map(|(_, r)| r.clone()).collect();
            let mut items: Vec<Uuid> = mine.keys().copied().collect();
            items.sort();
            let rest = places(&consensus(&items, &others));
            if let Some(tau) = kendall_tau_b(mine, &rest) {
                let entry = self.taus.entry(*who).or_default();
                entry.0 += tau;
                entry.1 += 1;
            }
        }
    }

    /// Per trainer: mean τ-b and the comparisons it is over.
    pub fn per_trainer(&self) -> HashMap<Uuid, (f64, usize)> {
        self.taus.iter().map(|(who, (sum, n))| (*who, (sum / *n as f64, *n))).collect()
    }
}

pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|i| Uuid::from_u128(i as u128 + 1)).collect()
    }

    fn ranked(ids: &[Uuid], order: &[&[usize]]) -> Places {
        places(&order.iter().map(|g| g.iter().map(|i| ids[*i]).collect()).collect::<Vec<_>>())
    }

    /// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the example of four
    /// observers, twelve units, values 1–5 with missing data: α nominal 0.743, ordinal 0.815,
    /// interval 0.849.
    #[test]
    fn alpha_matches_krippendorffs_published_example() {
        let none = f64::NAN;
        let observers: [[f64; 12]; 4] = [
            [1., 2., 3., 3., 2., 1., 4., 1., 2., none, none, none],
            [1., 2., 3., 3., 2., 2., 4., 1., 2., 5., none, 3.],
            [none, 3., 3., 3., 2., 3., 4., 2., 2., 5., 1., none],
            [1., 2., 3., 3., 2., 4., 4., 1., 2., 5., 1., none],
        ];
        let units: Vec<Vec<f64>> =
            (0..12).map(|u| observers.iter().map(|o| o[u]).filter(|v| !v.is_nan()).collect()).collect();
        let round = |x: Option<f64>| (x.unwrap() * 1000.0).round() / 1000.0;
        assert_eq!(round(krippendorff_alpha(&units, Metric::Nominal)), 0.743);
        assert_eq!(round(krippendorff_alpha(&units, Metric::Ordinal)), 0.815);
        assert_eq!(round(krippendorff_alpha(&units, Metric::Interval)), 0.849);
    }

    #[test]
    fn alpha_is_one_when_all_agree_and_undefined_without_variation() {
        let units = vec![vec![1.0, 1.0], vec![2.0, 2.0], vec![3.0, 3.0, 3.0]];
        assert_eq!(krippendorff_alpha(&units, Metric::Ordinal), Some(1.0));
        assert_eq!(krippendorff_alpha(&[vec![2.0, 2.0], vec![2.0]], Metric::Ordinal), None);
    }

    #[test]
    fn kendall_tau_by_hand() {
        let x = ids(4);
        let a = ranked(&x, &[&[0], &[1], &[2], &[3]]);
        // One of six pairs swapped: (5 − 1) / 6.
        let b = ranked(&x, &[&[0], &[1], &[3], &[2]]);
        assert!((kendall_tau_b(&a, &b).unwrap() - 4.0 / 6.0).abs() < 1e-12);
        let reversed = ranked(&x, &[&[3], &[2], &[1], &[0]]);
        assert_eq!(kendall_tau_b(&a, &reversed), Some(-1.0));
        // b ties 2 and 3: n0 = 6, n1 = 0, n2 = 1, concordant 5, discordant 0 → 5 / √30.
        let tied = ranked(&x, &[&[0], &[1], &[2, 3]]);
        assert!((kendall_tau_b(&a, &tied).unwrap() - 5.0 / 30f64.sqrt()).abs() < 1e-12);
        let all_tied = ranked(&x, &[&[0, 1, 2, 3]]);
        assert_eq!(kendall_tau_b(&a, &all_tied), None);
        assert_eq!(pair_agreement(&a, &b), Some((5, 6)));
        assert_eq!(pair_agreement(&a, &tied), Some((5, 6)));
    }

    /// The ranked-pairs example of the Tennessee capital vote (42 % Memphis first, 26 %
    /// Nashville, 15 % Chattanooga, 17 % Knoxville): Nashville, Chattanooga, Knoxville, Memphis.
    #[test]
    fn ranked_pairs_orders_the_tennessee_example() {
        let x = ids(4);
        let (memphis, nashville, chattanooga, knoxville) = (0, 1, 2, 3);
        let mut ballots = Vec::new();
        for (count, order) in [
            (42, [memphis, nashville, chattanooga, knoxville]),
            (26, [nashville, chattanooga, knoxville, memphis]),
            (15, [chattanooga, knoxville, nashville, memphis]),
            (17, [knoxville, chattanooga, nashville, memphis]),
        ] {
            for _ in 0..count {
                ballots.push(ranked(&x, &[&[order[0]], &[order[1]], &[order[2]], &[order[3]]]));
            }
        }
        let expected: Vec<Vec<Uuid>> =
            [nashville, chattanooga, knoxville, memphis].iter().map(|i| vec![x[*i]]).collect();
        assert_eq!(consensus(&x, &ballots), expected);
    }

    #[test]
    fn consensus_breaks_a_cycle_and_keeps_true_ties() {
        let x = ids(3);
        // A > B > C, B > C > A, C > A > B: every majority is 1; Borda is equal, so the first
        // pairs in order are locked (A > B, then B > C) and C > A would close the cycle.
        let cycle = [
            ranked(&x, &[&[0], &[1], &[2]]),
            ranked(&x, &[&[1], &[2], &[0]]),
            ranked(&x, &[&[2], &[0], &[1]]),
        ];
        assert_eq!(consensus(&x, &cycle), vec![vec![x[0]], vec![x[1]], vec![x[2]]]);
        // Two trainers disagree on A and B: they share the top place above C.
        let split = [ranked(&x, &[&[0], &[1], &[2]]), ranked(&x, &[&[1], &[0], &[2]])];
        assert_eq!(consensus(&x, &split), vec![vec![x[0], x[1]], vec![x[2]]]);
        // Borda: A 1.5 + 1 … per ranking, one point per completion below.
        assert_eq!(borda(&x, &split), vec![3.0, 3.0, 0.0]);
    }

    #[test]
    fn bradley_terry_by_hand() {
        // A beats B three times and loses once: s_A / s_B = 3, geometric mean 1 → √3 and 1/√3.
        let games = [
            Game { winner: 0, loser: 1, weight: 1.0 },
            Game { winner: 0, loser: 1, weight: 1.0 },
            Game { winner: 0, loser: 1, weight: 1.0 },
            Game { winner: 1, loser: 0, weight: 1.0 },
        ];
        let s = bradley_terry(2, &games, 0.0);
        assert!((s[0] - 3f64.sqrt()).abs() < 1e-6, "{s:?}");
        assert!((s[0] / s[1] - 3.0).abs() < 1e-6);
        // Three players in a chain with a prior: the order follows the wins.
        let chain = [Game { winner: 0, loser: 1, weight: 1.0 }, Game { winner: 1, loser: 2, weight: 1.0 }];
        let s = bradley_terry(3, &chain, 0.5);
        assert!(s[0] > s[1] && s[1] > s[2], "{s:?}");
    }

    #[test]
    fn bootstrap_interval_brackets_the_estimate() {
        let clusters: Vec<Vec<Game>> = (0..40)
            .map(|i| {
                vec![if i % 4 == 0 {
                    Game { winner: 1, loser: 0, weight: 1.0 }
                } else {
                    Game { winner: 0, loser: 1, weight: 1.0 }
                }]
            })
            .collect();
        let mut state = 7u64;
        let mut pick = |n: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as usize) % n
        };
        let out = bradley_terry_intervals(2, &clusters.into(), 0.5, 200, 0.95, &mut pick);
        let (s, low, high) = out[0];
        assert!(low < s && s < high, "{out:?}");
        assert!(low > 1.0, "A wins 3 of 4: its interval stays above even ({out:?})");
    }

    #[test]
    fn agreement_and_consensus_per_trainer() {
        let x = ids(3);
        let (t1, t2, t3) = (Uuid::from_u128(101), Uuid::from_u128(102), Uuid::from_u128(103));
        let same = ranked(&x, &[&[0], &[1], &[2]]);
        let rankings = vec![(t1, same.clone()), (t2, same.clone()), (t3, ranked(&x, &[&[2], &[1], &[0]]))];
        let lone = vec![(t1, same.clone())];
        let figures = agreement(&[Ranked { rankings: &rankings }, Ranked { rankings: &lone }]);
        assert_eq!(figures.comparisons, 1);
        // Pairs of trainers: (1,2) order all 3 completion pairs alike, (1,3) and (2,3) none.
        assert_eq!(figures.pairwise, Some(3.0 / 9.0));
        assert!((figures.kendall_tau.unwrap() - (1.0 - 1.0 - 1.0) / 3.0).abs() < 1e-12);
        assert!(figures.alpha.unwrap() < 0.5);
        let per = agreement_with_consensus(&[Ranked { rankings: &rankings }]);
        // Trainer 3's others (1 and 2) both say A > B > C: τ = −1. Trainer 1's others (2 and 3)
        // cancel out into a consensus that ties everything, where τ-b is undefined: not counted.
        assert_eq!(per[&t3], (-1.0, 1));
        assert!(!per.contains_key(&t1));
    }
}
