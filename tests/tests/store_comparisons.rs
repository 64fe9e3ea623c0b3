//! Comparison batches, slots, leases and rankings in the store, on SQLite and PostgreSQL:
//! pending comparisons are claimed by one sampler each and never leased; many trainers asking
//! at once never share a slot; nobody gets a comparison twice, one they skipped, or one drawn
//! from their own conversation unless allowed; expired leases return to the queue; only the
//! holder of an unexpired lease submits a first ranking, and later ones are revisions.

mod common;
use app::comparison::Completion;
use app::conversation::{Author, ConversationKind, Role};
use app::domain::Role as AccountRole;
use app::model::{ModelInfo, SamplingParams};
use app::ranking::Ranking;
use app::ssr::{
    NewComparison, NewComparisonBatch, NewConversation, NewMessage, NewRanking, NewUser, Store, StoreError,
};
use common::{Engine, TestDb};
use parley::store::SqlStore;
use std::collections::HashSet;
use std::sync::Arc;
use uuid::Uuid;

const NOW: &str = "2026-11-26T10:00:00.000000Z";
const LATER: &str = "2026-11-26T10:30:00.000000Z";
const MUCH_LATER: &str = "2026-11-26T11:00:00.000000Z";

async fn user(store: &SqlStore, n: usize) -> Uuid {
    let new = NewUser {
        id: Uuid::new_v4(),
        email: format!("t{n}@example.org"),
        password_hash: "h".into(),
        role: AccountRole::Trainer,
    };
    store.create_user(new).await.unwrap().id
}

/// A batch of `count` comparisons of 3 completions, `overlap` slots each, drawn from
/// `owner`'s chat, sampled (made ready) as the background sampler does.
async fn batch(store: &SqlStore, owner: Uuid, count: usize, overlap: i64, allow_own: bool) -> Vec<Uuid> {
    let (ids, model) = batch_pending(store, owner, count, overlap, allow_own).await;
    assert_eq!(store.lease_comparison(owner, NOW, LATER).await.unwrap(), None, "pending: nothing to rank");
    for _ in 0..count {
        let pending =
            store.claim_pending_comparison(NOW, LATER).await.unwrap().expect("a pending comparison");
        let completions = (0..3)
            .map(|i| Completion {
                id: Uuid::new_v4(),
                text: format!("completion {i}"),
                message_id: None,
                model_version_id: Some(model),
                sampling: Some(SamplingParams { seed: 7 + i, ..SamplingParams::default() }),
                finish_reason: "stop".into(),
            })
            .collect();
        store.save_completions(pending.id, &[], completions, None).await.unwrap();
    }
    assert_eq!(store.claim_pending_comparison(NOW, LATER).await.unwrap(), None, "all sampled");
    ids
}

async fn setup(engine: Engine) -> (SqlStore, TestDb) {
    let db = TestDb::new(engine).await;
    let store = SqlStore::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    (store, db)
}

/// A full ranking of a comparison's completions, best first in stored order.
async fn ranking_of(store: &SqlStore, comparison: Uuid, user: Uuid) -> NewRanking {
    let ids: Vec<Uuid> =
        store.comparison(comparison).await.unwrap().unwrap().completions.iter().map(|c| c.id).collect();
    NewRanking {
        id: Uuid::new_v4(),
        comparison_id: comparison,
        ranked_by: user,
        ranking: Some(Ranking { groups: ids.iter().map(|id| vec![*id]).collect() }),
        cannot_rank: None,
        shown_order: ids,
        labels: Default::default(),
        rationale: String::new(),
    }
}

async fn concurrent_requests_never_share_a_slot(engine: Engine) {
    let (store, _db) = setup(engine).await;
    let owner = user(&store, 0).await;
    // 4 comparisons x 2 rankings = 8 slots, 12 trainers asking at once.
    let comparisons = batch(&store, owner, 4, 2, false).await;
    let mut trainers = vec![];
    for n in 1..=12 {
        trainers.push(user(&store, n).await);
    }
    let store = Arc::new(store);
    let mut asks = tokio::task::JoinSet::new();
    for t in trainers.iter().copied() {
        let store = store.clone();
        asks.spawn(async move { (t, store.lease_comparison(t, NOW, LATER).await.unwrap()) });
    }
    let mut leases: Vec<(Uuid, app::ssr::Lease)> = vec![];
    while let Some(asked) = asks.join_next().await {
        if let (t, Some(lease)) = asked.unwrap() {
            leases.push((t, lease));
        }
    }
    assert_eq!(leases.len(), 8, "every slot leased once, the other 4 trainers get none");
    let slots: HashSet<(Uuid, i64)> = leases.iter().map(|(_, l)| (l.comparison_id, l.slot)).collect();
    assert_eq!(slots.len(), 8, "no slot leased twice");
    free_counts_hold(&store).await;
    assert!(leases.iter().all(|(_, l)| comparisons.contains(&l.comparison_id)));
    // Asking again while holding one gives the same one back.
    let (first_trainer, first) = &leases[0];
    assert_eq!(store.lease_comparison(*first_trainer, NOW, LATER).await.unwrap().as_ref(), Some(first));
    assert_eq!(store.lease_comparison(owner, NOW, LATER).await.unwrap(), None, "own chat, not allowed");

    // The first ranking needs the lease; later ones are revisions; a retry is stored once.
    let ranking = ranking_of(&store, first.comparison_id, *first_trainer).await;
    let retry_id = ranking.id;
    let stored = store.submit_ranking(ranking, NOW).await.unwrap();
    assert_eq!(stored.revision, 1);
    let mut retry = ranking_of(&store, first.comparison_id, *first_trainer).await;
    retry.id = retry_id;
    assert_eq!(store.submit_ranking(retry, NOW).await.unwrap(), stored, "a retry returns the stored one");
    let revised = store
        .submit_ranking(ranking_of(&store, first.comparison_id, *first_trainer).await, LATER)
        .await
        .unwrap();
    assert_eq!(revised.revision, 2);
    let history = store.rankings_of(first.comparison_id, *first_trainer).await.unwrap();
    assert_eq!(history.iter().map(|r| r.revision).collect::<Vec<_>>(), [1, 2], "the earlier one is kept");

    // An expired lease submits nothing and returns its slot to the queue.
    let (late_trainer, late) = &leases[1];
    let expired =
        store.submit_ranking(ranking_of(&store, late.comparison_id, *late_trainer).await, MUCH_LATER).await;
    assert!(matches!(expired, Err(StoreError::NotFound("lease"))), "an expired lease submits nothing");
    assert!(store.rankings_of(late.comparison_id, *late_trainer).await.unwrap().is_empty());
    let idle = trainers.iter().find(|t| !leases.iter().any(|(h, _)| h == *t)).unwrap();
    let returned = store.lease_comparison(*idle, MUCH_LATER, "2026-11-26T11:30:00.000000Z").await.unwrap();
    assert!(returned.is_some(), "expired leases return to the queue");

    // Whoever ranked a comparison is never given it again.
    for _ in 0..8 {
        if let Some(lease) =
            store.lease_comparison(*first_trainer, MUCH_LATER, "2026-11-26T12:00:00.000000Z").await.unwrap()
        {
            assert_ne!(lease.comparison_id, first.comparison_id);
        }
    }
    let progress =
        store.rank_progress(*first_trainer, "2026-11-26T00:00:00.000000Z", MUCH_LATER).await.unwrap();
    assert_eq!(progress.done_today, 1, "a revision is not a second ranking");
    let recent = store.recent_rankings(*first_trainer, 10).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!((recent[0].comparison_id, recent[0].revision), (first.comparison_id, 2));
}
on_both_engines!(concurrent_requests_never_share_a_slot);

async fn pending_comparisons_are_claimed_once(engine: Engine) {
    let (store, _db) = setup(engine).await;
    let owner = user(&store, 0).await;
    // Made ready by `batch`; a second, pending batch is claimed by one of many samplers.
    batch(&store, owner, 1, 1, false).await;
    let chat = store.comparison_candidates().await.unwrap();
    assert!(chat.is_empty(), "a drawn message is not drawn again");
    let store = Arc::new(store);
    let trainer = user(&store, 1).await;
    let (second, _) = batch_pending(&store, owner, 3, 1, false).await;
    let mut claims = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let store = store.clone();
        claims.spawn(async move { store.claim_pending_comparison(NOW, LATER).await.unwrap() });
    }
    let mut claimed = vec![];
    while let Some(claim) = claims.join_next().await {
        claimed.extend(claim.unwrap().map(|c| c.id));
    }
    claimed.sort();
    let mut expected = second.clone();
    expected.sort();
    assert_eq!(claimed, expected, "each pending comparison claimed once");
    // A claim that ran out is claimed again; a failure is recorded and never leased.
    let again =
        store.claim_pending_comparison(MUCH_LATER, "2026-11-26T12:00:00.000000Z").await.unwrap().unwrap();
    store.fail_comparison(again.id, "the model failed").await.unwrap();
    let batches = store.comparison_batches().await.unwrap();
    assert_eq!((batches[0].failed, batches[0].pending), (1, 2));
    assert_eq!(batches[0].error.as_deref(), Some("the model failed"));
    let lease = store.lease_comparison(trainer, NOW, LATER).await.unwrap().unwrap();
    assert!(!second.contains(&lease.comparison_id), "pending and failed comparisons are not ranked");
}
on_both_engines!(pending_comparisons_are_claimed_once);

/// A batch of `count` comparisons of 3 completions, `overlap` slots each, over fresh
/// replies in a chat of `owner`'s, left pending; and the model version that wrote them.
async fn batch_pending(
    store: &SqlStore,
    owner: Uuid,
    count: usize,
    overlap: i64,
    allow_own: bool,
) -> (Vec<Uuid>, Uuid) {
    batch_drawn(store, owner, (count, overlap, allow_own), None).await
}

/// `batch_pending`, drawn by a reward model's uncertainty when `uncertainty` says so.
async fn batch_drawn(
    store: &SqlStore,
    owner: Uuid,
    (count, overlap, allow_own): (usize, i64, bool),
    uncertainty: Option<app::comparison::UncertaintyDraw>,
) -> (Vec<Uuid>, Uuid) {
    let info =
        ModelInfo { name: "m".into(), source: "m.gguf".into(), sha256: Some("cd".repeat(32)), ready: true };
    let model = store.register_model(&info).await.unwrap();
    let chat = Uuid::new_v4();
    let new = NewConversation {
        id: chat,
        kind: ConversationKind::Chat,
        owner_id: owner,
        system_prompt: None,
        sampling: None,
    };
    store.create_conversation(new).await.unwrap();
    let mut comparisons = vec![];
    let mut parent = None;
    for i in 0..count {
        let question = Uuid::new_v4();
        let message = |id, parent, role, text: String, author| NewMessage {
            id,
            parent_id: parent,
            role,
            text,
            author,
            suggestion: None,
            taken_from: None,
            decision: None,
        };
        let trainer = Author::Trainer { user_id: owner };
        store
            .add_message(chat, message(question, parent, Role::User, format!("Q{i}"), trainer))
            .await
            .unwrap();
        let reply = Uuid::new_v4();
        let author = Author::Model { model_version_id: model, sampling: SamplingParams::default() };
        store
            .add_message(chat, message(reply, Some(question), Role::Assistant, format!("A{i}"), author))
            .await
            .unwrap();
        parent = Some(reply);
        comparisons.push(NewComparison {
            id: Uuid::new_v4(),
            position: i as i64,
            conversation_id: chat,
            message_id: reply,
            source_owner_id: owner,
            prompt_id: None,
        });
    }
    let ids = comparisons.iter().map(|c| c.id).collect();
    let new = NewComparisonBatch {
        id: Uuid::new_v4(),
        created_by: owner,
        seed: 7,
        k: 3,
        overlap,
        include_original: false,
        allow_own,
        from_prompts: false,
        sampling: SamplingParams::default(),
        uncertainty,
        comparisons,
    };
    store.create_comparison_batch(new).await.unwrap();
    (ids, model)
}

async fn skipped_and_own_comparisons_are_not_offered(engine: Engine) {
    let (store, _db) = setup(engine).await;
    let owner = user(&store, 0).await;
    let own = batch(&store, owner, 1, 1, false).await;
    assert_eq!(store.lease_comparison(owner, NOW, LATER).await.unwrap(), None, "own chat, not allowed");
    let allowed = batch(&store, owner, 1, 1, true).await;
    let lease = store.lease_comparison(owner, NOW, LATER).await.unwrap().unwrap();
    assert_eq!(lease.comparison_id, allowed[0], "own chat, allowed by its batch");

    // A skip gives the lease back: the skipper is not offered it again, another trainer is.
    store.skip_comparison(lease.comparison_id, owner, NOW).await.unwrap();
    assert_eq!(store.lease_comparison(owner, NOW, LATER).await.unwrap(), None);
    let skip_again = store.skip_comparison(lease.comparison_id, owner, NOW).await;
    assert!(matches!(skip_again, Err(StoreError::NotFound("lease"))), "nothing held, nothing to skip");
    let other = user(&store, 1).await;
    let first = store.lease_comparison(other, NOW, LATER).await.unwrap().unwrap();
    assert_eq!(first.comparison_id, own[0], "oldest first");
    store.submit_ranking(ranking_of(&store, first.comparison_id, other).await, NOW).await.unwrap();
    let second = store.lease_comparison(other, NOW, LATER).await.unwrap().unwrap();
    assert_eq!(second.comparison_id, allowed[0], "the skipped one went back to the queue");
    let progress = store.rank_progress(other, "2026-11-26T00:00:00.000000Z", NOW).await.unwrap();
    assert_eq!((progress.done_today, progress.queue_left), (1, 1), "the held one is still theirs to do");
}
on_both_engines!(skipped_and_own_comparisons_are_not_offered);

/// The Rank page counts what is left only up to just past its cap, however long the queue
/// (a count of every open comparison on each submit would read a million rows), and the
/// count under the cap is exact.
async fn what_is_left_is_counted_up_to_a_cap(engine: Engine) {
    let (store, _db) = setup(engine).await;
    let trainer = user(&store, 0).await;
    let since = "2026-11-26T00:00:00.000000Z";
    store.seed_synthetic(0, 40, false).await.unwrap();
    let progress = store.rank_progress(trainer, since, NOW).await.unwrap();
    assert_eq!((progress.queue_left, progress.queue_left_text().as_str()), (40, "40"));
    let lease = store.lease_comparison(trainer, NOW, LATER).await.unwrap().unwrap();
    assert_eq!(store.rank_progress(trainer, since, NOW).await.unwrap().queue_left, 40, "the held one counts");
    store.skip_comparison(lease.comparison_id, trainer, NOW).await.unwrap();
    assert_eq!(
        store.rank_progress(trainer, since, NOW).await.unwrap().queue_left,
        39,
        "a skipped one does not"
    );
    store.seed_synthetic(0, app::comparison::RankProgress::COUNT_CAP as u64, false).await.unwrap();
    let progress = store.rank_progress(trainer, since, NOW).await.unwrap();
    assert_eq!(progress.queue_left, app::comparison::RankProgress::COUNT_CAP + 1);
    assert_eq!(progress.queue_left_text(), "more than 1000");
}
on_both_engines!(what_is_left_is_counted_up_to_a_cap);

/// Every comparison's count of free slots is the count of its slots nobody holds or did.
async fn free_counts_hold(store: &SqlStore) {
    let (wrong,): (i64,) = sqlx::query_as(
        "select count(*) from comparisons c where c.free_slots <> (select count(*) from comparison_slots s \
         where s.comparison_id = c.id and s.holder_id is null and s.done_by is null)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(wrong, 0, "free slot counts match the slots");
}

/// A trainer's walk through the queue moves past comparisons others hold; when such a lease
/// runs out (or is skipped) the trainer is offered it all the same, oldest first.
async fn what_runs_out_behind_a_trainer_is_offered_again(engine: Engine) {
    let (store, _db) = setup(engine).await;
    let owner = user(&store, 0).await;
    let queue = batch(&store, owner, 3, 1, false).await;
    let (ann, bob, cat) = (user(&store, 1).await, user(&store, 2).await, user(&store, 3).await);
    assert_eq!(store.lease_comparison(ann, NOW, LATER).await.unwrap().unwrap().comparison_id, queue[0]);
    let held = store.lease_comparison(bob, NOW, LATER).await.unwrap().unwrap();
    assert_eq!(held.comparison_id, queue[1], "the first is Ann's: Bob gets the next");
    store.submit_ranking(ranking_of(&store, queue[1], bob).await, NOW).await.unwrap();
    assert_eq!(store.lease_comparison(bob, NOW, LATER).await.unwrap().unwrap().comparison_id, queue[2]);
    store.skip_comparison(queue[2], bob, NOW).await.unwrap();
    assert_eq!(store.lease_comparison(bob, NOW, LATER).await.unwrap(), None, "Ann holds the rest");
    free_counts_hold(&store).await;
    // Cat has walked nowhere yet: the skipped one is hers.
    assert_eq!(store.lease_comparison(cat, NOW, LATER).await.unwrap().unwrap().comparison_id, queue[2]);
    store.submit_ranking(ranking_of(&store, queue[2], cat).await, NOW).await.unwrap();
    // Ann's lease runs out: Bob, whose walk passed it, is offered it.
    let late = "2026-11-26T11:30:00.000000Z";
    let taken = store.lease_comparison(bob, MUCH_LATER, late).await.unwrap().unwrap();
    assert_eq!((taken.comparison_id, taken.slot), (queue[0], 0), "the slot Ann's lease held");
    let late_submit = store.submit_ranking(ranking_of(&store, queue[0], ann).await, MUCH_LATER).await;
    assert!(matches!(late_submit, Err(StoreError::NotFound("lease"))), "Ann's lease is over");
    store.submit_ranking(ranking_of(&store, queue[0], bob).await, MUCH_LATER).await.unwrap();
    assert_eq!(store.lease_comparison(ann, MUCH_LATER, late).await.unwrap(), None, "everything is taken");
    free_counts_hold(&store).await;
}
on_both_engines!(what_runs_out_behind_a_trainer_is_offered_again);

/// The lease statements find their rows through indexes, never by scanning the queue, the
/// slots or the rankings (SQLite's query plan; PostgreSQL's is measured by make bench-load).
#[tokio::test]
async fn leasing_reads_indexes_not_the_whole_queue() {
    let (store, _db) = setup(Engine::Sqlite).await;
    let owner = user(&store, 0).await;
    batch(&store, owner, 3, 2, false).await;
    for statement in SqlStore::lease_statements() {
        let steps = plan_of(&store, statement, owner, 0).await;
        assert!(!steps.is_empty());
        for step in &steps {
            assert!(!step.starts_with("SCAN"), "a scan in {steps:#?}\nof {statement}");
            assert!(!step.contains("TEMP B-TREE"), "a sort in {steps:#?}\nof {statement}");
        }
    }
    // What is left is counted the same way, up to its cap: the only scan is of the capped
    // rows themselves, and the only temporary tree keeps those distinct.
    for statement in SqlStore::queue_left_statements() {
        let steps = plan_of(&store, statement, owner, 1001).await;
        for step in &steps {
            assert!(!step.starts_with("SCAN") || step == "SCAN t", "a scan in {steps:#?}\nof {statement}");
            assert!(
                !step.contains("TEMP B-TREE") || step == "USE TEMP B-TREE FOR DISTINCT",
                "a sort in {steps:#?}\nof {statement}"
            );
        }
    }
}

/// SQLite's query plan of a statement taking `$1` user, `$2` now and `$3`, a step a line.
async fn plan_of(store: &SqlStore, statement: &str, user: Uuid, third: i64) -> Vec<String> {
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("explain query plan {statement}")))
            .bind(user.to_string())
            .bind(NOW)
            .bind(third)
            .fetch_all(store.pool())
            .await
            .unwrap();
    plan.into_iter().map(|(_, _, _, detail)| detail).collect()
}

/// A batch drawn by a reward model's uncertainty waits until its whole pool is sampled: then
/// the `keep` comparisons the model is least sure of join the rank queue and the others are
/// passed over (kept, with no slots), once, even when the last of the pool are saved (or
/// fail) at the same moment on several connections.
async fn an_uncertainty_pool_queues_the_least_sure_once_sampled(engine: Engine) {
    let (store, _db) = setup(engine).await;
    let owner = user(&store, 0).await;
    let trainer = user(&store, 1).await;
    let run = Uuid::new_v4();
    assert!(store.start_reward_run(run, owner, &app::reward::RewardOptions::default()).await.is_ok());
    let draw = app::comparison::UncertaintyDraw { reward_run_id: run, keep: 2 };
    let (pool, model) = batch_drawn(&store, owner, (6, 2, false), Some(draw)).await;
    let batches = store.comparison_batches().await.unwrap();
    assert_eq!(batches[0].uncertainty, Some(draw), "the draw is recorded with the batch");
    // The sampler claims them in the order drawn; the last fails.
    let mut claimed = vec![];
    while let Some(pending) = store.claim_pending_comparison(NOW, LATER).await.unwrap() {
        assert_eq!(pending.reward_run_id, Some(run));
        claimed.push(pending.id);
    }
    assert_eq!(claimed, pool);
    let unsure = [0.1, 0.9, 0.5, 0.85, 0.2];
    let completions = |n: u64| -> Vec<Completion> {
        (0..3)
            .map(|i| Completion {
                id: Uuid::new_v4(),
                text: format!("completion {n}.{i}"),
                message_id: None,
                model_version_id: Some(model),
                sampling: Some(SamplingParams { seed: n * 10 + i, ..SamplingParams::default() }),
                finish_reason: "stop".into(),
            })
            .collect()
    };
    // The first three one after another: nothing joins the queue while the pool is sampled.
    for i in 0..3 {
        store.save_completions(pool[i], &[], completions(i as u64), Some(unsure[i])).await.unwrap();
    }
    let batches = store.comparison_batches().await.unwrap();
    assert_eq!((batches[0].scored, batches[0].ready, batches[0].pending), (3, 0, 3));
    assert_eq!(store.lease_comparison(trainer, NOW, LATER).await.unwrap(), None, "nothing queued yet");
    // The last three at once: two saved, one failed.
    let store = Arc::new(store);
    let mut last = tokio::task::JoinSet::new();
    for i in 3..6 {
        let (store, id, made) = (store.clone(), pool[i], completions(i as u64));
        last.spawn(async move {
            match unsure.get(i) {
                Some(&u) => store.save_completions(id, &[], made, Some(u)).await,
                None => store.fail_comparison(id, "the model failed").await,
            }
        });
    }
    while let Some(done) = last.join_next().await {
        done.unwrap().unwrap();
    }
    let b = store.comparison_batches().await.unwrap().remove(0);
    assert_eq!((b.pending, b.scored, b.ready, b.passed, b.failed), (0, 0, 2, 3, 1));
    assert_eq!(b.rankings_wanted, 4, "the kept two, two rankings each (none for the failed one)");
    let status = |id| {
        let store = store.clone();
        async move { store.comparison(id).await.unwrap().unwrap().status }
    };
    assert_eq!(status(pool[1]).await, "ready", "0.9, the least sure");
    assert_eq!(status(pool[3]).await, "ready", "0.85");
    for i in [0, 2, 4] {
        assert_eq!(status(pool[i]).await, "passed");
        assert_eq!(store.comparison(pool[i]).await.unwrap().unwrap().completions.len(), 3, "kept");
    }
    free_counts_hold(&store).await;
    let mut leased = HashSet::new();
    for t in 2..6 {
        let t = user(&store, t).await;
        while let Some(lease) = store.lease_comparison(t, NOW, LATER).await.unwrap() {
            leased.insert(lease.comparison_id);
            store.submit_ranking(ranking_of(&store, lease.comparison_id, t).await, NOW).await.unwrap();
        }
    }
    assert_eq!(leased, HashSet::from([pool[1], pool[3]]), "only the kept ones are ranked");
    let b = store.comparison_batches().await.unwrap().remove(0);
    assert_eq!((b.rankings_done, b.rankings_wanted), (4, 4));
}
on_both_engines!(an_uncertainty_pool_queues_the_least_sure_once_sampled);
