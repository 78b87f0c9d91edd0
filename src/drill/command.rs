//! Incident-command and change-management moves: `incident declare`,
//! `comms`, `note`, `plan`, `approve`, `decide`. They are records the
//! scoring reads; the engine keeps the plan and the incident's severity.

use super::Drill;
use super::apply::{Done, list_or_none, rows};
use crate::action::{Change, Incident, Plan};
use crate::scenario::Scenario;

impl Drill {
    /// `incident declare`, `comms`, `note`.
    pub(super) fn incident(&mut self, incident: Incident) -> Done {
        let canonical = incident.to_string();
        match incident {
            Incident::Declare { severity } => {
                let before = self.incident.replace(severity.clone());
                let text = match before {
                    Some(b) if b != severity => {
                        format!("incident severity changed from {b} to {severity}")
                    }
                    _ => format!("{severity} incident declared: incident channel open"),
                };
                Done::ok(canonical, text)
            }
            Incident::Comms(_) => Done::ok(canonical, "update sent to stakeholders"),
            Incident::Note(_) => Done::ok(canonical, "noted"),
        }
    }

    /// `plan`, `approve`, `decide`.
    pub(super) fn change(&mut self, change: Change) -> Done {
        let canonical = change.to_string();
        match change {
            Change::Plan(None) => self.plan_view(canonical),
            Change::Plan(Some(plan)) => self.plan(canonical, plan),
            Change::Decide { go, what, reason } => {
                if self.scenario.migrations.get(&what).is_none() {
                    return Done::refuse(canonical, unknown_migration(&self.scenario, &what));
                }
                let word = Change::word(go);
                Done::ok(
                    canonical,
                    format!("decision recorded: {word} for {what} ({reason})"),
                )
            }
            Change::Approve { what, by, role } => {
                let capacity = role.map(|r| format!(" as {r}")).unwrap_or_default();
                Done::ok(
                    canonical,
                    format!("approval for {what} recorded from {by}{capacity}"),
                )
            }
        }
    }

    fn plan(&mut self, canonical: String, plan: Plan) -> Done {
        if self.scenario.migrations.get(&plan.migration).is_none() {
            return Done::refuse(
                canonical,
                unknown_migration(&self.scenario, &plan.migration),
            );
        }
        let text = format!(
            "plan recorded: {} classified {}, rollback window {} owned by {}",
            plan.migration, plan.kind, plan.window, plan.owner
        );
        self.plans.retain(|p| p.migration != plan.migration);
        self.plans.push(plan);
        Done::ok(canonical, text)
    }

    fn plan_view(&self, canonical: String) -> Done {
        let table = self
            .plans
            .iter()
            .map(|p| {
                vec![
                    p.migration.clone(),
                    p.kind.clone(),
                    p.window.to_string(),
                    p.owner.clone(),
                    p.purpose.clone().unwrap_or_default(),
                ]
            })
            .collect::<Vec<_>>();
        let text = if table.is_empty() {
            "no plan yet: `plan MIGRATION expand|contract --window 24h --owner NAME`".to_string()
        } else {
            format!("{} migration(s) planned", table.len())
        };
        Done::ok(canonical, text).view(rows(
            &["migration", "kind", "rollback window", "owner", "purpose"],
            table,
        ))
    }
}

fn unknown_migration(scenario: &Scenario, id: &str) -> String {
    let known: Vec<String> = scenario
        .migrations
        .list
        .iter()
        .map(|m| m.id.clone())
        .collect();
    format!("no migration `{id}` (migrations: {})", list_or_none(&known))
}
