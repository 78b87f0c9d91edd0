//! What the transcript keeps of a move for the reports
//! ([`transcript::Parsed`](crate::transcript::Parsed)), and the filling in
//! of it for transcripts written before it was kept.

use super::{Action, Change, Incident, parse};
use crate::transcript::{EventKind, FORMAT, Parsed, Transcript};

impl Action {
    /// The move as reports read it.
    pub fn parsed(&self) -> Parsed {
        match self {
            a if a.changes_nothing() => Parsed::Look,
            Action::Change(Change::Plan(Some(p))) => Parsed::Plan {
                migration: p.migration.clone(),
                classified: p.kind.clone(),
                window_ms: p.window.as_millis(),
                owner: p.owner.clone(),
                purpose: p.purpose.clone(),
            },
            Action::Change(Change::Approve { what, by, role }) => Parsed::Approval {
                what: what.clone(),
                by: by.clone(),
                role: role.clone(),
            },
            Action::Change(Change::Decide { go, what, reason }) => Parsed::Decision {
                go: *go,
                migration: what.clone(),
                reason: reason.clone(),
            },
            Action::Incident(Incident::Note(text)) => Parsed::Note { text: text.clone() },
            Action::Incident(Incident::Comms(text)) => Parsed::Comms { text: text.clone() },
            _ => Parsed::Act,
        }
    }
}

/// Fills in each move's parsed form in a transcript written before
/// format 3, by parsing what the learner typed with today's grammar (a
/// line it no longer reads, or DDL another client ran, is an action). Call
/// it after the seal is verified: the seal covers the file as written.
pub fn upgrade(transcript: &mut Transcript) {
    if transcript.format >= FORMAT {
        return;
    }
    for event in &mut transcript.events {
        if let EventKind::Move(m) = &mut event.kind
            && m.parsed.is_none()
        {
            m.parsed = Some(Box::new(
                parse(&m.input).map_or(Parsed::Act, |a| a.parsed()),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(format: u32, inputs: &[&str]) -> Transcript {
        let moves: Vec<serde_json::Value> = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                serde_json::json!({"t_ms": i as u64 * 1000, "type": "move",
                    "input": input, "canonical": input, "ok": true, "result": "",
                    "state": {"pods": {}, "flags": {}, "applied": [], "snapshots": 0, "instance": "primary"}})
            })
            .collect();
        let json = serde_json::json!({"format": format, "pgdrill_version": "0", "scenario": "s",
            "seed": 1, "time_scale": 1.0, "started_at": 0, "events": moves});
        serde_json::from_value(json).expect("a transcript")
    }

    fn parsed(t: &Transcript) -> Vec<Option<Parsed>> {
        t.moves()
            .map(|(_, m)| m.parsed.as_deref().cloned())
            .collect()
    }

    #[test]
    fn an_old_transcript_gets_its_moves_parsed_form_from_what_was_typed() {
        let mut t = transcript(
            2,
            &[
                "status",
                "approve plan --by dana",
                "(psql) DROP TABLE x",
                "note 'saw 42703'",
                "a line no grammar reads",
            ],
        );
        upgrade(&mut t);
        assert_eq!(
            parsed(&t),
            vec![
                Some(Parsed::Look),
                Some(Parsed::Approval {
                    what: "plan".into(),
                    by: "dana".into(),
                    role: None
                }),
                Some(Parsed::Act),
                Some(Parsed::Note {
                    text: "saw 42703".into()
                }),
                Some(Parsed::Act),
            ]
        );
    }

    #[test]
    fn a_current_transcript_is_left_as_the_engine_wrote_it() {
        let mut t = transcript(FORMAT, &["status"]);
        upgrade(&mut t);
        assert_eq!(parsed(&t), vec![None]);
    }
}
