//! The fixed vocabularies of the model: priorities, task types, states,
//! each stored as its lowercase name.

use super::*;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? } $(default $default:ident)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $(impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        })?

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let valid: Vec<_> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} '{s}' (valid: {})", stringify!($name).to_lowercase(), valid.join(", "))
                })
            }
        }
    };
}

/// For the other vocabularies stored by name (`crate::team`).
pub(crate) use string_enum;

string_enum!(
    /// The seed's task types; each has its own workflow (section 4). And
    /// `ci`: a GitHub Actions run, whose handler (`vayu github ci`)
    /// dispatches a workflow and ends as the run's conclusion did.
    TaskType {
        UserRequest => "user_request",
        Maintenance => "maintenance",
        Scheduled => "scheduled",
        Research => "research",
        Learning => "learning",
        Ci => "ci",
    }
    default UserRequest
);

string_enum!(
    /// Critical tasks are claimed first, then high, normal, low.
    Priority {
        Critical => "critical",
        High => "high",
        Normal => "normal",
        Low => "low",
    }
    default Normal
);

impl Priority {
    /// 0 for critical .. 3 for low: stored as `priority_rank` so a query can
    /// order by it (strings would sort alphabetically).
    pub fn rank(self) -> i64 {
        match self {
            Priority::Critical => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        }
    }
}

string_enum!(
    /// Who asked for the task.
    RequesterType {
        Human => "human",
        Agent => "agent",
        System => "system",
    }
    default Human
);

string_enum!(
    /// How the primary agent got the task.
    AssignmentMethod {
        Claimed => "claimed",
        Assigned => "assigned",
        Volunteered => "volunteered",
    }
);

string_enum!(
    /// A review's verdict.
    ReviewStatus {
        Pending => "pending",
        Passed => "passed",
        Failed => "failed",
    }
);

string_enum!(
    /// Weights load balancing (section 3).
    Complexity {
        Simple => "simple",
        Moderate => "moderate",
        Complex => "complex",
    }
    default Simple
);

string_enum!(
    /// What a person asked a running task to do; the lease holder obeys
    /// at its next heartbeat. `Migrate` hands the task to the agent the
    /// request pushed it to (`assignment.pushed_to`, `vayu task migrate`):
    /// back to the queue with its checkpoints, for that agent alone to
    /// claim until the push ends.
    ControlRequest {
        Cancel => "cancel",
        Pause => "pause",
        Migrate => "migrate",
    }
);

string_enum!(
    /// An agent's health as others see it.
    AgentState {
        Online => "online",
        Busy => "busy",
        Offline => "offline",
    }
);

string_enum!(
    /// Who reworks a rejected round (`--rework`): another agent (the
    /// default: fresh eyes, and an executor whose work was rejected once is
    /// likely to repeat it), or the same one, which keeps its context.
    Rework {
        Other => "other",
        Same => "same",
    }
    default Other
);
