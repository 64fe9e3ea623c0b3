//! Quality figures: the team dashboard (reviewers and admins), each trainer's own progress
//! page (trainers see their own; reviewers and admins anyone's) and the leaderboard.

use crate::error::ApiError;
use crate::stats::{Dashboard, LeaderRow, Progress};
use leptos::prelude::*;
use uuid::Uuid;

/// Days the charts cover.
pub const CHART_DAYS: u32 = 30;

/// The team's figures: work per day, queues, agreement (overall, per day, batch, model
/// version and trainer), model versions head to head, feedback categories, filter precision.
#[server(endpoint = "stats/dashboard")]
pub async fn quality_dashboard() -> Result<Dashboard, ApiError> {
    crate::ssr::require(crate::domain::Role::Reviewer).await?;
    let state = crate::ssr::state()?;
    let store = state.store.clone();
    let (mut dashboard, freshness) =
        state.figures.get("dashboard", move || compute::dashboard(store)).await?;
    dashboard.freshness = freshness;
    Ok(dashboard)
}

/// A trainer's own figures; `user_id` picks another trainer (reviewers and admins only).
/// The latest finished reward-model run, for the Quality page: its held-out accuracy
/// overall, per batch and per model version, and its calibration. None before one finished.
#[server(endpoint = "stats/reward")]
pub async fn reward_figures() -> Result<Option<crate::reward::RewardRun>, ApiError> {
    crate::ssr::require(crate::domain::Role::Reviewer).await?;
    Ok(crate::ssr::state()?.store.latest_reward_run().await?)
}

#[server(endpoint = "stats/progress")]
pub async fn trainer_progress(#[server(default)] user_id: Option<Uuid>) -> Result<Progress, ApiError> {
    use crate::domain::Role;
    use crate::error::ErrorKind;
    let caller = crate::ssr::require(Role::Trainer).await?;
    let whom = user_id.unwrap_or(caller.id);
    if whom != caller.id && !caller.role.allows(Role::Reviewer) {
        return Err(ApiError::new(ErrorKind::Forbidden, "trainers see their own figures only"));
    }
    let state = crate::ssr::state()?;
    let store = state.store.clone();
    let (everyone, freshness) = state.figures.get("progress", move || compute::progress(store)).await?;
    let mut progress = match everyone.get(&whom) {
        Some(progress) => progress.clone(),
        None => {
            let user = state
                .store
                .user_by_id(whom)
                .await?
                .ok_or_else(|| ApiError::field(ErrorKind::NotFound, "user_id", "no such account"))?;
            compute::nothing_yet(whom, &user.email)
        }
    };
    progress.freshness = freshness;
    Ok(progress)
}

/// Everyone who worked, by score (the formula is `stats::SCORE_FORMULA`).
#[server(endpoint = "stats/leaderboard")]
pub async fn leaderboard() -> Result<Vec<LeaderRow>, ApiError> {
    crate::ssr::require(crate::domain::Role::Trainer).await?;
    let state = crate::ssr::state()?;
    let store = state.store.clone();
    Ok(state.figures.get("leaderboard", move || compute::leaderboard(store)).await?.0)
}

/// Starts computing the figures as the server starts (see `FigureCache::warm`).
#[cfg(feature = "ssr")]
pub fn warm(state: &crate::ssr::AppState) {
    let store = state.store.clone();
    state.figures.warm("dashboard", move || compute::dashboard(store));
    let store = state.store.clone();
    state.figures.warm("progress", move || compute::progress(store));
    let store = state.store.clone();
    state.figures.warm("leaderboard", move || compute::leaderboard(store));
}

#[cfg(feature = "ssr")]
mod compute {
    use super::CHART_DAYS;
    use crate::error::ApiError;
    use crate::quality::{
        AgreementTally, Clusters, ConsensusTally, Game, Places, bradley_terry_intervals, places,
    };
    use crate::ssr::Store;
    use crate::ssr::clock::last_days;
    use crate::stats::*;
    use std::collections::{BTreeMap, HashMap};
    use std::sync::Arc;
    use uuid::Uuid;

    /// Ranked comparisons read a page at a time.
    const PAGE: usize = 2_000;

    /// What the figures keep of every ranking, summed one comparison at a time: nothing here
    /// grows with the number of comparisons except the head-to-head games, one or two per
    /// comparison that completions of two model versions share.
    #[derive(Default)]
    struct Tallies {
        overall: AgreementTally,
        by_day: BTreeMap<String, AgreementTally>,
        by_batch: BTreeMap<String, AgreementTally>,
        by_model: BTreeMap<Uuid, AgreementTally>,
        consensus: ConsensusTally,
        /// Model versions that wrote a ranked completion, in the order first met.
        players: Vec<Uuid>,
        player: HashMap<Uuid, usize>,
        clusters: Clusters,
    }

    impl Tallies {
        /// One comparison: its latest rankings and the model of each completion.
        fn add(
            &mut self,
            batch: Uuid,
            day: String,
            rankings: &[(Uuid, Places)],
            models: &[(Uuid, Option<Uuid>)],
        ) {
            self.consensus.add(rankings);
            let model_of: HashMap<Uuid, usize> = models
                .iter()
                .filter_map(|(completion, version)| {
                    let version = (*version)?;
                    let next = self.players.len();
                    let index = *self.player.entry(version).or_insert(next);
                    if index == next {
                        self.players.push(version);
                    }
                    Some((*completion, index))
                })
                .collect();
            if rankings.len() > 1 {
                self.overall.add(rankings);
                self.by_day.entry(day).or_default().add(rankings);
                self.by_batch.entry(batch.to_string()[..8].to_string()).or_default().add(rankings);
                // The version that wrote most of the comparison's completions.
                let mut counts: HashMap<usize, usize> = HashMap::new();
                for v in model_of.values() {
                    *counts.entry(*v).or_default() += 1;
                }
                if let Some((v, _)) = counts.into_iter().max_by_key(|(v, n)| (*n, self.players[*v])) {
                    self.by_model.entry(self.players[v]).or_default().add(rankings);
                }
            }
            // Head to head: every ranked pair of completions by two versions, the games of
            // one pair of versions in one direction summed.
            let mut games: BTreeMap<(usize, usize), f64> = BTreeMap::new();
            for (_, ranking) in rankings {
                let mut items: Vec<(&Uuid, &usize)> = ranking.iter().collect();
                items.sort();
                for (i, (a, pa)) in items.iter().enumerate() {
                    for (b, pb) in &items[i + 1..] {
                        let (Some(&ia), Some(&ib)) = (model_of.get(*a), model_of.get(*b)) else { continue };
                        if ia == ib {
                            continue;
                        }
                        match pa.cmp(pb) {
                            std::cmp::Ordering::Less => *games.entry((ia, ib)).or_default() += 1.0,
                            std::cmp::Ordering::Greater => *games.entry((ib, ia)).or_default() += 1.0,
                            std::cmp::Ordering::Equal => {
                                *games.entry((ia, ib)).or_default() += 0.5;
                                *games.entry((ib, ia)).or_default() += 0.5;
                            }
                        }
                    }
                }
            }
            self.clusters.push(games.into_iter().map(|((winner, loser), weight)| Game {
                winner,
                loser,
                weight,
            }));
        }
    }

    /// Every ranked comparison, read page by page into the tallies.
    async fn tallies_of_rankings(store: &dyn Store) -> Result<Tallies, ApiError> {
        let mut tallies = Tallies::default();
        let mut after = None;
        loop {
            let page = store.ranked_page(after, PAGE).await?;
            let Some(last) = page.last else { break };
            let mut models: HashMap<Uuid, Vec<(Uuid, Option<Uuid>)>> = HashMap::new();
            for m in page.completions {
                models.entry(m.comparison_id).or_default().push((m.completion_id, m.model_version_id));
            }
            let mut rows = page.rankings.into_iter().peekable();
            while let Some(first) = rows.next() {
                let (comparison, batch) = (first.comparison_id, first.batch_id);
                let mut day: String = first.created_at.chars().take(10).collect();
                let mut rankings = vec![(first.ranked_by, places(&first.groups))];
                while let Some(row) = rows.next_if(|r| r.comparison_id == comparison) {
                    let d: String = row.created_at.chars().take(10).collect();
                    if d > day {
                        day = d;
                    }
                    rankings.push((row.ranked_by, places(&row.groups)));
                }
                let models = models.remove(&comparison).unwrap_or_default();
                tallies.add(batch, day, &rankings, &models);
            }
            after = Some(last);
        }
        Ok(tallies)
    }

    fn per_day(activity: &[Activity], days: &[String], who: Option<Uuid>) -> Vec<Series> {
        ACTIVITY_KINDS
            .iter()
            .map(|(kind, label)| Series {
                name: label.to_string(),
                values: days
                    .iter()
                    .map(|day| {
                        let n: i64 = activity
                            .iter()
                            .filter(|a| {
                                a.kind == *kind && &a.day == day && who.is_none_or(|w| a.user_id == w)
                            })
                            .map(|a| a.count)
                            .sum();
                        Some(n as f64)
                    })
                    .collect(),
            })
            .collect()
    }

    async fn emails(store: &dyn Store) -> Result<HashMap<Uuid, String>, ApiError> {
        Ok(store.account_names().await?.into_iter().collect())
    }

    fn trainer_agreement(
        consensus: &ConsensusTally,
        emails: &HashMap<Uuid, String>,
    ) -> Vec<TrainerAgreement> {
        let mut out: Vec<TrainerAgreement> = consensus
            .per_trainer()
            .into_iter()
            .map(|(user_id, (tau, comparisons))| TrainerAgreement {
                user_id,
                email: emails.get(&user_id).cloned().unwrap_or_default(),
                tau,
                comparisons,
            })
            .collect();
        out.sort_by(|a, b| a.email.cmp(&b.email));
        out
    }

    pub async fn dashboard(store: Arc<dyn Store>) -> Result<Dashboard, ApiError> {
        let store = &*store;
        let days = last_days(CHART_DAYS);
        let since = format!("{}T", days[0]);
        let activity = store.activity(&since).await?;
        let emails = emails(store).await?;
        let tallies = tallies_of_rankings(store).await?;
        let names: HashMap<Uuid, String> =
            store.list_model_versions().await?.into_iter().map(|m| (m.id, m.name)).collect();
        let name = |v: &Uuid| names.get(v).cloned().unwrap_or_else(|| v.to_string());
        let label = |groups: BTreeMap<String, &AgreementTally>| -> Vec<GroupAgreement> {
            groups
                .into_iter()
                .map(|(label, g)| GroupAgreement { label, agreement: g.agreement() })
                .filter(|g| g.agreement.comparisons > 0)
                .collect()
        };
        let overall = tallies.overall.agreement();
        let agreement_by_day = label(tallies.by_day.iter().map(|(k, v)| (k.clone(), v)).collect());
        let by_batch = label(tallies.by_batch.iter().map(|(k, v)| (k.clone(), v)).collect());
        let by_model = label(tallies.by_model.iter().map(|(k, v)| (name(k), v)).collect());
        let by_trainer = trainer_agreement(&tallies.consensus, &emails);

        // Model versions head to head, numbered in the order of their ids.
        let mut players = tallies.players.clone();
        players.sort();
        let to: Vec<usize> =
            tallies.players.iter().map(|v| players.binary_search(v).expect("listed")).collect();
        let mut clusters = tallies.clusters;
        clusters.renumber(&to);
        let models = if players.len() < 2 || clusters.is_empty() {
            vec![]
        } else {
            use rand::{Rng, SeedableRng};
            let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
            let mut pick = |n: usize| rng.gen_range(0..n);
            let strengths = bradley_terry_intervals(players.len(), &clusters, 0.5, 200, 0.95, &mut pick);
            let mut out: Vec<ModelStrength> = players
                .iter()
                .zip(strengths)
                .enumerate()
                .map(|(i, (id, (strength, low, high)))| {
                    let games: Vec<&Game> =
                        clusters.games().iter().filter(|g| g.winner == i || g.loser == i).collect();
                    ModelStrength {
                        model_version_id: *id,
                        name: name(id),
                        strength,
                        low,
                        high,
                        wins: games.iter().filter(|g| g.winner == i).map(|g| g.weight).sum(),
                        games: games.iter().map(|g| g.weight).sum(),
                    }
                })
                .collect();
            out.sort_by(|a, b| b.strength.total_cmp(&a.strength));
            out
        };

        let marks = store.feedback_marks(&since).await?;
        let mut categories: BTreeMap<String, i64> = BTreeMap::new();
        for (cats, _) in &marks {
            for c in cats {
                *categories.entry(c.clone()).or_default() += 1;
            }
        }
        let mut feedback_categories: Vec<(String, i64)> = categories.into_iter().collect();
        feedback_categories.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(Dashboard {
            freshness: Default::default(),
            per_day: per_day(&activity, &days, None),
            days,
            queues: vec![
                ("Demonstrations to review".to_string(), store.review_queue_size().await?),
                ("Rankings owed".to_string(), store.open_rank_slots().await?),
            ],
            agreement: overall,
            agreement_by_day,
            by_batch,
            by_model,
            by_trainer,
            models,
            feedback_categories,
            thumbs_up: marks.iter().filter(|(_, t)| *t == Some(1)).count() as i64,
            thumbs_down: marks.iter().filter(|(_, t)| *t == Some(-1)).count() as i64,
            filter_precision: store
                .filter_stats()
                .await?
                .into_iter()
                .map(|s| (s.category.clone(), s.precision()))
                .collect(),
        })
    }

    /// Everyone's tally of work, all time, from the activity rows read once by the caller.
    async fn tallies(
        store: &dyn Store,
        emails: &HashMap<Uuid, String>,
        activity: &[Activity],
    ) -> Result<Vec<(Uuid, String, Tally)>, ApiError> {
        let mut tally: HashMap<Uuid, Tally> = HashMap::new();
        for (who, status, n) in store.demonstration_outcomes().await? {
            let t = tally.entry(who).or_default();
            match status.as_str() {
                "accepted" => t.accepted += n,
                "rejected" => t.rejected += n,
                _ => t.unreviewed += n,
            }
        }
        for a in activity {
            let t = tally.entry(a.user_id).or_default();
            match a.kind.as_str() {
                "ranking" => t.rankings += a.count,
                "feedback" => t.feedback += a.count,
                _ => {}
            }
        }
        Ok(tally.into_iter().map(|(id, t)| (id, emails.get(&id).cloned().unwrap_or_default(), t)).collect())
    }

    pub async fn leaderboard(store: Arc<dyn Store>) -> Result<Vec<LeaderRow>, ApiError> {
        let store = &*store;
        let emails = emails(store).await?;
        let activity = store.activity("").await?;
        let scored = tallies(store, &emails, &activity)
            .await?
            .into_iter()
            .filter(|(_, _, t)| t.score() > 0.0)
            .collect();
        Ok(crate::stats::leaderboard(scored))
    }

    /// Every account's progress, from one read of everything: the page of any trainer is then
    /// a lookup.
    pub async fn progress(store: Arc<dyn Store>) -> Result<Arc<HashMap<Uuid, Progress>>, ApiError> {
        let store = &*store;
        let emails = emails(store).await?;
        let days = last_days(CHART_DAYS);
        let activity = store.activity("").await?;
        let calendar = last_days(3650);
        let agreements = trainer_agreement(&tallies_of_rankings(store).await?.consensus, &emails);
        let all = tallies(store, &emails, &activity).await?;
        let board =
            crate::stats::leaderboard(all.iter().filter(|(_, _, t)| t.score() > 0.0).cloned().collect());
        let edited_by: HashMap<Uuid, i64> = store.edited_by_reviewers().await?.into_iter().collect();
        let mut out = HashMap::new();
        for (&whom, email) in &emails {
            out.insert(
                whom,
                one_progress(whom, email, &days, &calendar, &activity, &agreements, &all, &board, &edited_by),
            );
        }
        Ok(Arc::new(out))
    }

    #[allow(clippy::too_many_arguments)]
    fn one_progress(
        whom: Uuid,
        email: &str,
        days: &[String],
        calendar: &[String],
        activity: &[Activity],
        agreements: &[TrainerAgreement],
        all: &[(Uuid, String, Tally)],
        board: &[LeaderRow],
        edited_by: &HashMap<Uuid, i64>,
    ) -> Progress {
        let mine: Vec<&Activity> = activity.iter().filter(|a| a.user_id == whom).collect();
        let totals = ACTIVITY_KINDS
            .iter()
            .map(|(kind, label)| {
                (label.to_string(), mine.iter().filter(|a| a.kind == *kind).map(|a| a.count).sum())
            })
            .collect();
        let mut active: Vec<String> = mine.iter().map(|a| a.day.clone()).collect();
        active.sort();
        active.dedup();
        let agreement = agreements.iter().find(|t| t.user_id == whom).cloned();
        let tally = all.iter().find(|(id, _, _)| *id == whom).map(|(_, _, t)| t.clone()).unwrap_or_default();
        let me = board.iter().find(|r| r.user_id == whom);
        let edited = edited_by.get(&whom).copied().unwrap_or(0);
        let email = email.to_string();
        let days = days.to_vec();
        Progress {
            freshness: Default::default(),
            user_id: whom,
            email,
            per_day: per_day(activity, &days, Some(whom)),
            days,
            totals,
            streak: streak(&active, calendar),
            agreement,
            accepted: tally.accepted,
            rejected: tally.rejected,
            waiting: tally.unreviewed,
            edited_by_reviewer: edited,
            place: me.map(|r| r.place),
            score: me.map_or(0.0, |r| r.score),
        }
    }

    /// The progress of an account made after the figures were: nothing done yet.
    pub fn nothing_yet(whom: Uuid, email: &str) -> Progress {
        let (days, calendar) = (last_days(CHART_DAYS), last_days(3650));
        one_progress(whom, email, &days, &calendar, &[], &[], &[], &[], &HashMap::new())
    }
}
