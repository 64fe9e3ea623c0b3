//! Comparison slots and leases in the store, on SQLite and PostgreSQL: many trainers asking
//! at once never share a slot, nobody gets two slots of one comparison or one drawn from
//! their own conversation, expired leases return to the queue, and only the holder of an
//! unexpired lease completes a slot.

mod common;
use app::conversation::{Author, ConversationKind, Role};
use app::domain::Role as AccountRole;
use app::model::{ModelInfo, SamplingParams};
use app::ssr::{NewComparison, NewComparisonBatch, NewConversation, NewMessage, NewUser, Store, StoreError};
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

/// A batch of `count` comparisons, `overlap` slots each, drawn from `owner`'s chat.
async fn batch(store: &SqlStore, owner: Uuid, count: usize, overlap: i64) -> Vec<Uuid> {
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
            conversation_id: chat,
            message_id: reply,
            source_owner_id: owner,
        });
    }
    let ids = comparisons.iter().map(|c| c.id).collect();
    let new =
        NewComparisonBatch { id: Uuid::new_v4(), created_by: owner, seed: 7, k: 4, overlap, comparisons };
    store.create_comparison_batch(new).await.unwrap();
    ids
}

async fn setup(engine: Engine) -> (SqlStore, TestDb) {
    let db = TestDb::new(engine).await;
    let store = SqlStore::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    (store, db)
}

async fn concurrent_requests_never_share_a_slot(engine: Engine) {
    let (store, _db) = setup(engine).await;
    let owner = user(&store, 0).await;
    // 4 comparisons x 2 rankings = 8 slots, 12 trainers asking at once.
    let comparisons = batch(&store, owner, 4, 2).await;
    let mut trainers = vec![];
    for n in 1..=12 {
        trainers.push(user(&store, n).await);
    }
    let store = Arc::new(store);
    let mut asks = tokio::task::JoinSet::new();
    for t in trainers.iter().copied() {
        let store = store.clone();
        asks.spawn(async move { (t, store.lease_comparison(t, NOW, LATER, false).await.unwrap()) });
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
    assert!(leases.iter().all(|(_, l)| comparisons.contains(&l.comparison_id)));
    // Each trainer asked once; a second ask while holding gives another comparison only.
    let (first_trainer, first) = &leases[0];
    assert_eq!(
        store.lease_comparison(*first_trainer, NOW, LATER, false).await.unwrap(),
        None,
        "all slots held"
    );
    assert_eq!(store.lease_comparison(owner, NOW, LATER, true).await.unwrap(), None);

    // Completing needs the lease; an expired lease returns the slot to the queue.
    store.complete_slot(first.comparison_id, first.slot, *first_trainer, NOW).await.unwrap();
    let again = store.complete_slot(first.comparison_id, first.slot, *first_trainer, NOW).await;
    assert!(matches!(again, Err(StoreError::NotFound("lease"))), "a slot is completed once");
    let (late_trainer, late) = &leases[1];
    let expired = store.complete_slot(late.comparison_id, late.slot, *late_trainer, MUCH_LATER).await;
    assert!(matches!(expired, Err(StoreError::NotFound("lease"))), "an expired lease completes nothing");
    let idle = trainers.iter().find(|t| !leases.iter().any(|(h, _)| h == *t)).unwrap();
    let returned =
        store.lease_comparison(*idle, MUCH_LATER, "2026-11-26T11:30:00.000000Z", false).await.unwrap();
    assert!(returned.is_some(), "expired leases return to the queue");

    // Whoever ranked a comparison is never given it again.
    for _ in 0..8 {
        if let Some(lease) = store
            .lease_comparison(*first_trainer, MUCH_LATER, "2026-11-26T12:00:00.000000Z", false)
            .await
            .unwrap()
        {
            assert_ne!(lease.comparison_id, first.comparison_id);
        }
    }
}
on_both_engines!(concurrent_requests_never_share_a_slot);

async fn own_conversations_are_drawn_only_when_allowed(engine: Engine) {
    let (store, _db) = setup(engine).await;
    let owner = user(&store, 0).await;
    let comparisons = batch(&store, owner, 1, 1).await;
    assert_eq!(store.lease_comparison(owner, NOW, LATER, false).await.unwrap(), None);
    let lease = store.lease_comparison(owner, NOW, LATER, true).await.unwrap().unwrap();
    assert_eq!(lease.comparison_id, comparisons[0]);
}
on_both_engines!(own_conversations_are_drawn_only_when_allowed);
