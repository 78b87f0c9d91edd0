//! Change management: the migration `plan` with its rollback window and
//! owner, `approve`, and the go/no-go `decide` on a contract step
//! (runbook 000, pre-deploy checklist; lab steps 1 and 6).

use std::fmt;

use super::ParseError;
use super::help::Help;
use super::words::{Words, exact, quoted};
use crate::scenario::Dur;

/// A change-management move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Record the migration plan, or show it (`None`).
    Plan(Option<Plan>),
    /// Record an approval.
    Approve {
        /// What is approved (a migration id, `restore`...).
        what: String,
        /// Who approves.
        by: String,
        /// In what capacity (`sre`, `migration-owner`): runbook 003 wants
        /// approvals from an SRE and the migration's owner.
        role: Option<String>,
    },
    /// A go/no-go decision on a migration (a contract step).
    Decide {
        /// Go (`true`) or no-go.
        go: bool,
        /// The migration decided on.
        what: String,
        /// The reasons, in words (the checklist items met or not).
        reason: String,
    },
}

/// A migration plan: what runs, how it is classified, and the rollback
/// window with its owner (runbook 000, pre-deploy checklist; lab step 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The migration's id.
    pub migration: String,
    /// `expand` or `contract`, as the learner classifies it.
    pub kind: String,
    /// How long the rollback window stays open.
    pub window: Dur,
    /// Who owns the rollback.
    pub owner: String,
    /// What it is for.
    pub purpose: Option<String>,
}

impl Change {
    /// The verbs, as typed.
    pub(super) const VERBS: &[&str] = &["plan", "approve", "decide"];

    pub(super) fn parse(verb: &str, w: &Words) -> Result<Change, ParseError> {
        match verb {
            "plan" if w.len() == 1 => Ok(Change::Plan(None)),
            "plan" => parse_plan(w).map(|p| Change::Plan(Some(p))),
            "approve" => {
                w.at_most(6)?;
                let role = match (w.get(4), w.get(5)) {
                    (None, _) => None,
                    (Some("--as"), Some(role)) => Some(role.to_string()),
                    _ => return Err(w.err("write `approve WHAT --by NAME [--as ROLE]`")),
                };
                match (w.operand(1), w.get(2), w.get(3)) {
                    (Some(what), Some("--by"), Some(by)) => Ok(Change::Approve {
                        what,
                        by: by.to_string(),
                        role,
                    }),
                    _ => Err(w.err("write `approve WHAT --by NAME [--as ROLE]`")),
                }
            }
            _ => parse_decide(w),
        }
    }
}

fn parse_decide(w: &Words) -> Result<Change, ParseError> {
    let go = match w.keyword(1).as_deref() {
        Some("go") => true,
        Some("no-go" | "nogo") => false,
        _ => return Err(w.err("decide `go` or `no-go`")),
    };
    let what = w
        .get(2)
        .ok_or_else(|| w.err("say which migration the decision is about"))?
        .to_string();
    let reason = w.from(3).join(" ");
    if reason.trim().is_empty() {
        return Err(w.err("give the reasons: which checklist items are met and which are not"));
    }
    Ok(Change::Decide { go, what, reason })
}

fn parse_plan(w: &Words) -> Result<Plan, ParseError> {
    let migration = w
        .operand(1)
        .ok_or_else(|| w.err("name the migration first: `plan 002_x expand ...`"))?;
    let kind = match w.keyword(2) {
        Some(k) if k == "expand" || k == "contract" => k,
        _ => {
            return Err(
                w.err("classify the migration: `expand` (additive) or `contract` (destructive)")
            );
        }
    };
    let (mut window, mut owner, mut purpose) = (None, None, None);
    let mut i = 3;
    while let Some(option) = w.get(i) {
        let value = w
            .get(i + 1)
            .ok_or_else(|| w.err(format!("{option} takes a value")))?;
        match option {
            "--window" => window = Some(w.duration(value)?),
            "--owner" => owner = Some(value.to_string()),
            "--purpose" => purpose = Some(value.to_string()),
            other => return Err(w.err(format!("unexpected `{other}`"))),
        }
        i += 2;
    }
    let window = window.ok_or_else(|| {
        w.err("a plan needs a rollback window, e.g. `--window 24h` (runbook 000, pre-deploy checklist 2)")
    })?;
    let owner = owner.ok_or_else(|| {
        w.err("a rollback window needs an owner: `--owner NAME` (runbook 000, pre-deploy checklist 2)")
    })?;
    Ok(Plan {
        migration,
        kind,
        window,
        owner,
        purpose,
    })
}

impl Change {
    /// `go` or `no-go`, for a decision.
    pub fn word(go: bool) -> &'static str {
        if go { "go" } else { "no-go" }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Plan(None) => f.write_str("plan"),
            Change::Plan(Some(plan)) => plan.fmt(f),
            Change::Approve { what, by, role } => {
                write!(f, "approve {} --by {}", quoted(what), quoted(by))?;
                match role {
                    Some(role) => write!(f, " --as {}", quoted(role)),
                    None => Ok(()),
                }
            }
            Change::Decide { go, what, reason } => {
                write!(f, "decide {} {} {reason}", Change::word(*go), quoted(what))
            }
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plan {} {} --window {} --owner {}",
            quoted(&self.migration),
            self.kind,
            exact(self.window.0),
            quoted(&self.owner)
        )?;
        match &self.purpose {
            Some(p) => write!(f, " --purpose {}", quoted(p)),
            None => Ok(()),
        }
    }
}

/// Help for `approve`.
pub(super) const APPROVE: Help = Help {
    name: "approve",
    usage: "approve WHAT --by NAME [--as ROLE]",
    summary: "record an approval (a destructive step, a restore, a contract migration)",
    detail: "Break-glass actions are allowed only with incident owner approval (runbook 000). `--as ROLE` says in what capacity (`approve restore --by dana --as sre`): runbook 003 wants approvals from an SRE and the migration's owner, two different people.",
};

/// Help for `plan`.
pub(super) const PLAN: Help = Help {
    name: "plan",
    usage: "plan MIGRATION expand|contract --window DURATION --owner NAME [--purpose \"TEXT\"]   |   plan",
    summary: "record the migration plan: id, classification, rollback window and its owner",
    detail: "Before any rollout: classify the migration (expand = additive, the old schema path stays valid; contract = drops or renames), define the rollback window with an owner (runbook 000, pre-deploy checklist 1-2). No approved rollback window, no migration rollout (lab step 1): record the approval with `approve plan --by NAME`. `plan` alone shows the plan so far.",
};

/// Help for `decide`.
pub(super) const DECIDE: Help = Help {
    name: "decide",
    usage: "decide go|no-go MIGRATION \"REASONS\"",
    summary: "a go/no-go decision on a migration, with the checklist behind it",
    detail: "The contract step goes ahead only when: traffic is fully on the new code path; the rollback window passed without incidents; backup/restore evidence is current; explicit approval is recorded (lab step 6). Say which items are met and which are not.",
};
