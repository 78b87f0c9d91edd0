//! Tamper evidence: a hash chain over a transcript's events, and an optional
//! HMAC signature over the chain's head.
//!
//! The chain starts from a hash of the header (format, pgdrill version,
//! scenario id and fingerprint, learner, seed, time scale, start time);
//! each event stores `hash = SHA-256(previous hash ‖ the event as JSON)`,
//! and the seal records the number of events and the last hash. Checking
//! each link against the *stored* previous hash points at the event that
//! was changed, removed or inserted, instead of only saying "something
//! changed".
//!
//! What this proves, honestly: the chain catches a transcript edited by
//! hand or by a script that does not know pgdrill's algorithm, a file cut
//! short, and a transcript played against other scenario files. Anyone who
//! reads this file can recompute the chain after editing, so without a
//! signature it is evidence of care, not proof. A signature proves that
//! whoever sealed the transcript held the key: it is proof against the
//! learner only when the learner never had the key (the drill ran on a
//! machine or CI job the instructor controls). It never proves that the
//! moves were typed by the person named as the learner.
//!
//! Invariant: the JSON hashed for an event is the event as this build
//! serialises it, so the hash covers exactly what scoring reads. Fields
//! added to events later must be skipped when empty, so older transcripts
//! still verify.

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{EventKind, Transcript};

/// The seal written at the end of a transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// How many events the chain covers.
    pub events: usize,
    /// The last link (the header's hash when there are no events).
    pub head: String,
    /// An HMAC over the head, when a signing key was configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// An HMAC-SHA256 signature over a seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Always `hmac-sha256`.
    pub alg: String,
    /// Names the key without revealing it ([`key_id`]).
    pub key_id: String,
    /// The MAC, hex.
    pub mac: String,
}

/// Something a check of the seal found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Finding {
    /// No seal: an older pgdrill (format 1), or a hand-made file.
    Unsealed,
    /// The header or the first event no longer matches the first link.
    HeaderOrFirstEvent,
    /// An event does not match its link: changed, or one before it was
    /// removed or inserted.
    Event {
        /// 0-based position in `events`.
        index: usize,
        /// Its scenario time.
        t_ms: u64,
        /// What it is (`move \`flag set ...\``).
        what: String,
    },
    /// The seal counts other events than the file has.
    Count {
        /// Sealed.
        sealed: usize,
        /// Found.
        found: usize,
    },
    /// The seal's head is not the last link.
    Head,
    /// A key was given but the transcript is not signed.
    NotSigned,
    /// Signed with another key.
    OtherKey {
        /// The signature's key id.
        key_id: String,
    },
    /// The signature does not match (the seal was changed after signing).
    BadSignature,
}

impl Finding {
    /// In words, for the class table.
    pub fn describe(&self) -> String {
        match self {
            Finding::Unsealed => {
                "not sealed (written by an older pgdrill or by hand): edits cannot be detected"
                    .into()
            }
            Finding::HeaderOrFirstEvent => {
                "edited: the header (learner, seed, scenario) or the first event changed".into()
            }
            Finding::Event { index, t_ms, what } => format!(
                "edited: event {} at {} ({what}) changed, or one before it was removed",
                index + 1,
                crate::text::clock(*t_ms)
            ),
            Finding::Count { sealed, found } if found < sealed => format!(
                "cut short: {} of {sealed} sealed events are missing",
                sealed - found
            ),
            Finding::Count { sealed, found } => {
                format!("edited: {} events added after sealing", found - sealed)
            }
            Finding::Head => "edited: the seal does not match the events".into(),
            Finding::NotSigned => "not signed, and a key was required".into(),
            Finding::OtherKey { key_id } => format!("signed with another key (key id {key_id})"),
            Finding::BadSignature => "signature does not match: changed after signing".into(),
        }
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// The fields the chain starts from.
#[derive(Serialize)]
struct Header<'a> {
    format: u32,
    pgdrill_version: &'a str,
    scenario: &'a str,
    scenario_fingerprint: &'a Option<String>,
    learner: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backend: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: &'a Option<std::collections::BTreeMap<String, u64>>,
    seed: u64,
    time_scale: f64,
    started_at: u64,
}

/// An event as hashed: everything but its stored hash.
#[derive(Serialize)]
struct Hashed<'a> {
    t_ms: u64,
    #[serde(flatten)]
    kind: &'a EventKind,
}

fn genesis(t: &Transcript) -> [u8; 32] {
    let header = Header {
        format: t.format,
        pgdrill_version: &t.pgdrill_version,
        scenario: &t.scenario,
        scenario_fingerprint: &t.scenario_fingerprint,
        learner: &t.learner,
        backend: &t.backend,
        rows: &t.rows,
        seed: t.seed,
        time_scale: t.time_scale,
        started_at: t.started_at,
    };
    let mut h = Sha256::new();
    h.update(b"pgdrill transcript\0");
    h.update(serde_json::to_vec(&header).expect("a header serialises"));
    h.finalize().into()
}

fn link(previous: &[u8; 32], t_ms: u64, kind: &EventKind, buf: &mut Vec<u8>) -> [u8; 32] {
    buf.clear();
    serde_json::to_writer(&mut *buf, &Hashed { t_ms, kind }).expect("an event serialises");
    let mut h = Sha256::new();
    h.update(previous);
    h.update(&buf);
    h.finalize().into()
}

/// Parses 64 hex digits.
fn unhex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

/// Names a key without revealing it: the first 16 hex digits of a hash.
pub fn key_id(key: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"pgdrill signing key id\0");
    h.update(key);
    hex(&h.finalize()[..8])
}

fn mac(key: &[u8], seal: &Seal) -> String {
    let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC takes keys of any length");
    m.update(b"pgdrill transcript seal\0");
    m.update(seal.head.as_bytes());
    m.update(&(seal.events as u64).to_be_bytes());
    hex(&m.finalize().into_bytes())
}

impl Transcript {
    /// Chains every event, records the seal and, with a key, signs it.
    /// Called once, when the transcript is saved.
    pub fn seal(&mut self, key: Option<&[u8]>) {
        let mut previous = genesis(self);
        let mut buf = Vec::new();
        for e in &mut self.events {
            previous = link(&previous, e.t_ms, &e.kind, &mut buf);
            e.hash = Some(hex(&previous));
        }
        let mut seal = Seal {
            events: self.events.len(),
            head: hex(&previous),
            signature: None,
        };
        if let Some(key) = key {
            seal.signature = Some(Signature {
                alg: "hmac-sha256".into(),
                key_id: key_id(key),
                mac: mac(key, &seal),
            });
        }
        self.seal = Some(seal);
    }

    /// Checks the chain and, with a key, the signature. Empty when the
    /// transcript is exactly as sealed.
    pub fn verify(&self, key: Option<&[u8]>) -> Vec<Finding> {
        let Some(seal) = &self.seal else {
            return vec![Finding::Unsealed];
        };
        let mut findings = Vec::new();
        let mut previous = genesis(self);
        let mut buf = Vec::new();
        for (index, e) in self.events.iter().enumerate() {
            let expected = link(&previous, e.t_ms, &e.kind, &mut buf);
            let stored = e.hash.as_deref().and_then(unhex);
            if stored != Some(expected) {
                findings.push(if index == 0 {
                    Finding::HeaderOrFirstEvent
                } else {
                    Finding::Event {
                        index,
                        t_ms: e.t_ms,
                        what: e.kind.what(),
                    }
                });
            }
            // The next link is checked against what is stored, so one edit
            // is reported once, where it is.
            previous = stored.unwrap_or(expected);
        }
        if seal.events != self.events.len() {
            findings.push(Finding::Count {
                sealed: seal.events,
                found: self.events.len(),
            });
        } else if unhex(&seal.head) != Some(previous) {
            findings.push(Finding::Head);
        }
        match (key, &seal.signature) {
            (None, _) => {}
            (Some(_), None) => findings.push(Finding::NotSigned),
            (Some(key), Some(sig)) if sig.key_id != key_id(key) => {
                findings.push(Finding::OtherKey {
                    key_id: sig.key_id.clone(),
                })
            }
            (Some(key), Some(sig)) => {
                if mac(key, seal) != sig.mac {
                    findings.push(Finding::BadSignature);
                }
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{Event, Level};

    fn transcript() -> Transcript {
        let mut t = Transcript::new("demo", 7, 10.0, 1_700_000_000);
        t.learner = Some("ada".into());
        t.scenario_fingerprint = Some("sha256:00".into());
        for (i, msg) in ["started", "release v2", "alert"].iter().enumerate() {
            t.events.push(Event {
                t_ms: i as u64 * 1000,
                hash: None,
                kind: EventKind::Observation {
                    level: Level::Info,
                    message: msg.to_string(),
                },
            });
        }
        t
    }

    fn roundtrip(t: &Transcript) -> Transcript {
        serde_json::from_str(&serde_json::to_string_pretty(t).unwrap()).unwrap()
    }

    #[test]
    fn a_sealed_transcript_verifies_after_a_roundtrip() {
        let mut t = transcript();
        t.seal(None);
        assert_eq!(roundtrip(&t).verify(None), vec![]);
    }

    #[test]
    fn an_edited_event_is_found_where_it_is() {
        let mut t = transcript();
        t.seal(None);
        let mut t = roundtrip(&t);
        t.events[1].t_ms = 500;
        assert_eq!(
            t.verify(None),
            vec![Finding::Event {
                index: 1,
                t_ms: 500,
                what: "observation: release v2".into()
            }]
        );
    }

    #[test]
    fn header_removal_and_truncation_are_found() {
        let mut sealed = transcript();
        sealed.seal(None);

        let mut t = sealed.clone();
        t.learner = Some("bob".into());
        assert_eq!(t.verify(None), vec![Finding::HeaderOrFirstEvent]);

        let mut t = sealed.clone();
        t.events.remove(1);
        assert!(matches!(t.verify(None)[0], Finding::Event { index: 1, .. }));

        let mut t = sealed.clone();
        t.events.pop();
        assert_eq!(
            t.verify(None),
            vec![Finding::Count {
                sealed: 3,
                found: 2
            }]
        );
        assert!(t.verify(None)[0].describe().starts_with("cut short"));
    }

    #[test]
    fn a_recomputed_chain_passes_without_a_key_but_not_with_one() {
        let mut t = transcript();
        t.seal(Some(b"instructor secret"));
        assert_eq!(t.verify(Some(b"instructor secret")), vec![]);

        // Someone who knows the algorithm edits and re-seals without the key.
        t.learner = Some("mallory".into());
        let signature = t.seal.as_ref().unwrap().signature.clone();
        t.seal(None);
        t.seal.as_mut().unwrap().signature = signature;
        assert_eq!(t.verify(None), vec![]);
        assert_eq!(
            t.verify(Some(b"instructor secret")),
            vec![Finding::BadSignature]
        );

        assert!(matches!(
            t.verify(Some(b"another key"))[0],
            Finding::OtherKey { .. }
        ));
        t.seal(None);
        assert_eq!(t.verify(Some(b"x")), vec![Finding::NotSigned]);
    }

    #[test]
    fn an_unsealed_transcript_says_so() {
        assert_eq!(transcript().verify(None), vec![Finding::Unsealed]);
    }

    #[test]
    fn hex_roundtrips() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 8) as u8);
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex("zz"), None);
    }
}
