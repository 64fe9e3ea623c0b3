//! Types the browser and the server share.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// What a person may do in Parley. Each role includes the ones below it:
/// an admin can do what a reviewer can, a reviewer what a trainer can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Trainer,
    Reviewer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Trainer, Role::Reviewer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Trainer => "trainer",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    /// Whether someone with this role may do what `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "trainer" => Ok(Role::Trainer),
            "reviewer" => Ok(Role::Reviewer),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}; expected trainer, reviewer or admin")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// When an admin deactivated the account (it cannot sign in); none while it is active.
    #[serde(default)]
    pub deactivated_at: Option<String>,
    /// An admin set a one-time password: the account must choose its own first.
    #[serde(default)]
    pub must_change_password: bool,
}

/// A key for the OpenAI-compatible API. The key itself is never stored or shown again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A key just made: the only moment its secret is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: String,
}

/// What the signed-in person has produced so far, shown on the home page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCounts {
    pub demonstrations: i64,
    pub rankings: i64,
    pub feedback: i64,
}

/// One area of the studio, as the navigation shows it and the router guards it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    pub label: &'static str,
    pub path: &'static str,
    pub needs: Role,
}

/// The areas, in navigation order. The server's page guard reads the same table.
pub const AREAS: &[Area] = &[
    Area { label: "Write", path: "/write", needs: Role::Trainer },
    Area { label: "Chat", path: "/chat", needs: Role::Trainer },
    Area { label: "My work", path: "/mine", needs: Role::Trainer },
    Area { label: "Rank", path: "/rank", needs: Role::Trainer },
    Area { label: "Feedback", path: "/feedback", needs: Role::Trainer },
    Area { label: "Review", path: "/review", needs: Role::Reviewer },
    Area { label: "Progress", path: "/progress", needs: Role::Trainer },
    Area { label: "Quality", path: "/stats", needs: Role::Reviewer },
    Area { label: "Datasets", path: "/datasets", needs: Role::Admin },
    Area { label: "Admin", path: "/admin", needs: Role::Admin },
];

/// The area a page path belongs to, if any.
pub fn area_for_path(path: &str) -> Option<&'static Area> {
    AREAS.iter().find(|area| {
        path == area.path || path.strip_prefix(area.path).is_some_and(|rest| rest.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin.allows(Role::Reviewer));
        assert!(Role::Reviewer.allows(Role::Trainer));
        assert!(!Role::Trainer.allows(Role::Reviewer));
        assert!(!Role::Reviewer.allows(Role::Admin));
    }

    #[test]
    fn role_round_trips_through_its_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("owner".parse::<Role>().unwrap_err().contains("owner"));
    }

    #[test]
    fn area_for_path_matches_whole_segments_only() {
        assert_eq!(area_for_path("/admin").map(|a| a.label), Some("Admin"));
        assert_eq!(area_for_path("/admin/users").map(|a| a.label), Some("Admin"));
        assert_eq!(area_for_path("/administrivia"), None);
        assert_eq!(area_for_path("/"), None);
    }
}

/// Task guidelines for one area, in Markdown; shown beside the editor, rendered without raw
/// HTML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guidelines {
    /// "write" or "chat".
    pub area: String,
    pub markdown: String,
    pub updated_at: String,
}

/// The areas that have guidelines.
pub const GUIDELINE_AREAS: [&str; 3] = ["write", "chat", "rank"];

/// How much one conversation may hold; larger input is refused with the limit named, never
/// cut. Set with `--max-message-kb` and `--max-messages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Bytes in one message (and in a system prompt).
    pub message_bytes: usize,
    /// Messages in one conversation, every branch together.
    pub messages: usize,
    /// How long a trainer holds a comparison they were given.
    pub rank_lease_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            message_bytes: 32 * 1024,
            messages: 200,
            rank_lease_secs: crate::comparison::DEFAULT_LEASE_SECS,
        }
    }
}
