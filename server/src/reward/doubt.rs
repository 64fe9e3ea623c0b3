//! Doubtful rankings: those the reward model and the other trainers of the same comparison
//! both order the other way (`app::reward::DOUBT_THRESHOLD`).

use app::reward::{DOUBT_THRESHOLD, Doubt};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// One ordered pair of one ranking: rows of the reply features (and of `texts`).
pub struct RankedPair<'a> {
    pub ranking: &'a str,
    pub comparison: &'a str,
    pub trainer: &'a str,
    pub chosen: usize,
    pub rejected: usize,
}

fn chance(margin: f32) -> f64 {
    1.0 / (1.0 + (-f64::from(margin)).exp())
}

/// The doubtful rankings among `pairs` by `scores` (each from a head that did not see the
/// reply's comparison), most doubtful first, the replies' scores by text.
pub fn doubts(pairs: &[RankedPair], scores: &[f32], texts: &[String]) -> Vec<Doubt> {
    let mut by_ranking: BTreeMap<&str, Vec<&RankedPair>> = BTreeMap::new();
    let mut by_comparison: HashMap<&str, Vec<&RankedPair>> = HashMap::new();
    for p in pairs {
        by_ranking.entry(p.ranking).or_default().push(p);
        by_comparison.entry(p.comparison).or_default().push(p);
    }
    let mut out = vec![];
    for (ranking, own) in by_ranking {
        let first = own[0];
        let model_agreement =
            own.iter().map(|p| chance(scores[p.chosen] - scores[p.rejected])).sum::<f64>() / own.len() as f64;
        let theirs: Vec<&&RankedPair> =
            by_comparison[first.comparison].iter().filter(|q| q.ranking != ranking).collect();
        let (mut agree, mut disagree) = (0usize, 0usize);
        for p in &own {
            for q in &theirs {
                if (q.chosen, q.rejected) == (p.chosen, p.rejected) {
                    agree += 1;
                } else if (q.chosen, q.rejected) == (p.rejected, p.chosen) {
                    disagree += 1;
                }
            }
        }
        if agree + disagree == 0 {
            continue;
        }
        let others_agreement = agree as f64 / (agree + disagree) as f64;
        if model_agreement > DOUBT_THRESHOLD || others_agreement > DOUBT_THRESHOLD {
            continue;
        }
        let (Ok(ranking_id), Ok(comparison_id)) =
            (Uuid::parse_str(ranking), Uuid::parse_str(first.comparison))
        else {
            continue;
        };
        let others = theirs.iter().map(|q| q.ranking).collect::<std::collections::BTreeSet<_>>().len();
        let mut rows: Vec<usize> = own.iter().flat_map(|p| [p.chosen, p.rejected]).collect();
        rows.sort_unstable();
        rows.dedup();
        out.push(Doubt {
            ranking_id,
            comparison_id,
            trainer: first.trainer.to_string(),
            model_agreement,
            others_agreement,
            others,
            pairs: own.len(),
            scores: rows.iter().map(|&r| (texts[r].clone(), scores[r])).collect(),
        });
    }
    out.sort_by(|a, b| {
        (a.model_agreement + a.others_agreement).total_cmp(&(b.model_agreement + b.others_agreement))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair<'a>(ranking: &'a str, comparison: &'a str, chosen: usize, rejected: usize) -> RankedPair<'a> {
        RankedPair { ranking, comparison, trainer: ranking, chosen, rejected }
    }

    #[test]
    fn a_ranking_is_doubtful_only_when_the_model_and_the_others_both_disagree() {
        let (r1, r2, r3, r4) = (
            "00000000-0000-0000-0000-000000000001",
            "00000000-0000-0000-0000-000000000002",
            "00000000-0000-0000-0000-000000000003",
            "00000000-0000-0000-0000-000000000004",
        );
        let (c1, c2) = ("00000000-0000-0000-0000-0000000000c1", "00000000-0000-0000-0000-0000000000c2");
        // Comparison 1: replies 0 and 1; the model scores 0 far above 1. Two trainers put 0
        // first, the third 1. Comparison 2 (replies 2 and 3): one ranker alone, against the
        // model: no one else to agree with, so not doubtful.
        let scores = [3.0, -3.0, 3.0, -3.0];
        let texts: Vec<String> = ["good", "bad", "good too", "bad too"].map(String::from).to_vec();
        let pairs = [pair(r1, c1, 0, 1), pair(r2, c1, 0, 1), pair(r3, c1, 1, 0), pair(r4, c2, 3, 2)];
        let found = doubts(&pairs, &scores, &texts);
        assert_eq!(found.len(), 1, "{found:?}");
        let d = &found[0];
        assert_eq!((d.ranking_id.to_string().as_str(), d.others, d.pairs), (r3, 2, 1));
        assert!(d.model_agreement < 0.01 && d.others_agreement == 0.0, "{d:?}");
        assert_eq!(d.scores, vec![("good".to_string(), 3.0), ("bad".to_string(), -3.0)]);
        // A model that is unsure does not make a ranking doubtful, however the others rank.
        let unsure = [0.1, -0.1, 0.1, -0.1];
        assert!(doubts(&pairs, &unsure, &texts).is_empty());
    }
}
