//! Conversations: trees of messages that trainers write (demonstrations) or have with the
//! model (chats). Shared by the browser and the server.

use crate::model::SamplingParams;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An enum whose variants have fixed names: in JSON, in the database, on the command line
/// and in URLs alike. Gives `ALL` (in order), `as_str` and a `FromStr` whose error names the
/// thing (`what`, else the type's name) and every name it accepts.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident $(($what:literal))? {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => {
                        let what = [$($what,)? stringify!($name)][0];
                        Err(format!("unknown {what} {other:?}; one of {}", [$($text),+].join(", ")))
                    }
                }
            }
        }
    };
}
pub(crate) use named_enum;

named_enum!(
    /// A demonstration is written by a trainer playing both sides; a chat is with the model.
    ConversationKind { Demonstration = "demonstration", Chat = "chat" }
);
named_enum!(ConversationStatus { Draft = "draft", Submitted = "submitted", Accepted = "accepted", Rejected = "rejected" });
named_enum!(Role { System = "system", User = "user", Assistant = "assistant" });

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Author {
    Trainer {
        user_id: Uuid,
    },
    /// A model version, with the parameters (seed included) that reproduce the text.
    Model {
        model_version_id: Uuid,
        sampling: SamplingParams,
    },
}

/// A model suggestion a trainer started a turn from, and how far the final text moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestionTaken {
    pub text: String,
    pub model_version_id: Uuid,
    /// Characters inserted, deleted or replaced to turn the suggestion into the final text.
    pub edit_distance: i64,
    /// `edit_distance` over the longer text's length: 0 = taken as is, 1 = rewritten.
    pub edit_ratio: f64,
}

impl SuggestionTaken {
    pub fn new(suggestion: String, model_version_id: Uuid, final_text: &str) -> Self {
        let edit_distance = edit_distance(&suggestion, final_text) as i64;
        let longer = suggestion.chars().count().max(final_text.chars().count()).max(1);
        SuggestionTaken {
            edit_ratio: edit_distance as f64 / longer as f64,
            text: suggestion,
            model_version_id,
            edit_distance,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    /// Order among siblings (branches), from 0.
    pub position: i64,
    pub role: Role,
    pub text: String,
    pub author: Author,
    pub suggestion: Option<SuggestionTaken>,
    pub created_at: String,
    pub updated_at: String,
    /// The content filter's latest decision on it.
    #[serde(default)]
    pub filter: Option<crate::filter::Verdict>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: Uuid,
    pub kind: ConversationKind,
    pub owner_id: Uuid,
    pub system_prompt: Option<String>,
    pub status: ConversationStatus,
    pub sampling: Option<SamplingParams>,
    pub revision: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Every message of every branch, parents before children, siblings in order.
    pub messages: Vec<Message>,
    /// The turn being typed and not yet added, saved as the trainer types.
    #[serde(default)]
    pub composer: Option<String>,
    /// Every model suggestion shown while writing, oldest first.
    #[serde(default)]
    pub suggestions: Vec<Suggestion>,
    /// The reader's own feedback on its messages (filled for the one who asks).
    #[serde(default)]
    pub my_feedback: Vec<crate::feedback::Feedback>,
    /// The reader's own feedback on the content filter's decisions here.
    #[serde(default)]
    pub my_filter_feedback: Vec<crate::filter::FilterFeedback>,
}

/// A model-written suggestion shown to a trainer for the next turn of a demonstration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The request that made it (several suggestions share one), and its place there.
    pub request_id: Uuid,
    pub index: i64,
    /// The turn it would answer (none: the first turn).
    pub parent_id: Option<Uuid>,
    pub role: Role,
    pub text: String,
    pub model_version_id: Uuid,
    /// The parameters, seed included, that reproduce it.
    pub sampling: SamplingParams,
    /// "stop", "length", or "cancelled" when the trainer stopped it.
    pub finish_reason: String,
    pub created_at: String,
    /// The turn started from it, once taken.
    pub taken_message_id: Option<Uuid>,
}

/// One line of a trainer's work list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: Uuid,
    pub kind: ConversationKind,
    pub status: ConversationStatus,
    pub revision: i64,
    /// The first turn's text (shortened), or empty.
    pub title: String,
    pub messages: i64,
    pub updated_at: String,
}

/// One page of a trainer's work list, and how many conversations match in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkList {
    pub items: Vec<ConversationSummary>,
    pub total: i64,
    /// How many matching conversations come before this page.
    pub offset: i64,
    pub page_size: i64,
}

/// Which conversations a list shows. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationFilter {
    pub owner_id: Option<Uuid>,
    pub kind: Option<ConversationKind>,
    pub status: Option<ConversationStatus>,
    /// Words found in any turn (case-insensitive).
    pub search: String,
}

/// One submitted version of a conversation, as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    pub revision: i64,
    pub submitted_by: Uuid,
    pub submitted_at: String,
    pub conversation: Conversation,
}

impl Conversation {
    /// The children of `parent` (`None`: the first turns), in sibling order.
    pub fn children(&self, parent: Option<Uuid>) -> impl Iterator<Item = &Message> {
        let mut children: Vec<&Message> = self.messages.iter().filter(|m| m.parent_id == parent).collect();
        children.sort_by_key(|m| m.position);
        children.into_iter()
    }

    /// The turns from the first to a leaf, taking at each step the child `choose` picks from
    /// the siblings (by index), or the newest when it picks none.
    pub fn path(&self, choose: impl Fn(Option<Uuid>, &[&Message]) -> Option<usize>) -> Vec<Message> {
        let mut turns = vec![];
        let mut parent = None;
        loop {
            let siblings: Vec<&Message> = self.children(parent).collect();
            let Some(last) = siblings.len().checked_sub(1) else { break };
            let next = siblings[choose(parent, &siblings).unwrap_or(last).min(last)];
            parent = Some(next.id);
            turns.push(next.clone());
        }
        turns
    }

    /// The turns from the first down to `id`, inclusive (empty when `id` is not here).
    pub fn ancestry(&self, id: Uuid) -> Vec<Message> {
        let mut turns = vec![];
        let mut next = Some(id);
        while let Some(id) = next {
            let Some(message) = self.messages.iter().find(|m| m.id == id) else { return vec![] };
            next = message.parent_id;
            turns.push(message.clone());
            if turns.len() > self.messages.len() {
                return vec![];
            }
        }
        turns.reverse();
        turns
    }

    /// What a model is given to write the assistant turn after `parent`: the system prompt
    /// and the turns down to `parent`.
    pub fn chat_messages(&self, parent: Option<Uuid>) -> Vec<crate::model::ChatMessage> {
        use crate::model::ChatMessage;
        let turns = parent.map(|p| self.ancestry(p)).unwrap_or_default();
        let system = self.system_prompt.iter().map(|s| ChatMessage::new("system", s.clone()));
        system.chain(turns.iter().map(|m| ChatMessage::new(m.role.as_str(), m.text.clone()))).collect()
    }

    /// The last turn the completions of a comparison drawn at `message` continue: a drawn
    /// reply is compared with others written after the same turns (its parent); a drawn user
    /// turn (an imported prompt) is answered itself.
    pub fn compared_after(&self, message: Uuid) -> Option<Uuid> {
        let drawn = self.messages.iter().find(|m| m.id == message)?;
        match drawn.role {
            Role::User => Some(drawn.id),
            _ => drawn.parent_id,
        }
    }

    /// The role the turn after `parent` must have: turns alternate, the user's first.
    pub fn next_role(&self, parent: Option<Uuid>) -> Role {
        match parent.and_then(|p| self.messages.iter().find(|m| m.id == p)).map(|m| m.role) {
            Some(Role::User) => Role::Assistant,
            _ => Role::User,
        }
    }
}

/// Checks that `roles` alternate user, assistant, user, … from the first; the error names the
/// first turn (from 1) that breaks it.
pub fn check_alternation(roles: &[Role]) -> Result<(), String> {
    for (i, role) in roles.iter().enumerate() {
        let expected = if i % 2 == 0 { Role::User } else { Role::Assistant };
        if *role != expected {
            return Err(format!(
                "turn {} would be the {}'s, but turns alternate user, assistant, user, …; \
                 move or delete a user turn together with its reply",
                i + 1,
                role.as_str()
            ));
        }
    }
    Ok(())
}

/// Most cells of the distance table computed for one pair: about 16 ms of work. A draft
/// is saved on every pause in typing, so the cost must not grow with the square of a
/// 64 KB turn (10^9 steps).
const EDIT_DISTANCE_CELLS: usize = 16_000_000;

/// Levenshtein distance in characters (Unicode scalar values), in O(len) memory. The common
/// start and end are skipped first. What remains is computed exactly when its table has
/// at most `EDIT_DISTANCE_CELLS` cells; beyond, within a band around the diagonal as wide as
/// that allows (exact whenever the true distance fits in the band, an upper bound
/// otherwise), and when not even the band fits, the length of the longer remainder (also
/// an upper bound). So the work is bounded whatever the texts.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    // The shorter text runs along the rows' width.
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.len();
    }
    if long.len().saturating_mul(short.len()) <= EDIT_DISTANCE_CELLS {
        return banded(long, short, short.len());
    }
    // Cells per row the budget allows, half of them either side of the diagonal.
    let band = EDIT_DISTANCE_CELLS / long.len() / 2;
    if band == 0 {
        return long.len();
    }
    banded(long, short, band)
}

/// The distance within `band` cells either side of the diagonal, rows along `long`.
fn banded(long: &[char], short: &[char], band: usize) -> usize {
    const FAR: usize = usize::MAX / 2;
    let width = short.len();
    let mut previous: Vec<usize> = (0..=width).map(|j| if j <= band { j } else { FAR }).collect();
    let mut current = vec![FAR; width + 1];
    for (i, ca) in long.iter().enumerate() {
        let row = i + 1;
        // The diagonal of a rectangle: column j is near row i when j ≈ i·width/len.
        let centre = row * width / long.len();
        let from = centre.saturating_sub(band).max(1);
        let to = (centre + band).min(width);
        // Only the cells the next row reads beside the band need clearing (the centre
        // moves at most one column a row), so a row costs its band, not its width.
        current[0] = if centre <= band { row } else { FAR };
        current[from - 1] = if from == 1 { current[0] } else { FAR };
        if to < width {
            current[to + 1] = FAR;
        }
        for j in from..=to {
            let replace = previous[j - 1] + usize::from(*ca != short[j - 1]);
            current[j] = replace.min(previous[j] + 1).min(current[j - 1] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[width].min(long.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_characters_not_bytes() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("café", "cafe"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("flaw", "lawn"), 2);
    }

    #[test]
    fn edit_distance_is_exact_on_small_texts_and_bounded_on_huge_ones() {
        // Against the plain O(n·m) table on many small pairs.
        fn plain(a: &str, b: &str) -> usize {
            let b: Vec<char> = b.chars().collect();
            let mut prev: Vec<usize> = (0..=b.len()).collect();
            for (i, ca) in a.chars().enumerate() {
                let mut cur = vec![i + 1; b.len() + 1];
                for (j, cb) in b.iter().enumerate() {
                    cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
                }
                prev = cur;
            }
            prev[b.len()]
        }
        let words = ["", "a", "ab", "ba", "abc", "kitten", "sitting", "Paris.", "Pariss", "xyzzy", "ééa"];
        for a in words {
            for b in words {
                assert_eq!(edit_distance(a, b), plain(a, b), "{a:?} {b:?}");
            }
        }
        // Two 64 KB texts that differ in a few places: exact, and quick.
        let base: String = (0..65_536).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect();
        let mut changed: Vec<char> = base.chars().collect();
        changed[10] = '!';
        changed[40_000] = '?';
        changed.remove(50_000);
        let changed: String = changed.into_iter().collect();
        assert_eq!(edit_distance(&base, &changed), 3);
        // Wholly different huge texts: an upper bound, never more than the longer length.
        let other: String = "z".repeat(65_536);
        assert!(edit_distance(&base, &other) <= 65_536);
    }

    #[test]
    fn edit_ratio_is_zero_when_taken_as_is_and_one_when_rewritten() {
        let id = Uuid::nil();
        assert_eq!(SuggestionTaken::new("Paris.".into(), id, "Paris.").edit_ratio, 0.0);
        assert_eq!(SuggestionTaken::new("abc".into(), id, "xyz").edit_ratio, 1.0);
        let half = SuggestionTaken::new("abcd".into(), id, "abxy");
        assert_eq!((half.edit_distance, half.edit_ratio), (2, 0.5));
    }

    #[test]
    fn alternation_names_the_first_turn_out_of_place() {
        use Role::*;
        assert!(check_alternation(&[User, Assistant, User]).is_ok());
        assert!(check_alternation(&[Assistant]).unwrap_err().starts_with("turn 1 would be the assistant's"));
        assert!(check_alternation(&[User, Assistant, Assistant]).unwrap_err().starts_with("turn 3"));
    }

    #[test]
    fn names_round_trip() {
        for status in [ConversationStatus::Draft, ConversationStatus::Submitted, ConversationStatus::Accepted]
        {
            assert_eq!(status.as_str().parse::<ConversationStatus>(), Ok(status));
        }
        assert!("bot".parse::<Role>().unwrap_err().contains("bot"));
    }
}
