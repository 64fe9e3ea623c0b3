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
    #[error("completion {0} is listed twice among those shown")]
    ShownTwice(Uuid),
}

impl Ranking {
    /// Checks that the ranking orders exactly the `shown` completions, each once.
    pub fn check(&self, shown: &[Uuid]) -> Result<(), RankingError> {
        if self.groups.is_empty() {
            return Err(RankingError::Empty);
        }
        // Found by fuzzing: a shown list with a repeat let a ranking of fewer completions
        // through.
        if let Some((_, id)) = shown.iter().enumerate().find(|(i, id)| shown[..*i].contains(id)) {
            return Err(RankingError::ShownTwice(*id));
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

/// A ranking being built on the Rank page: places (groups of tied completions, best first)
/// and the completions not placed yet. Every move keeps each completion in exactly one spot.
/// A number means that place: putting a completion at place 4 first leaves places 1–3
/// empty until they are filled, and the board is not complete while one is. Relative moves
/// (a step up or down, a drop on another card, the last place) close the empty places up.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Board {
    pub groups: Vec<Vec<Uuid>>,
    pub unranked: Vec<Uuid>,
}

impl Board {
    /// Nothing placed yet; the completions in the order shown.
    pub fn new(shown: &[Uuid]) -> Board {
        Board { groups: vec![], unranked: shown.to_vec() }
    }

    /// A submitted ranking (or a saved board), to revise; `shown` not in it are unplaced.
    pub fn from_ranking(ranking: &Ranking) -> Board {
        Board { groups: ranking.groups.clone(), unranked: vec![] }
    }

    /// The place (from 1) of a completion, none while unplaced.
    pub fn place_of(&self, id: Uuid) -> Option<usize> {
        self.groups.iter().position(|g| g.contains(&id)).map(|g| g + 1)
    }

    /// Every completion placed, and no place empty.
    pub fn complete(&self) -> bool {
        self.unranked.is_empty() && !self.groups.is_empty() && self.empty_places().is_empty()
    }

    /// The places (from 1) above the last one that nobody holds.
    pub fn empty_places(&self) -> Vec<usize> {
        self.groups.iter().enumerate().filter(|(_, g)| g.is_empty()).map(|(i, _)| i + 1).collect()
    }

    /// How many completions the board holds.
    fn len(&self) -> usize {
        self.groups.iter().map(Vec::len).sum::<usize>() + self.unranked.len()
    }

    pub fn ranking(&self) -> Ranking {
        Ranking { groups: self.groups.iter().filter(|g| !g.is_empty()).cloned().collect() }
    }

    /// The completions top to bottom, as the page lists them: placed, then unplaced.
    pub fn order(&self) -> Vec<Uuid> {
        self.groups.iter().flatten().chain(&self.unranked).copied().collect()
    }

    /// Takes a completion out of wherever it is; empty places at the end go.
    fn take(&mut self, id: Uuid) {
        self.unranked.retain(|u| *u != id);
        for group in &mut self.groups {
            group.retain(|g| *g != id);
        }
        while self.groups.last().is_some_and(Vec::is_empty) {
            self.groups.pop();
        }
    }

    /// Closes the empty places up (for the relative moves).
    fn close_up(&mut self) {
        self.groups.retain(|g| !g.is_empty());
    }

    /// Puts a completion at place `place` (from 1; above the number of completions, the
    /// last possible one), tied with what is there; places above it that nobody holds stay
    /// empty.
    pub fn place(&mut self, id: Uuid, place: usize) {
        let place = place.clamp(1, self.len().max(1));
        self.take(id);
        while self.groups.len() < place {
            self.groups.push(vec![]);
        }
        self.groups[place - 1].push(id);
    }

    /// A place of its own after the last one (empty places close up).
    pub fn place_last(&mut self, id: Uuid) {
        self.take(id);
        self.close_up();
        self.groups.push(vec![id]);
    }

    /// Takes a completion's place away (its place stays, empty, when others are below it).
    pub fn unplace(&mut self, id: Uuid) {
        self.take(id);
        self.unranked.push(id);
    }

    /// One step up: out of a tie to just above it, or from alone into a tie with the place
    /// above. An unplaced completion goes to a new last place.
    pub fn raise(&mut self, id: Uuid) {
        self.close_up();
        let Some(place) = self.place_of(id) else {
            return self.place_last(id);
        };
        let g = place - 1;
        if self.groups[g].len() > 1 {
            self.groups[g].retain(|x| *x != id);
            self.groups.insert(g, vec![id]);
        } else if g > 0 {
            self.groups.remove(g);
            self.groups[g - 1].push(id);
        }
    }

    /// One step down: out of a tie to just below it, or from alone into a tie with the place
    /// below. An unplaced completion goes to a new last place.
    pub fn lower(&mut self, id: Uuid) {
        self.close_up();
        let Some(place) = self.place_of(id) else {
            return self.place_last(id);
        };
        let g = place - 1;
        if self.groups[g].len() > 1 {
            self.groups[g].retain(|x| *x != id);
            self.groups.insert(g + 1, vec![id]);
        } else if g + 1 < self.groups.len() {
            self.groups.remove(g);
            self.groups[g].push(id);
        }
    }

    /// Dropped on another completion: a place of its own just above that one's (or, dropped
    /// on an unplaced one, a new last place).
    pub fn drop_above(&mut self, id: Uuid, target: Uuid) {
        if id == target {
            return;
        }
        self.take(id);
        self.close_up();
        match self.place_of(target) {
            Some(place) => self.groups.insert(place - 1, vec![id]),
            None => self.groups.push(vec![id]),
        }
    }

    /// What stands between the board and a submit, in words ("Place 2 is empty; C is not
    /// placed yet."), given each completion's letter; `None` when complete.
    pub fn missing(&self, letter: impl Fn(Uuid) -> char) -> Option<String> {
        if self.complete() {
            return None;
        }
        let list = |items: Vec<String>| match items.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        };
        let mut parts = vec![];
        let empty = self.empty_places();
        if !empty.is_empty() {
            let (noun, verb) = if empty.len() == 1 { ("Place", "is") } else { ("Places", "are") };
            parts
                .push(format!("{noun} {} {verb} empty", list(empty.iter().map(|p| p.to_string()).collect())));
        }
        if !self.unranked.is_empty() {
            let verb = if self.unranked.len() == 1 { "is" } else { "are" };
            let letters = list(self.unranked.iter().map(|id| letter(*id).to_string()).collect());
            parts.push(format!("{letters} {verb} not placed yet"));
        }
        if parts.is_empty() {
            parts.push("Nothing is placed yet".to_string());
        }
        Some(format!("{}.", parts.join("; ")))
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

/// The pairs a ranking's ties would make (margin 0), for exports that ask for them: within
/// each group, every earlier completion against every later one.
pub fn tie_pairs(ranking_id: Uuid, ranking: &Ranking) -> Vec<Pair> {
    let mut pairs = vec![];
    for group in &ranking.groups {
        for (i, chosen) in group.iter().enumerate() {
            for rejected in &group[i + 1..] {
                pairs.push(Pair { ranking_id, chosen: *chosen, rejected: *rejected, margin: 0 });
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_make_pairs_of_margin_0_only_when_asked() {
        let tied = ranking(&[&[1], &[2, 3, 4]]);
        assert_eq!(pairs(Uuid::nil(), &tied).len(), 3);
        let ties = tie_pairs(Uuid::nil(), &tied);
        assert_eq!(ties.len(), 3, "C(3,2) within the tied group");
        assert!(ties.iter().all(|p| p.margin == 0));
    }

    fn ids(n: u128) -> Vec<Uuid> {
        (1..=n).map(Uuid::from_u128).collect()
    }

    fn ranking(groups: &[&[u128]]) -> Ranking {
        Ranking { groups: groups.iter().map(|g| g.iter().map(|i| Uuid::from_u128(*i)).collect()).collect() }
    }

    #[test]
    fn a_shown_list_with_a_repeat_is_refused() {
        // The fuzzer's find (tests/fuzz/corpus/ranking/shown-twice): two completions ranked
        // against three shown, one of them twice.
        let one = Uuid::from_u128(1);
        let shown = [one, one, Uuid::from_u128(2)];
        assert_eq!(ranking(&[&[2], &[1]]).check(&shown), Err(RankingError::ShownTwice(one)));
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

    fn board_groups(board: &Board) -> Vec<Vec<u128>> {
        board.groups.iter().map(|g| g.iter().map(|id| id.as_u128()).collect()).collect()
    }

    #[test]
    fn number_keys_place_and_tie() {
        let mut board = Board::new(&ids(4));
        let [a, b, c, d] = [1, 2, 3, 4].map(Uuid::from_u128);
        board.place(c, 1);
        board.place(a, 2);
        board.place(d, 2);
        assert!(!board.complete());
        board.place(b, 3);
        assert!(board.complete());
        assert_eq!(board_groups(&board), vec![vec![3], vec![1, 4], vec![2]]);
        assert_eq!(board.ranking().check(&ids(4)), Ok(()));
        // Moving the only one at place 1 away leaves place 1 empty.
        board.place(c, 3);
        assert_eq!(board_groups(&board), vec![vec![], vec![1, 4], vec![2, 3]]);
        assert_eq!(board.empty_places(), [1]);
        assert!(!board.complete());
        board.place(c, 1);
        board.unplace(a);
        assert_eq!(board.order().iter().map(|i| i.as_u128()).collect::<Vec<_>>(), [3, 4, 2, 1]);
    }

    /// The trap a trainer fell into: meaning B > C > D > A, they pressed 4 on A first, then
    /// 1 on B. A number is that place, whatever is placed already.
    #[test]
    fn a_number_is_that_place_and_the_gaps_show_until_filled() {
        let mut board = Board::new(&ids(4));
        let [a, b, c, d] = [1, 2, 3, 4].map(Uuid::from_u128);
        let letter = |id: Uuid| (b'A' + id.as_u128() as u8 - 1) as char;
        board.place(a, 4);
        assert_eq!(board.place_of(a), Some(4));
        assert_eq!(board.empty_places(), [1, 2, 3]);
        board.place(b, 1);
        assert_eq!(board.place_of(b), Some(1), "1 on B is first, not a tie with A");
        assert_eq!(board.place_of(a), Some(4));
        assert_eq!(
            board.missing(letter).as_deref(),
            Some("Places 2 and 3 are empty; C and D are not placed yet.")
        );
        board.place(c, 2);
        assert_eq!(board.missing(letter).as_deref(), Some("Place 3 is empty; D is not placed yet."));
        board.place(d, 3);
        assert!(board.complete());
        assert_eq!(board.missing(letter), None);
        assert_eq!(board_groups(&board), vec![vec![2], vec![3], vec![4], vec![1]]);
        // Past the number of completions: the last place there can be.
        board.place(b, 9);
        assert_eq!(board_groups(&board), vec![vec![], vec![3], vec![4], vec![1, 2]]);
        // A relative move closes the empty places up.
        board.raise(c);
        assert_eq!(board_groups(&board), vec![vec![3], vec![4], vec![1, 2]]);
        board.place_last(c);
        assert_eq!(board_groups(&board), vec![vec![4], vec![1, 2], vec![3]]);
        assert_eq!(Board::new(&ids(2)).missing(letter).as_deref(), Some("A and B are not placed yet."));
    }

    #[test]
    fn arrows_step_through_ties() {
        let mut board = Board::from_ranking(&ranking(&[&[1], &[2], &[3]]));
        let c = Uuid::from_u128(3);
        board.raise(c);
        assert_eq!(board_groups(&board), vec![vec![1], vec![2, 3]], "alone: tie with the place above");
        board.raise(c);
        assert_eq!(board_groups(&board), vec![vec![1], vec![3], vec![2]], "tied: just above the tie");
        board.raise(c);
        board.raise(c);
        assert_eq!(board_groups(&board), vec![vec![3], vec![1], vec![2]]);
        board.raise(c);
        assert_eq!(board_groups(&board), vec![vec![3], vec![1], vec![2]], "the top stays the top");
        board.lower(c);
        assert_eq!(board_groups(&board), vec![vec![1, 3], vec![2]]);
        board.lower(c);
        board.lower(c);
        board.lower(c);
        assert_eq!(board_groups(&board), vec![vec![1], vec![2], vec![3]]);
        let mut fresh = Board::new(&ids(2));
        fresh.lower(Uuid::from_u128(2));
        assert_eq!(board_groups(&fresh), vec![vec![2]]);
    }

    #[test]
    fn dropping_on_a_card_takes_its_place() {
        let mut board = Board::from_ranking(&ranking(&[&[1], &[2, 3], &[4]]));
        board.drop_above(Uuid::from_u128(4), Uuid::from_u128(2));
        assert_eq!(board_groups(&board), vec![vec![1], vec![4], vec![2, 3]]);
        board.drop_above(Uuid::from_u128(1), Uuid::from_u128(3));
        assert_eq!(board_groups(&board), vec![vec![4], vec![1], vec![2, 3]]);
        let mut fresh = Board::new(&ids(3));
        fresh.drop_above(Uuid::from_u128(2), Uuid::from_u128(1));
        assert_eq!(board_groups(&fresh), vec![vec![2]]);
        assert_eq!(fresh.unranked.len(), 2);
    }

    #[test]
    fn ranks_share_a_place_when_tied() {
        let ranks = ranking(&[&[3], &[1, 2]]).ranks();
        let as_numbers: Vec<(u128, usize)> = ranks.iter().map(|(id, r)| (id.as_u128(), *r)).collect();
        assert_eq!(as_numbers, [(3, 0), (1, 1), (2, 1)]);
    }
}
