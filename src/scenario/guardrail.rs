//! The doctrine's built-in guardrails: rules every scenario is scored
//! against unless it turns one off (`rubric.guardrails_off`). Here they are
//! data (id, penalty, the runbook sentence each cites); `score::guardrails`
//! decides when one is broken.

/// Which rule a guardrail is: `score::guardrails` has one file per rule
/// and dispatches on this, so a rule without its check does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Destructive DDL only after an approval.
    DestructiveWithoutApproval,
    /// A snapshot before corrective work, once the incident began.
    CorrectiveWithoutSnapshot,
    /// Never restore over the database the app uses.
    RestoreInPlace,
    /// After expand + deploy, the flag goes off before the app rolls back.
    RollbackBeforeFlag,
    /// Contract only after a stable compatibility window.
    ContractBeforeStable,
    /// A forward fix is idempotent and sorts after what is applied.
    ForwardFixRules,
}

/// One built-in rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guardrail {
    /// Which rule.
    pub rule: Rule,
    /// Id used in `guardrails_off` and in score lines.
    pub id: &'static str,
    /// Points taken off when broken.
    pub penalty: u32,
    /// A hard stop: the drill fails whatever the points.
    pub fatal: bool,
    /// The lesson, citing the runbook.
    pub why: &'static str,
}

/// Every built-in guardrail.
pub const GUARDRAILS: &[Guardrail] = &[
    Guardrail {
        rule: Rule::DestructiveWithoutApproval,
        id: "destructive-without-approval",
        penalty: 25,
        fatal: false,
        why: "Destructive DDL only after explicit approval: `approve ID --by NAME` first (chapter 16, guardrails; runbook 000, break-glass rules: incident owner approval).",
    },
    Guardrail {
        rule: Rule::CorrectiveWithoutSnapshot,
        id: "corrective-without-snapshot",
        penalty: 30,
        fatal: false,
        why: "Do not run corrective or irreversible operations before taking an extra snapshot of the current state (runbook 003, initial triage step 4).",
    },
    Guardrail {
        rule: Rule::RestoreInPlace,
        id: "restore-in-place",
        penalty: 40,
        fatal: false,
        why: "Never overwrite production in place without restoring to a separate instance and validating first (runbook 003, guiding principles).",
    },
    Guardrail {
        rule: Rule::RollbackBeforeFlag,
        id: "rollback-before-flag",
        penalty: 15,
        fatal: false,
        why: "After expand + deploy, disable the feature flag first: it is the fastest mitigation; roll the app back only if needed (runbook 000, rollback order).",
    },
    Guardrail {
        rule: Rule::ContractBeforeStable,
        id: "contract-before-stable",
        penalty: 40,
        fatal: true,
        why: "A contract migration only after a stable compatibility window (runbook 000, migration types; hard stop: destructive change before the compatibility window).",
    },
    Guardrail {
        rule: Rule::ForwardFixRules,
        id: "forward-fix-rules",
        penalty: 10,
        fatal: false,
        why: "A corrective forward migration gets a higher version and is idempotent, IF EXISTS / IF NOT EXISTS (runbook 004, option B).",
    },
];

impl Guardrail {
    /// Its penalty in `scenario` (reworded or not).
    pub fn penalty_in(&self, scenario: &super::Scenario) -> u32 {
        scenario
            .rubric
            .guardrails
            .get(self.id)
            .and_then(|f| f.penalty)
            .unwrap_or(self.penalty)
    }

    /// Its lesson in `scenario`'s words, or the built-in one.
    pub fn why_in<'a>(&'a self, scenario: &'a super::Scenario) -> &'a str {
        scenario
            .rubric
            .guardrails
            .get(self.id)
            .and_then(|f| f.why.as_deref())
            .unwrap_or(self.why)
    }
}

/// The guardrail with this id.
pub fn guardrail(id: &str) -> Option<&'static Guardrail> {
    GUARDRAILS.iter().find(|g| g.id == id)
}
