//! Any bytes, as the ranking part of a `rank/submit` body: a ranking the check accepts
//! orders each shown completion once, and expands into exactly the pairs its groups imply,
//! the better one first.
#![no_main]

use app::ranking::{Ranking, pairs, tie_pairs};
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

#[derive(serde::Deserialize)]
struct Body {
    ranking: Vec<Vec<Uuid>>,
    shown: Vec<Uuid>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Body>(data) else { return };
    if body.shown.len() > 64 {
        return;
    }
    let ranking = Ranking { groups: body.ranking };
    if ranking.check(&body.shown).is_err() {
        return;
    }
    let ranks = ranking.ranks();
    assert_eq!(ranks.len(), body.shown.len());
    for id in &body.shown {
        assert_eq!(ranks.iter().filter(|(r, _)| r == id).count(), 1);
    }
    let sizes: Vec<usize> = ranking.groups.iter().map(Vec::len).collect();
    let expected: usize =
        (0..sizes.len()).flat_map(|i| (i + 1..sizes.len()).map(move |j| (i, j))).map(|(i, j)| sizes[i] * sizes[j]).sum();
    let made = pairs(Uuid::nil(), &ranking);
    assert_eq!(made.len(), expected);
    let rank = |id: Uuid| ranks.iter().find(|(r, _)| *r == id).unwrap().1;
    for pair in &made {
        assert!(rank(pair.chosen) < rank(pair.rejected));
        assert_eq!(pair.margin, rank(pair.rejected) - rank(pair.chosen));
    }
    let ties: usize = sizes.iter().map(|n| n * n.saturating_sub(1) / 2).sum();
    assert_eq!(tie_pairs(Uuid::nil(), &ranking).len(), ties);
});
