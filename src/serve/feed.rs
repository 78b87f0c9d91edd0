//! What the drill has reported, kept for everyone who follows it: each
//! participant's stream starts at the beginning (or where it left off)
//! and goes on live, however late they join or however slowly they read.
//! One copy of the history, and a counter that wakes the readers: no
//! reader can lag behind and lose an event.

use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::transcript::Event;

/// One entry of the feed, as the event stream sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Its place in the feed, from 0.
    pub seq: usize,
    /// An event of the drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    /// The last entry: how the drill went (the score, in words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// The history, and who waits for more.
pub struct Feed {
    items: Mutex<Vec<Item>>,
    /// How many items there are, and whether there will be more.
    len: watch::Sender<(usize, bool)>,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed {
            items: Mutex::default(),
            len: watch::Sender::new((0, false)),
        }
    }
}

impl Feed {
    /// Appends an event.
    pub fn push(&self, event: Event) {
        self.append(Some(event), None);
    }

    /// Appends the summary and closes the feed.
    pub fn close(&self, summary: Option<String>) {
        if summary.is_some() {
            self.append(None, summary);
        }
        self.len.send_modify(|(_, closed)| *closed = true);
    }

    fn append(&self, event: Option<Event>, summary: Option<String>) {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = items.len();
        items.push(Item {
            seq,
            event,
            summary,
        });
        self.len.send_modify(|(len, _)| *len = seq + 1);
    }

    /// The items from `from` on that `keep` lets through, and where the
    /// next read starts.
    pub fn since(&self, from: usize, keep: impl Fn(&Item) -> bool) -> (Vec<Item>, usize) {
        let items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let from = from.min(items.len());
        let out = items[from..].iter().filter(|i| keep(i)).cloned().collect();
        (out, items.len())
    }

    /// Waits until there are more than `seen` items; false once the feed
    /// is closed and has no more.
    pub async fn wait_past(&self, seen: usize) -> bool {
        let mut rx = self.len.subscribe();
        let ready = rx
            .wait_for(|(len, closed)| *len > seen || *closed)
            .await
            .map(|state| state.0 > seen);
        ready.unwrap_or(false)
    }

    /// The events so far (for a page drawn once).
    pub fn events(&self) -> Vec<Event> {
        let items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        items.iter().filter_map(|i| i.event.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::EventKind;

    fn event(t_ms: u64) -> Event {
        Event {
            t_ms,
            hash: None,
            kind: EventKind::Started {
                message: format!("at {t_ms}"),
            },
        }
    }

    #[tokio::test]
    async fn a_late_reader_gets_everything_then_waits_then_learns_the_end() {
        let feed = std::sync::Arc::new(Feed::default());
        feed.push(event(1));
        feed.push(event(2));
        let (items, next) = feed.since(0, |_| true);
        assert_eq!((items.len(), next), (2, 2));
        let (odd, _) = feed.since(0, |i| i.seq % 2 == 1);
        assert_eq!(odd[0].seq, 1);
        let waiter = {
            let feed = feed.clone();
            tokio::spawn(async move { feed.wait_past(2).await })
        };
        feed.push(event(3));
        assert!(waiter.await.unwrap());
        feed.close(Some("passed".into()));
        assert!(feed.wait_past(3).await, "the summary is one more item");
        assert!(!feed.wait_past(4).await, "closed: nothing more comes");
        assert_eq!(
            feed.since(3, |_| true).0[0].summary.as_deref(),
            Some("passed")
        );
    }
}
