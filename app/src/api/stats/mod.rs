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
    let (mut dashboard, freshness) = state.figures.get("dashboard", move || compute::dashboard(store)).await?;
    dashboard.freshness = freshness;
    Ok(dashboard)
}

/// A trainer's own figures; `user_id` picks another trainer (reviewers and admins only).
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

#[cfg(feature = "ssr")]
mod compute {
    use super::CHART_DAYS;
    use crate::error::ApiError;
    use crate::quality::{
        Game, Places, Ranked, agreement, agreement_with_consensus, bradley_terry_intervals, places,
    };
    use crate::ssr::clock::last_days;
    use crate::ssr::Store;
    use crate::stats::*;
    use std::collections::{BTreeMap, HashMap};
    use std::sync::Arc;
    use uuid::Uuid;

    /// The latest rankings of one comparison, each as its ranker and places.
    struct RankedComparison {
        id: Uuid,
        batch: Uuid,
        /// Day of its latest ranking.
        day: String,
        rankings: Vec<(Uuid, Places)>,
    }

    /// Rankings grouped by comparison.
    struct Comparisons {
        list: Vec<RankedComparison>,
    }

    async fn comparisons(store: &dyn Store) -> Result<Comparisons, ApiError> {
        let rows = store.latest_rankings().await?;
        let mut by: BTreeMap<Uuid, RankedComparison> = BTreeMap::new();
        for row in rows {
            let entry = by.entry(row.comparison_id).or_insert_with(|| RankedComparison {
                id: row.comparison_id,
                batch: row.batch_id,
                day: String::new(),
                rankings: vec![],
            });
            let day = row.created_at.chars().take(10).collect::<String>();
            if day > entry.day {
                entry.day = day;
            }
            entry.rankings.push((row.ranked_by, places(&row.groups)));
        }
        Ok(Comparisons { list: by.into_values().collect() })
    }

    fn grouped<K: Ord + Clone>(
        comparisons: &Comparisons,
        key: impl Fn(&RankedComparison) -> Option<K>,
    ) -> BTreeMap<K, Vec<Ranked<'_>>> {
        let mut out: BTreeMap<K, Vec<Ranked>> = BTreeMap::new();
        for c in &comparisons.list {
            if let Some(k) = key(c) {
                out.entry(k).or_default().push(Ranked { rankings: &c.rankings });
            }
        }
        out
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
        Ok(store.list_users().await?.into_iter().map(|u| (u.id, u.email)).collect())
    }

    fn trainer_agreement(comparisons: &Comparisons, emails: &HashMap<Uuid, String>) -> Vec<TrainerAgreement> {
        let all: Vec<Ranked> = comparisons.list.iter().map(|c| Ranked { rankings: &c.rankings }).collect();
        let mut out: Vec<TrainerAgreement> = agreement_with_consensus(&all)
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
        let comparisons = comparisons(store).await?;
        let emails = emails(store).await?;
        let models = store.completion_models().await?;
        let names: HashMap<Uuid, String> =
            store.list_model_versions().await?.into_iter().map(|m| (m.id, m.name)).collect();
        let model_of: HashMap<Uuid, Uuid> =
            models.iter().filter_map(|m| m.model_version_id.map(|v| (m.completion_id, v))).collect();
        // The version that wrote most of a comparison's completions.
        let mut main_model: HashMap<Uuid, Uuid> = HashMap::new();
        {
            let mut counts: HashMap<Uuid, HashMap<Uuid, usize>> = HashMap::new();
            for m in &models {
                if let Some(v) = m.model_version_id {
                    *counts.entry(m.comparison_id).or_default().entry(v).or_default() += 1;
                }
            }
            for (c, per) in counts {
                if let Some((v, _)) = per.into_iter().max_by_key(|(v, n)| (*n, *v)) {
                    main_model.insert(c, v);
                }
            }
        }
        let label = |groups: BTreeMap<String, Vec<Ranked>>| -> Vec<GroupAgreement> {
            groups.into_iter().map(|(label, g)| GroupAgreement { label, agreement: agreement(&g) }).collect()
        };
        let all: Vec<Ranked> = comparisons.list.iter().map(|c| Ranked { rankings: &c.rankings }).collect();
        let overall = agreement(&all);
        let agreement_by_day = label(grouped(&comparisons, |c| Some(c.day.clone())))
            .into_iter()
            .filter(|g| g.agreement.comparisons > 0)
            .collect();
        let by_batch = label(grouped(&comparisons, |c| Some(format!("batch {}", &c.batch.to_string()[..8]))))
            .into_iter()
            .filter(|g| g.agreement.comparisons > 0)
            .collect();
        let by_model = label(grouped(&comparisons, |c| {
            main_model.get(&c.id).map(|v| names.get(v).cloned().unwrap_or_else(|| v.to_string()))
        }))
        .into_iter()
        .filter(|g| g.agreement.comparisons > 0)
        .collect();
        let by_trainer = trainer_agreement(&comparisons, &emails);

        // Model versions head to head: every ranked pair of completions by two versions.
        let mut players: Vec<Uuid> = model_of.values().copied().collect();
        players.sort();
        players.dedup();
        let index: HashMap<Uuid, usize> = players.iter().enumerate().map(|(i, v)| (*v, i)).collect();
        let clusters: Vec<Vec<Game>> = comparisons
            .list
            .iter()
            .map(|c| {
                let mut games = vec![];
                for (_, ranking) in &c.rankings {
                    let mut items: Vec<(&Uuid, &usize)> = ranking.iter().collect();
                    items.sort();
                    for (i, (a, pa)) in items.iter().enumerate() {
                        for (b, pb) in &items[i + 1..] {
                            let (Some(ma), Some(mb)) = (model_of.get(*a), model_of.get(*b)) else { continue };
                            if ma == mb {
                                continue;
                            }
                            let (ia, ib) = (index[ma], index[mb]);
                            match pa.cmp(pb) {
                                std::cmp::Ordering::Less => {
                                    games.push(Game { winner: ia, loser: ib, weight: 1.0 })
                                }
                                std::cmp::Ordering::Greater => {
                                    games.push(Game { winner: ib, loser: ia, weight: 1.0 })
                                }
                                std::cmp::Ordering::Equal => {
                                    games.push(Game { winner: ia, loser: ib, weight: 0.5 });
                                    games.push(Game { winner: ib, loser: ia, weight: 0.5 });
                                }
                            }
                        }
                    }
                }
                games
            })
            .filter(|g: &Vec<Game>| !g.is_empty())
            .collect();
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
                        clusters.iter().flatten().filter(|g| g.winner == i || g.loser == i).collect();
                    ModelStrength {
                        model_version_id: *id,
                        name: names.get(id).cloned().unwrap_or_else(|| id.to_string()),
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
        let scored =
            tallies(store, &emails, &activity).await?.into_iter().filter(|(_, _, t)| t.score() > 0.0).collect();
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
        let comparisons = comparisons(store).await?;
        let agreements = trainer_agreement(&comparisons, &emails);
        let all = tallies(store, &emails, &activity).await?;
        let board = crate::stats::leaderboard(all.iter().filter(|(_, _, t)| t.score() > 0.0).cloned().collect());
        let edited_by: HashMap<Uuid, i64> = store.edited_by_reviewers().await?.into_iter().collect();
        let mut out = HashMap::new();
        for (&whom, email) in &emails {
            out.insert(whom, one_progress(whom, email, &days, &calendar, &activity, &agreements, &all, &board, &edited_by));
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
