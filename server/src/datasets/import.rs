//! Reading instruction data into dialogues: every supported format becomes conversations
//! (trees of turns) and prompts. A file is read whole before anything is stored, and any
//! problem refuses all of it, naming the line and the field.

use app::conversation::Role;
use app::dataset::{ImportFormat, ImportProblem, ImportRefusal, MAX_PROBLEMS};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Largest line: a whole Open-Assistant tree fits; more is refused, not cut.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// One turn of an imported conversation; `parent` indexes an earlier turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub parent: Option<usize>,
    pub role: Role,
    pub text: String,
}

/// A conversation as read: an optional system prompt and its turns, parents first, siblings
/// in the order they are to be shown (an HH-RLHF row's chosen reply before the rejected).
/// Preference rows also carry the rankings their source gave, all of the same replies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dialogue {
    pub system: Option<String>,
    pub turns: Vec<Turn>,
    pub rankings: Vec<Ranked>,
}

/// A ranking read from a file: replies of the assistant to one turn (siblings), as groups
/// of turn indices, best first, ties in one group; `by` names who ranked them where the
/// file says (a K-wise row's `trainer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub by: Option<String>,
    pub groups: Vec<Vec<usize>>,
}

impl Dialogue {
    fn chain(system: Option<String>, turns: Vec<(Role, String)>) -> Dialogue {
        let turns = turns
            .into_iter()
            .enumerate()
            .map(|(i, (role, text))| Turn { parent: i.checked_sub(1), role, text })
            .collect();
        Dialogue { system, turns, rankings: vec![] }
    }

    /// Adds another path from the root, sharing the turns it has in common with the first
    /// path; where it parts, its turns become a later branch. Returns the first turn of
    /// that branch (none when the path adds nothing).
    fn merge_path(&mut self, path: Vec<(Role, String)>) -> Option<usize> {
        let mut parent: Option<usize> = None;
        let mut shared = true;
        let mut parted = None;
        for (role, text) in path {
            let existing = shared
                .then(|| {
                    self.turns.iter().position(|t| t.parent == parent && t.role == role && t.text == text)
                })
                .flatten();
            match existing {
                Some(index) => parent = Some(index),
                None => {
                    shared = false;
                    self.turns.push(Turn { parent, role, text });
                    parent = Some(self.turns.len() - 1);
                    parted = parted.or(parent);
                }
            }
        }
        parted
    }

    /// A preferred and a dispreferred version of the conversation (the first already
    /// read): the second joins as a branch, and where the two part, if both reply as the
    /// assistant to the same turn, the first reply is ranked above the second. Versions
    /// that part at a user's turn, or where one only continues the other, are kept as
    /// branches without a ranking.
    fn prefer(&mut self, rejected: Vec<(Role, String)>) {
        let Some(parted) = self.merge_path(rejected) else { return };
        let parent = self.turns[parted].parent;
        let chosen = self.turns[..parted].iter().position(|t| t.parent == parent);
        if let Some(chosen) = chosen
            && self.turns[chosen].role == Role::Assistant
            && self.turns[parted].role == Role::Assistant
        {
            self.rankings.push(Ranked { by: None, groups: vec![vec![chosen], vec![parted]] });
        }
    }

    /// The turns from the root to `turn`, `turn` included.
    pub fn path_to(&self, turn: usize) -> Vec<usize> {
        let mut path = vec![turn];
        let mut at = turn;
        while let Some(parent) = self.turns[at].parent {
            path.push(parent);
            at = parent;
        }
        path.reverse();
        path
    }

    /// SHA-256 of the system prompt and turns: the same text imported twice is one.
    pub fn content_hash(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(b"dialogue\0");
        hash.update(self.system.as_deref().unwrap_or("").as_bytes());
        for turn in &self.turns {
            let parent = turn.parent.map_or(-1, |p| p as i64);
            hash.update(format!("\0{parent}\0{}\0", turn.role.as_str()).as_bytes());
            hash.update(turn.text.as_bytes());
        }
        hex(&hash.finalize())
    }
}

pub fn prompt_hash(text: &str) -> String {
    hex(&Sha256::digest(format!("prompt\0{text}").as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a file holds, once read without a problem.
#[derive(Debug, Default)]
pub struct Parsed {
    pub format: Option<ImportFormat>,
    pub rows: usize,
    pub dialogues: Vec<Dialogue>,
    pub prompts: Vec<String>,
}

/// Limits the reader enforces.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Largest turn (or prompt), in bytes.
    pub text_bytes: usize,
    /// Most turns one conversation may hold.
    pub turns: usize,
}

struct Problems {
    list: Vec<ImportProblem>,
    total: usize,
}

impl Problems {
    fn add(&mut self, line: usize, field: impl Into<String>, message: impl Into<String>) {
        self.total += 1;
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(ImportProblem { line, field: field.into(), message: message.into() });
        }
    }
}

/// A problem with one row: the field and the message.
type RowError = (String, String);

fn err<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, RowError> {
    Err((field.into(), message.into()))
}

/// What one row becomes.
enum Row {
    Dialogue(Dialogue),
    Prompt(String),
}

/// Reads a whole file (already unzipped). Blank lines are skipped; every other line must be
/// a row of the format (decided from the first row when `Auto`).
pub fn read(bytes: &[u8], format: ImportFormat, limits: ReadLimits) -> Result<Parsed, ImportRefusal> {
    let mut problems = Problems { list: vec![], total: 0 };
    let mut parsed = Parsed::default();
    let mut format = (format != ImportFormat::Auto).then_some(format);
    // Ranked conversations by their text: rows ranking the same replies (a K-wise file has
    // one row per trainer) become one comparison with several rankings.
    let mut ranked_at: std::collections::HashMap<String, usize> = Default::default();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        problems.add(1, "", "the file is still gzip-compressed");
    }
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let number = index + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if line.len() > MAX_LINE_BYTES {
            problems.add(
                number,
                "",
                format!("{} KB, over the {} KB a line may hold", line.len() / 1024, MAX_LINE_BYTES / 1024),
            );
            continue;
        }
        let text = match std::str::from_utf8(line) {
            Ok(text) => text,
            Err(e) => {
                problems.add(number, "", format!("not UTF-8 (byte {})", e.valid_up_to() + 1));
                continue;
            }
        };
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => {
                problems.add(number, "", format!("not JSON: {e}"));
                continue;
            }
        };
        parsed.rows += 1;
        let row_format = match format {
            Some(f) => f,
            None => match detect(&value) {
                Some(f) => {
                    format = Some(f);
                    f
                }
                None => {
                    problems.add(number, "", "cannot tell the format from this row; name it (--format)");
                    continue;
                }
            },
        };
        match row(&value, row_format).and_then(|row| check(row, limits)) {
            Ok(Row::Dialogue(d)) if !d.rankings.is_empty() => {
                let at = *ranked_at.entry(d.content_hash()).or_insert(parsed.dialogues.len());
                match parsed.dialogues.get_mut(at) {
                    Some(same) if same.rankings.iter().all(|r| r.by != d.rankings[0].by) => {
                        same.rankings.extend(d.rankings)
                    }
                    // The same ranker again: a duplicate row, counted as one when stored.
                    _ => parsed.dialogues.push(d),
                }
            }
            Ok(Row::Dialogue(d)) => parsed.dialogues.push(d),
            Ok(Row::Prompt(p)) => parsed.prompts.push(p),
            Err((field, message)) => problems.add(number, field, message),
        }
    }
    if parsed.rows == 0 && problems.total == 0 {
        problems.add(1, "", "the file holds no rows");
    }
    if problems.total > 0 {
        return Err(ImportRefusal { problems: problems.list, total: problems.total });
    }
    parsed.format = format;
    Ok(parsed)
}

/// The format a row looks like.
pub fn detect(value: &Value) -> Option<ImportFormat> {
    match value {
        Value::String(_) => Some(ImportFormat::Prompts),
        Value::Object(map) if map.contains_key("messages") => Some(ImportFormat::Messages),
        Value::Object(map) if map.contains_key("message_tree_id") => Some(ImportFormat::Oasst),
        Value::Object(map) if map.contains_key("completions") && map.contains_key("prompt") => {
            Some(ImportFormat::Kwise)
        }
        Value::Object(map) if map.contains_key("chosen") && map.contains_key("rejected") => {
            match map.contains_key("prompt") || map.get("chosen").is_some_and(Value::is_array) {
                true => Some(ImportFormat::TrlPreference),
                false => Some(ImportFormat::HhRlhf),
            }
        }
        Value::Object(map) if map.contains_key("instruction") || map.contains_key("prompt") => {
            Some(ImportFormat::Instruction)
        }
        Value::Object(map) if map.contains_key("text") => Some(ImportFormat::Prompts),
        _ => None,
    }
}

fn row(value: &Value, format: ImportFormat) -> Result<Row, RowError> {
    let Value::Object(map) = value else {
        return match (format, value) {
            (ImportFormat::Prompts, Value::String(text)) => Ok(Row::Prompt(text.clone())),
            _ => err("", format!("a row must be a JSON object, not {}", kind(value))),
        };
    };
    match format {
        ImportFormat::Auto => err("", "no format"),
        ImportFormat::Prompts => {
            let field = if map.contains_key("prompt") { "prompt" } else { "text" };
            Ok(Row::Prompt(string(map.get(field), field)?))
        }
        ImportFormat::Instruction => instruction(map),
        ImportFormat::Messages => messages(map.get("messages")),
        ImportFormat::HhRlhf => hh(map),
        ImportFormat::TrlPreference => trl(map),
        ImportFormat::Kwise => kwise(map),
        ImportFormat::Oasst => oasst(map),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn string(value: Option<&Value>, field: &str) -> Result<String, RowError> {
    match value {
        Some(Value::String(text)) => Ok(text.clone()),
        None => err(field, "missing"),
        Some(other) => err(field, format!("must be a string, not {}", kind(other))),
    }
}

fn optional_string(map: &serde_json::Map<String, Value>, field: &str) -> Result<Option<String>, RowError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => string(Some(value), field).map(Some),
    }
}

fn instruction(map: &serde_json::Map<String, Value>) -> Result<Row, RowError> {
    let field = if map.contains_key("instruction") { "instruction" } else { "prompt" };
    let mut prompt = string(map.get(field), field)?;
    if let Some(input) = optional_string(map, "input")?.filter(|i| !i.trim().is_empty()) {
        prompt = format!("{prompt}\n\n{input}");
    }
    let mut answer = None;
    for field in ["output", "response", "completion"] {
        if let Some(text) = optional_string(map, field)? {
            answer = Some((field, text));
            break;
        }
    }
    let system = optional_string(map, "system")?.filter(|s| !s.trim().is_empty());
    match answer {
        None => Ok(Row::Prompt(prompt)),
        Some((field, text)) if text.trim().is_empty() => err(field, "empty text"),
        Some((_, text)) => {
            Ok(Row::Dialogue(Dialogue::chain(system, vec![(Role::User, prompt), (Role::Assistant, text)])))
        }
    }
}

/// A list of `{"role", "content"}` messages: the system prompt (only first) and the turns.
fn conversation(value: &Value, field: &str) -> Result<(Option<String>, Vec<(Role, String)>), RowError> {
    let Value::Array(list) = value else {
        return err(field, format!("must be a list, not {}", kind(value)));
    };
    let mut system = None;
    let mut turns = vec![];
    for (i, message) in list.iter().enumerate() {
        let Value::Object(message) = message else {
            return err(format!("{field}[{i}]"), format!("must be an object, not {}", kind(message)));
        };
        let role = string(message.get("role"), &format!("{field}[{i}].role"))?;
        let content = string(message.get("content"), &format!("{field}[{i}].content"))?;
        match role.as_str() {
            "system" if i == 0 => system = Some(content),
            "system" => return err(format!("{field}[{i}].role"), "a system message must come first"),
            "user" => turns.push((Role::User, content)),
            "assistant" => turns.push((Role::Assistant, content)),
            other => {
                return err(
                    format!("{field}[{i}].role"),
                    format!("unknown role {other:?}; roles are system, user, assistant"),
                );
            }
        }
    }
    Ok((system, turns))
}

/// A conversation's turns must start with the user's.
fn user_first(turns: &[(Role, String)], system: bool, field: &str) -> Result<(), RowError> {
    match turns.first() {
        Some(first) if first.0 != Role::User => err(
            format!("{field}[{}].role", usize::from(system)),
            format!("the first turn must be the user's, not {:?}", first.0.as_str()),
        ),
        _ => Ok(()),
    }
}

fn messages(value: Option<&Value>) -> Result<Row, RowError> {
    let Some(value) = value else { return err("messages", "missing") };
    let (system, mut turns) = conversation(value, "messages")?;
    user_first(&turns, system.is_some(), "messages")?;
    match turns.len() {
        0 => err("messages", "no user turn"),
        1 if system.is_none() => Ok(Row::Prompt(turns.remove(0).1)),
        _ => Ok(Row::Dialogue(Dialogue::chain(system, turns))),
    }
}

/// A prompt as TRL and the K-wise form write it: a string (the user's turn) or messages.
fn prompt_turns(value: Option<&Value>) -> Result<(Option<String>, Vec<(Role, String)>), RowError> {
    match value {
        Some(Value::String(text)) => Ok((None, vec![(Role::User, text.clone())])),
        Some(value @ Value::Array(_)) => conversation(value, "prompt"),
        None => err("prompt", "missing"),
        Some(other) => err("prompt", format!("must be a string or a list of messages, not {}", kind(other))),
    }
}

/// A TRL preference row: `prompt` (a string or messages; absent when `chosen` and
/// `rejected` are whole conversations), `chosen` and `rejected` (a string or messages).
fn trl(map: &serde_json::Map<String, Value>) -> Result<Row, RowError> {
    let (system, prompt) = match map.get("prompt") {
        None => (None, vec![]),
        value => prompt_turns(value)?,
    };
    let side = |field: &str| -> Result<(Option<String>, Vec<(Role, String)>), RowError> {
        match map.get(field) {
            Some(Value::String(text)) => Ok((None, vec![(Role::Assistant, text.clone())])),
            Some(value @ Value::Array(_)) => conversation(value, field),
            None => err(field, "missing"),
            Some(other) => err(field, format!("must be a string or a list of messages, not {}", kind(other))),
        }
    };
    let (chosen_system, chosen) = side("chosen")?;
    let (rejected_system, rejected) = side("rejected")?;
    if chosen.is_empty() {
        return err("chosen", "no reply");
    }
    if rejected.is_empty() {
        return err("rejected", "no reply");
    }
    if !prompt.is_empty() && (chosen_system.is_some() || rejected_system.is_some()) {
        let field = if chosen_system.is_some() { "chosen" } else { "rejected" };
        return err(format!("{field}[0].role"), "a system message belongs in the prompt");
    }
    if chosen_system != rejected_system {
        return err("rejected[0]", "the system message differs from the chosen conversation's");
    }
    let system = system.or(chosen_system);
    let chosen: Vec<_> = prompt.iter().cloned().chain(chosen).collect();
    let rejected: Vec<_> = prompt.into_iter().chain(rejected).collect();
    user_first(&chosen, false, if map.contains_key("prompt") { "prompt" } else { "chosen" })?;
    let mut dialogue = Dialogue::chain(system, chosen);
    dialogue.prefer(rejected);
    Ok(Row::Dialogue(dialogue))
}

/// A K-wise row as Parley exports it: `prompt`, `completions` (strings or assistant
/// messages), `ranking` (indices best first) or `groups` (lists of indices, ties in one),
/// and optionally who ranked (`trainer`).
fn kwise(map: &serde_json::Map<String, Value>) -> Result<Row, RowError> {
    let (system, prompt) = prompt_turns(map.get("prompt"))?;
    user_first(&prompt, system.is_some(), "prompt")?;
    if prompt.last().is_none_or(|t| t.0 != Role::User) {
        return err("prompt", "must end with the user's turn");
    }
    let list = match map.get("completions") {
        Some(Value::Array(list)) => list,
        None => return err("completions", "missing"),
        Some(other) => return err("completions", format!("must be a list, not {}", kind(other))),
    };
    let mut completions = vec![];
    for (i, completion) in list.iter().enumerate() {
        let field = format!("completions[{i}]");
        let text = match completion {
            Value::String(text) => text.clone(),
            Value::Object(message) => {
                if let Some(role) = optional_string(message, "role")?.filter(|r| r != "assistant") {
                    return err(format!("{field}.role"), format!("must be \"assistant\", not {role:?}"));
                }
                string(message.get("content"), &format!("{field}.content"))?
            }
            other => return err(field, format!("must be a string or a message, not {}", kind(other))),
        };
        completions.push(text);
    }
    if completions.len() < 2 {
        return err(
            "completions",
            format!("{} completion(s); a ranking needs at least two", completions.len()),
        );
    }
    let index = |value: &Value, field: &str| -> Result<usize, RowError> {
        match value.as_u64() {
            Some(i) if (i as usize) < completions.len() => Ok(i as usize),
            _ => err(field, format!("{value} is not a completion's index (0 to {})", completions.len() - 1)),
        }
    };
    let groups: Vec<Vec<usize>> = match (map.get("groups"), map.get("ranking")) {
        (Some(Value::Array(groups)), _) => groups
            .iter()
            .enumerate()
            .map(|(g, group)| match group {
                Value::Array(items) if !items.is_empty() => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| index(v, &format!("groups[{g}][{i}]")))
                    .collect::<Result<Vec<_>, _>>(),
                _ => err(format!("groups[{g}]"), "must be a list of one or more indices"),
            })
            .collect::<Result<_, _>>()?,
        (Some(other), _) if !other.is_null() => {
            return err("groups", format!("must be a list of lists, not {}", kind(other)));
        }
        (_, Some(Value::Array(ranking))) => ranking
            .iter()
            .enumerate()
            .map(|(i, v)| index(v, &format!("ranking[{i}]")).map(|i| vec![i]))
            .collect::<Result<_, _>>()?,
        (_, None) => return err("ranking", "missing"),
        (_, Some(other)) => return err("ranking", format!("must be a list of indices, not {}", kind(other))),
    };
    let field = if map.get("groups").is_some_and(Value::is_array) { "groups" } else { "ranking" };
    let mut seen = vec![false; completions.len()];
    for &i in groups.iter().flatten() {
        if std::mem::replace(&mut seen[i], true) {
            return err(field, format!("completion {i} is ranked twice"));
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return err(field, format!("completion {missing} is not ranked"));
    }
    let by = match map.get("trainer") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if !name.trim().is_empty() => Some(name.trim().to_string()),
        Some(other) => return err("trainer", format!("must be a name, not {}", kind(other))),
    };
    let first = prompt.len();
    let parent = Some(first - 1);
    let mut dialogue = Dialogue::chain(system, prompt);
    dialogue.turns.extend(completions.into_iter().map(|text| Turn { parent, role: Role::Assistant, text }));
    let groups = groups.into_iter().map(|g| g.into_iter().map(|i| first + i).collect()).collect();
    dialogue.rankings.push(Ranked { by, groups });
    Ok(Row::Dialogue(dialogue))
}

/// `"\n\nHuman: …\n\nAssistant: …"` into turns.
fn hh_turns(text: &str, field: &str) -> Result<Vec<(Role, String)>, RowError> {
    const HUMAN: &str = "\n\nHuman:";
    const ASSISTANT: &str = "\n\nAssistant:";
    let mut turns: Vec<(Role, String)> = vec![];
    let mut rest = text;
    if !rest.starts_with(HUMAN) {
        return err(field, "must start with \"\\n\\nHuman:\"");
    }
    while !rest.is_empty() {
        let (role, marker) = if rest.starts_with(HUMAN) {
            (Role::User, HUMAN)
        } else if rest.starts_with(ASSISTANT) {
            (Role::Assistant, ASSISTANT)
        } else {
            return err(field, "a turn must start with Human: or Assistant:");
        };
        rest = &rest[marker.len()..];
        let end = [rest.find(HUMAN), rest.find(ASSISTANT)].into_iter().flatten().min().unwrap_or(rest.len());
        turns.push((role, rest[..end].trim().to_string()));
        rest = &rest[end..];
    }
    if turns.last().is_none_or(|t| t.0 != Role::Assistant) {
        return err(field, "must end with an Assistant: turn");
    }
    Ok(turns)
}

/// An HH-RLHF row: the chosen conversation, and the rejected one as a later branch from
/// where they part. Turns are kept as the source wrote them, empty replies included.
fn hh(map: &serde_json::Map<String, Value>) -> Result<Row, RowError> {
    let chosen = hh_turns(&string(map.get("chosen"), "chosen")?, "chosen")?;
    let rejected = hh_turns(&string(map.get("rejected"), "rejected")?, "rejected")?;
    if let Some(at) = chosen.iter().position(|t| t.0 == Role::User && t.1.is_empty()) {
        return err("chosen", format!("turn {} (Human) is empty", at + 1));
    }
    let mut dialogue = Dialogue::chain(None, chosen);
    dialogue.prefer(rejected);
    Ok(Row::Dialogue(dialogue))
}

/// An Open-Assistant tree: prompter turns are the user's (two in a row are kept, as
/// HH-RLHF has some); siblings ordered by rank (0 best),
/// unranked after, in file order. Labels, emojis and reviews are not kept.
fn oasst(map: &serde_json::Map<String, Value>) -> Result<Row, RowError> {
    let Some(prompt) = map.get("prompt") else {
        return err("prompt", "missing");
    };
    let mut dialogue = Dialogue::default();
    let mut stack: Vec<(Option<usize>, &Value, String)> = vec![(None, prompt, "prompt".to_string())];
    while let Some((parent, node, path)) = stack.pop() {
        let Value::Object(node) = node else {
            return err(path, format!("a message must be an object, not {}", kind(node)));
        };
        let text = string(node.get("text"), &format!("{path}.text"))?;
        let role = match string(node.get("role"), &format!("{path}.role"))?.as_str() {
            "prompter" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return err(
                    format!("{path}.role"),
                    format!("unknown role {other:?}; roles are prompter, assistant"),
                );
            }
        };
        if parent.is_none() && role != Role::User {
            return err(format!("{path}.role"), "the first message must be the prompter's");
        }
        if node.get("deleted") == Some(&Value::Bool(true)) {
            continue;
        }
        dialogue.turns.push(Turn { parent, role, text });
        let index = dialogue.turns.len() - 1;
        let replies = match node.get("replies") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(replies)) => replies.iter().enumerate().collect::<Vec<_>>(),
            Some(other) => {
                return err(format!("{path}.replies"), format!("must be a list, not {}", kind(other)));
            }
        };
        let mut ordered: Vec<(usize, &Value)> = replies;
        ordered.sort_by_key(|(i, reply)| (reply.get("rank").and_then(Value::as_u64).unwrap_or(u64::MAX), *i));
        // Pushed last-first so they are read (and stored) in order.
        for (i, reply) in ordered.into_iter().rev() {
            stack.push((Some(index), reply, format!("{path}.replies[{i}]")));
        }
    }
    // Depth-first order keeps parents before children; siblings are stored in the order read.
    if dialogue.turns.len() == 1 {
        return Ok(Row::Prompt(dialogue.turns.remove(0).text));
    }
    Ok(Row::Dialogue(dialogue))
}

/// Limits and empty texts, after a row was read.
fn check(row: Row, limits: ReadLimits) -> Result<Row, RowError> {
    let too_big = |field: &str, text: &str| -> Result<(), RowError> {
        if text.len() > limits.text_bytes {
            return err(
                field,
                format!(
                    "{} KB, over the {} KB a turn may hold",
                    text.len().div_ceil(1024),
                    limits.text_bytes / 1024
                ),
            );
        }
        if text.contains('\0') {
            return err(field, "holds a NUL character");
        }
        Ok(())
    };
    match &row {
        Row::Prompt(text) => {
            if text.trim().is_empty() {
                return err("prompt", "empty text");
            }
            too_big("prompt", text)?;
        }
        Row::Dialogue(d) => {
            if d.turns.len() > limits.turns {
                return err(
                    "",
                    format!("{} turns, over the {} a conversation may hold", d.turns.len(), limits.turns),
                );
            }
            if let Some(system) = &d.system {
                too_big("system", system)?;
            }
            for (i, turn) in d.turns.iter().enumerate() {
                too_big(&format!("turn {}", i + 1), &turn.text)?;
                if turn.role == Role::User && turn.text.trim().is_empty() {
                    return err(format!("turn {}", i + 1), "empty text");
                }
            }
        }
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ReadLimits = ReadLimits { text_bytes: 1024, turns: 10 };

    fn read_ok(text: &str) -> Parsed {
        read(text.as_bytes(), ImportFormat::Auto, LIMITS).unwrap()
    }

    fn problems(text: &str, format: ImportFormat) -> Vec<String> {
        read(text.as_bytes(), format, LIMITS).unwrap_err().problems.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn instruction_rows_become_dialogues_or_prompts() {
        let parsed = read_ok(concat!(
            r#"{"instruction": "Add", "input": "2 and 3", "output": "5"}"#,
            "\n\n",
            r#"{"prompt": "Name a colour", "response": "Red"}"#,
            "\n",
            r#"{"instruction": "Write a haiku"}"#,
        ));
        assert_eq!(parsed.format, Some(ImportFormat::Instruction));
        assert_eq!(parsed.rows, 3);
        assert_eq!(parsed.dialogues[0].turns[0].text, "Add\n\n2 and 3");
        assert_eq!(parsed.dialogues[1].turns[1].text, "Red");
        assert_eq!(parsed.prompts, ["Write a haiku"]);
    }

    #[test]
    fn hh_rows_keep_the_rejected_reply_as_a_branch() {
        let line = serde_json::json!({
            "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Joke?\n\nAssistant: A good one",
            "rejected": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Joke?\n\nAssistant: No",
        });
        let parsed = read_ok(&line.to_string());
        let turns = &parsed.dialogues[0].turns;
        assert_eq!(turns.len(), 5);
        assert_eq!((turns[4].parent, turns[4].text.as_str()), (Some(2), "No"));
        assert_eq!(turns[3].text, "A good one", "chosen first");
    }

    fn ranked(d: &Dialogue) -> Vec<(Option<&str>, Vec<Vec<&str>>)> {
        d.rankings
            .iter()
            .map(|r| {
                let texts =
                    r.groups.iter().map(|g| g.iter().map(|&t| d.turns[t].text.as_str()).collect()).collect();
                (r.by.as_deref(), texts)
            })
            .collect()
    }

    #[test]
    fn hh_rows_rank_the_chosen_reply_first() {
        let line = serde_json::json!({
            "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Joke?\n\nAssistant: A good one",
            "rejected": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Joke?\n\nAssistant: No",
        });
        let parsed = read_ok(&line.to_string());
        assert_eq!(ranked(&parsed.dialogues[0]), [(None, vec![vec!["A good one"], vec!["No"]])]);
        // Where one side goes on for more turns, the replies where they part are ranked.
        let longer = serde_json::json!({
            "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Joke?\n\nAssistant: Sure",
            "rejected": "\n\nHuman: Hi\n\nAssistant: Go away",
        });
        assert_eq!(
            ranked(&read_ok(&longer.to_string()).dialogues[0]),
            [(None, vec![vec!["Hello!"], vec!["Go away"]])]
        );
        // Parting at the user's turn, or one side only continuing the other: no ranking.
        let at_user = serde_json::json!({
            "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Joke?\n\nAssistant: Sure",
            "rejected": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Poem?\n\nAssistant: Roses",
        });
        let continued = serde_json::json!({
            "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!",
            "rejected": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Joke?\n\nAssistant: Sure",
        });
        for line in [at_user, continued] {
            let parsed = read_ok(&line.to_string());
            assert!(parsed.dialogues[0].rankings.is_empty(), "{line}");
        }
    }

    #[test]
    fn trl_preference_rows_in_every_form() {
        let text = [
            serde_json::json!({"prompt": "Name a colour", "chosen": "Red", "rejected": "Seven"}),
            serde_json::json!({
                "prompt": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}],
                "chosen": [{"role": "assistant", "content": "Hello"}],
                "rejected": [{"role": "assistant", "content": "Go away"}],
                "margin": 2.0,
            }),
            // Implicit prompt: two whole conversations sharing their start.
            serde_json::json!({
                "chosen": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
                "rejected": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}],
            }),
        ]
        .map(|v| v.to_string())
        .join("\n");
        let parsed = read_ok(&text);
        assert_eq!(parsed.format, Some(ImportFormat::TrlPreference));
        let all: Vec<_> = parsed.dialogues.iter().map(ranked).collect();
        assert_eq!(
            all,
            [
                vec![(None, vec![vec!["Red"], vec!["Seven"]])],
                vec![(None, vec![vec!["Hello"], vec!["Go away"]])],
                vec![(None, vec![vec!["4"], vec!["5"]])],
            ]
        );
        assert_eq!(parsed.dialogues[1].system.as_deref(), Some("Be brief"));
        assert_eq!(
            problems(r#"{"prompt": "Hi", "chosen": "Yo", "rejected": 3}"#, ImportFormat::Auto),
            ["line 1: rejected: must be a string or a list of messages, not a number"]
        );
        assert_eq!(
            problems(r#"{"prompt": "Hi", "chosen": [], "rejected": "x"}"#, ImportFormat::Auto),
            ["line 1: chosen: no reply"]
        );
    }

    #[test]
    fn kwise_rows_keep_the_ranking_whole_and_merge_their_rankers() {
        let row = |ranking: serde_json::Value, trainer: &str| {
            serde_json::json!({
                "prompt": [{"role": "user", "content": "Q"}],
                "completions": [{"role": "assistant", "content": "a"}, "b", {"content": "c"}],
                "ranking": ranking,
                "trainer": trainer,
            })
            .to_string()
        };
        let text = [
            row(serde_json::json!([2, 0, 1]), "t1"),
            row(serde_json::json!([0, 2, 1]), "t2"),
            row(serde_json::json!([0, 2, 1]), "t2"),
        ]
        .join("\n");
        let parsed = read_ok(&text);
        assert_eq!(parsed.format, Some(ImportFormat::Kwise));
        // Rows ranking the same replies are one conversation; the same trainer twice is a
        // duplicate row, left for the store to count.
        assert_eq!(parsed.dialogues.len(), 2);
        assert_eq!(
            ranked(&parsed.dialogues[0]),
            [
                (Some("t1"), vec![vec!["c"], vec!["a"], vec!["b"]]),
                (Some("t2"), vec![vec!["a"], vec!["c"], vec!["b"]]),
            ]
        );
        let ties = serde_json::json!({"prompt": "Q", "completions": ["a", "b", "c"], "ranking": [1, 0, 2], "groups": [[1, 0], [2]]});
        assert_eq!(
            ranked(&read_ok(&ties.to_string()).dialogues[0]),
            [(None, vec![vec!["b", "a"], vec!["c"]])]
        );
        let bad = |ranking: &str| {
            problems(
                &format!(r#"{{"prompt": "Q", "completions": ["a", "b"], "ranking": {ranking}}}"#),
                ImportFormat::Kwise,
            )
        };
        assert_eq!(bad("[0, 0]"), ["line 1: ranking: completion 0 is ranked twice"]);
        assert_eq!(bad("[1]"), ["line 1: ranking: completion 0 is not ranked"]);
        assert_eq!(bad("[0, 2]"), ["line 1: ranking[1]: 2 is not a completion's index (0 to 1)"]);
        assert_eq!(bad("\"0,1\""), ["line 1: ranking: must be a list of indices, not a string"]);
        assert_eq!(
            problems(r#"{"prompt": "Q", "completions": ["a"], "ranking": [0]}"#, ImportFormat::Kwise),
            ["line 1: completions: 1 completion(s); a ranking needs at least two"]
        );
        assert_eq!(
            problems(
                r#"{"prompt": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}], "completions": ["a", "b"], "ranking": [0, 1]}"#,
                ImportFormat::Kwise
            ),
            ["line 1: prompt: must end with the user's turn"]
        );
    }

    #[test]
    fn oasst_trees_keep_branches_in_rank_order() {
        let tree = serde_json::json!({"message_tree_id": "t", "tree_state": "ready_for_export", "prompt": {
            "message_id": "a", "text": "Q", "role": "prompter", "replies": [
                {"message_id": "b", "text": "worse", "role": "assistant", "rank": 1, "replies": []},
                {"message_id": "c", "text": "best", "role": "assistant", "rank": 0, "replies": [
                    {"message_id": "d", "text": "thanks", "role": "prompter", "replies": []}]}]}});
        let parsed = read_ok(&tree.to_string());
        let texts: Vec<&str> = parsed.dialogues[0].turns.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["Q", "best", "thanks", "worse"]);
        assert_eq!(parsed.dialogues[0].turns[3].parent, Some(0));
    }

    #[test]
    fn bad_rows_are_named_by_line_and_field() {
        let text = concat!(
            r#"{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}"#,
            "\n",
            r#"{"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}]}"#,
            "\n",
            r#"{"messages": [{"role": "user", "content": 5}]}"#,
            "\n",
            r#"{"messages": [{"role": "user", "content": "#,
            "\n",
            r#"{"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "x"}]}"#,
            "\n",
        );
        assert_eq!(
            problems(text, ImportFormat::Auto),
            [
                "line 2: messages[1].role: unknown role \"robot\"; roles are system, user, assistant",
                "line 3: messages[0].content: must be a string, not a number",
                "line 4: not JSON: EOF while parsing a value at line 1 column 42",
                "line 5: turn 1: empty text",
            ]
        );
        let huge = format!(r#"{{"instruction": "{}", "output": "x"}}"#, "a".repeat(2000));
        assert_eq!(
            problems(&huge, ImportFormat::Instruction),
            ["line 1: instruction: 2 KB, over the 1 KB a turn may hold".replace("instruction", "turn 1")]
        );
        assert_eq!(problems("", ImportFormat::Auto), ["line 1: the file holds no rows"]);
        assert_eq!(
            problems("[1]", ImportFormat::Auto)[0],
            "line 1: cannot tell the format from this row; name it (--format)"
        );
    }

    #[test]
    fn at_most_twenty_problems_are_listed_and_all_counted() {
        let text = "{\n".repeat(25);
        let refusal = read(text.as_bytes(), ImportFormat::Messages, LIMITS).unwrap_err();
        assert_eq!((refusal.problems.len(), refusal.total), (MAX_PROBLEMS, 25));
    }

    #[test]
    fn the_same_dialogue_hashes_the_same() {
        let a = Dialogue::chain(None, vec![(Role::User, "a".into()), (Role::Assistant, "b".into())]);
        let b = Dialogue::chain(
            Some("sys".into()),
            vec![(Role::User, "a".into()), (Role::Assistant, "b".into())],
        );
        assert_eq!(a.content_hash(), a.clone().content_hash());
        assert_ne!(a.content_hash(), b.content_hash());
    }
}
