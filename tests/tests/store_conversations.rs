//! Conversations in the store, on SQLite and PostgreSQL: trees, branches, edits, revisions.

mod common;
use app::conversation::{Author, ConversationKind, ConversationStatus, Role, SuggestionTaken};
use app::domain::Role as AccountRole;
use app::model::{ModelInfo, SamplingParams};
use app::ssr::{NewConversation, NewMessage, NewUser, Store, StoreError};
use common::{Engine, TestDb};
use parley::store::SqlStore;
use uuid::Uuid;

struct Fixture {
    store: SqlStore,
    trainer: Uuid,
    model: Uuid,
    _db: TestDb,
}

async fn fixture(engine: Engine) -> Fixture {
    let db = TestDb::new(engine).await;
    let store = SqlStore::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let trainer = store
        .create_user(NewUser {
            id: Uuid::new_v4(),
            email: "t@example.org".into(),
            password_hash: "h".into(),
            role: AccountRole::Trainer,
        })
        .await
        .unwrap()
        .id;
    let info =
        ModelInfo { name: "m".into(), source: "m.gguf".into(), sha256: Some("ab".repeat(32)), ready: true };
    let model = store.register_model(&info).await.unwrap();
    Fixture { store, trainer, model, _db: db }
}

impl Fixture {
    /// A new draft demonstration of the trainer's.
    async fn draft(&self) -> Uuid {
        let id = Uuid::new_v4();
        let new = NewConversation {
            id,
            kind: ConversationKind::Demonstration,
            owner_id: self.trainer,
            system_prompt: None,
            sampling: None,
        };
        self.store.create_conversation(new).await.unwrap();
        id
    }
}

fn by(user: Uuid, parent: Option<Uuid>, role: Role, text: &str) -> NewMessage {
    NewMessage {
        id: Uuid::new_v4(),
        parent_id: parent,
        role,
        text: text.into(),
        author: Author::Trainer { user_id: user },
        suggestion: None,
        taken_from: None,
        decision: None,
    }
}

async fn conversations_are_trees_with_ordered_branches(engine: Engine) {
    let f = fixture(engine).await;
    let id = Uuid::new_v4();
    let new = || NewConversation {
        id,
        kind: ConversationKind::Chat,
        owner_id: f.trainer,
        system_prompt: Some("Be brief.".into()),
        sampling: Some(SamplingParams { seed: 9, ..Default::default() }),
    };
    let created = f.store.create_conversation(new()).await.unwrap();
    assert_eq!(created.status, ConversationStatus::Draft);
    assert_eq!(f.store.create_conversation(new()).await.unwrap(), created, "a retried create stores one");

    let question = f.store.add_message(id, by(f.trainer, None, Role::User, "What is 2+2?")).await.unwrap();
    let sampling = SamplingParams { temperature: 0.0, seed: 3, ..Default::default() };
    let reply = NewMessage {
        id: Uuid::new_v4(),
        parent_id: Some(question.id),
        role: Role::Assistant,
        text: "4".into(),
        author: Author::Model { model_version_id: f.model, sampling: sampling.clone() },
        suggestion: None,
        taken_from: None,
        decision: None,
    };
    let reply_id = reply.id;
    let first = f.store.add_message(id, reply).await.unwrap();
    let retried = f
        .store
        .add_message(
            id,
            NewMessage {
                id: reply_id,
                parent_id: Some(question.id),
                role: Role::Assistant,
                text: "4".into(),
                author: Author::Model { model_version_id: f.model, sampling },
                suggestion: None,
                taken_from: None,
                decision: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(first, retried, "a retried send stores one message");
    let regenerated =
        f.store.add_message(id, by(f.trainer, Some(question.id), Role::Assistant, "Four.")).await.unwrap();
    assert_eq!((first.position, regenerated.position), (0, 1), "siblings are branches in order");

    let stored = f.store.conversation(id).await.unwrap().unwrap();
    assert_eq!(stored.messages.len(), 3);
    let branches: Vec<&str> = stored.children(Some(question.id)).map(|m| m.text.as_str()).collect();
    assert_eq!(branches, ["4", "Four."]);
    assert!(matches!(&stored.messages[1].author, Author::Model { sampling, .. } if sampling.seed == 3));
    assert_eq!(stored.sampling.unwrap().seed, 9);
}
on_both_engines!(conversations_are_trees_with_ordered_branches);

async fn a_parent_from_another_conversation_is_refused(engine: Engine) {
    let f = fixture(engine).await;
    let ids = [f.draft().await, f.draft().await];
    let elsewhere = f.store.add_message(ids[0], by(f.trainer, None, Role::User, "hi")).await.unwrap();
    let crossed = f.store.add_message(ids[1], by(f.trainer, Some(elsewhere.id), Role::Assistant, "x")).await;
    assert!(matches!(crossed, Err(StoreError::NotFound("parent message"))));
    assert!(f.store.conversation(ids[1]).await.unwrap().unwrap().messages.is_empty(), "nothing half-written");
    let missing = f.store.add_message(Uuid::new_v4(), by(f.trainer, None, Role::User, "x")).await;
    assert!(matches!(missing, Err(StoreError::NotFound("conversation"))));
}
on_both_engines!(a_parent_from_another_conversation_is_refused);

async fn edits_keep_the_suggestion_and_submits_keep_revisions(engine: Engine) {
    let f = fixture(engine).await;
    let id = f.draft().await;
    let question =
        f.store.add_message(id, by(f.trainer, None, Role::User, "Capital of France?")).await.unwrap();
    let answer =
        f.store.add_message(id, by(f.trainer, Some(question.id), Role::Assistant, "Paris")).await.unwrap();
    let taken = SuggestionTaken::new("Paris.".into(), f.model, "Paris is the capital.");
    let edited =
        f.store.edit_message(answer.id, "Paris is the capital.", Some(taken.clone()), None).await.unwrap();
    assert_eq!(edited.suggestion, Some(taken));

    assert_eq!(f.store.user_counts(f.trainer).await.unwrap().demonstrations, 0, "drafts do not count");
    let submission =
        || app::ssr::Submission { conversation_id: id, by: f.trainer, request_id: None, review_reason: None };
    let first = f.store.submit_conversation(submission()).await.unwrap();
    assert_eq!(f.store.user_counts(f.trainer).await.unwrap().demonstrations, 1);
    assert_eq!((first.status, first.revision), (ConversationStatus::Submitted, 1));
    f.store.edit_message(answer.id, "Paris, on the Seine.", None, None).await.unwrap();
    let second = f.store.submit_conversation(submission()).await.unwrap();
    assert_eq!(second.revision, 2);
    let revisions = f.store.conversation_revisions(id).await.unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(
        revisions[0].snapshot.messages[1].text, "Paris is the capital.",
        "history keeps the first version"
    );
    assert_eq!(revisions[1].snapshot.messages[1].text, "Paris, on the Seine.");
    assert!(matches!(
        f.store.edit_message(Uuid::new_v4(), "x", None, None).await,
        Err(StoreError::NotFound("message"))
    ));
}
on_both_engines!(edits_keep_the_suggestion_and_submits_keep_revisions);
