//! Rankings of K completions of one context, as trainers submit them: best first, with ties
//! as groups. Shared by the browser (to build one) and the server (to check one, and to
//! expand it into the chosen/rejected pairs that preference datasets hold).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Fewest and most completions one comparison shows.
pub const MIN_COMPLETIONS: usize = 2;
pub const MAX_COMPLETIONS: usize = 9;

/// An ordering of completions, best first; the completions in one group are tied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranking {
    pub groups: Vec<Vec<Uuid>>,
}

/// Why a submitted ranking is refused; the message names the completion(s) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RankingError {
    #[error("the ranking is empty")]
    Empty,
    #[error("group {0} of the ranking is empty")]
    EmptyGroup(usize),
    #[error("completion {0} is ranked twice")]
    Duplicate(Uuid),
    #[error("completion {0} was not shown in this comparison")]
    Foreign(Uuid),
    #[error("completion {0} is shown but not ranked; rank every completion (ties are allowed)")]
    Missing(Uuid),
}

impl Ranking {
    /// Checks that the ranking orders exactly the `shown` completions, each once.
    pub fn check(&self, shown: &[Uuid]) -> Result<(), RankingError> {
        if self.groups.is_empty() {
            return Err(RankingError::Empty);
        }
        let mut seen: Vec<Uuid> = Vec::with_capacity(shown.len());
        for (i, group) in self.groups.iter().enumerate() {
            if group.is_empty() {
                return Err(RankingError::EmptyGroup(i + 1));
            }
            for id in group {
                if !shown.contains(id) {
                    return Err(RankingError::Foreign(*id));
                }
                if seen.contains(id) {
                    return Err(RankingError::Duplicate(*id));
                }
                seen.push(*id);
            }
        }
        match shown.iter().find(|id| !seen.contains(id)) {
            Some(missing) => Err(RankingError::Missing(*missing)),
            None => Ok(()),
        }
    }

    /// The rank of each completion, from 0 (best); tied completions share one.
    pub fn ranks(&self) -> Vec<(Uuid, usize)> {
        self.groups
            .iter()
            .enumerate()
            .flat_map(|(rank, group)| group.iter().map(move |id| (*id, rank)))
            .collect()
    }
}

/// One preference: `chosen` was ranked above `rejected` in ranking `ranking_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    pub ranking_id: Uuid,
    pub chosen: Uuid,
    pub rejected: Uuid,
    /// How many groups apart the two were (1 = neighbours); a margin for reward models.
    pub margin: usize,
}

/// Every chosen/rejected pair a ranking implies: C(K,2) for K completions without ties;
/// tied completions make no pair. Better-ranked completions come first, then by the order
/// within their group.
pub fn pairs(ranking_id: Uuid, ranking: &Ranking) -> Vec<Pair> {
    let mut pairs = vec![];
    for (better_rank, better) in ranking.groups.iter().enumerate() {
        for (worse_rank, worse) in ranking.groups.iter().enumerate().skip(better_rank + 1) {
            for chosen in better {
                for rejected in worse {
                    pairs.push(Pair {
                        ranking_id,
                        chosen: *chosen,
                        rejected: *rejected,
                        margin: worse_rank - better_rank,
                    });
                }
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u128) -> Vec<Uuid> {
        (1..=n).map(Uuid::from_u128).collect()
    }

    fn ranking(groups: &[&[u128]]) -> Ranking {
        Ranking { groups: groups.iter().map(|g| g.iter().map(|i| Uuid::from_u128(*i)).collect()).collect() }
    }

    #[test]
    fn a_strict_order_of_k_makes_k_choose_2_pairs() {
        for k in 2..=MAX_COMPLETIONS as u128 {
            let order: Vec<Vec<Uuid>> = ids(k).into_iter().map(|id| vec![id]).collect();
            let expanded = pairs(Uuid::nil(), &Ranking { groups: order });
            assert_eq!(expanded.len() as u128, k * (k - 1) / 2, "K = {k}");
        }
        let expanded = pairs(Uuid::from_u128(99), &ranking(&[&[2], &[1], &[3]]));
        let as_numbers: Vec<(u128, u128, usize)> =
            expanded.iter().map(|p| (p.chosen.as_u128(), p.rejected.as_u128(), p.margin)).collect();
        assert_eq!(as_numbers, [(2, 1, 1), (2, 3, 2), (1, 3, 1)]);
        assert!(expanded.iter().all(|p| p.ranking_id == Uuid::from_u128(99)));
    }

    #[test]
    fn ties_make_no_pair() {
        // [1 2] tied above 3, 4 tied with nothing below: 1>3, 2>3, 1>4, 2>4, 3>4.
        let expanded = pairs(Uuid::nil(), &ranking(&[&[1, 2], &[3], &[4]]));
        assert_eq!(expanded.len(), 5);
        assert!(!expanded.iter().any(|p| [p.chosen.as_u128(), p.rejected.as_u128()] == [1, 2]));
        assert!(pairs(Uuid::nil(), &ranking(&[&[1, 2, 3, 4]])).is_empty(), "all tied: nothing preferred");
    }

    #[test]
    fn check_names_duplicate_missing_and_foreign_completions() {
        let shown = ids(4);
        assert_eq!(ranking(&[&[1], &[2, 3], &[4]]).check(&shown), Ok(()));
        assert_eq!(ranking(&[&[1], &[2], &[2], &[4]]).check(&shown), Err(RankingError::Duplicate(shown[1])));
        assert_eq!(ranking(&[&[1], &[2], &[4]]).check(&shown), Err(RankingError::Missing(shown[2])));
        assert_eq!(
            ranking(&[&[1], &[2], &[3], &[4], &[7]]).check(&shown),
            Err(RankingError::Foreign(Uuid::from_u128(7)))
        );
        assert_eq!(ranking(&[&[1, 2], &[], &[3, 4]]).check(&shown), Err(RankingError::EmptyGroup(2)));
        assert_eq!(Ranking { groups: vec![] }.check(&shown), Err(RankingError::Empty));
        let message = RankingError::Missing(shown[2]).to_string();
        assert!(message.contains(&shown[2].to_string()) && message.contains("ties are allowed"), "{message}");
    }

    #[test]
    fn ranks_share_a_place_when_tied() {
        let ranks = ranking(&[&[3], &[1, 2]]).ranks();
        let as_numbers: Vec<(u128, usize)> = ranks.iter().map(|(id, r)| (id.as_u128(), *r)).collect();
        assert_eq!(as_numbers, [(3, 0), (1, 1), (2, 1)]);
    }
}
