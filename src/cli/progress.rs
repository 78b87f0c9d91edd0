//! Renders provisioning progress as a spinner on stderr (hidden when stderr
//! is not a terminal, so scripts and CI logs stay clean).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::instance::Progress;

/// A spinner that follows [`Progress`] events.
pub struct Spinner {
    bar: ProgressBar,
}

impl Spinner {
    /// A new, not yet visible spinner.
    pub fn new() -> Spinner {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .expect("static template")
                .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ "),
        );
        Spinner { bar }
    }

    /// Shows one event.
    pub fn show(&self, event: Progress) {
        let msg = match event {
            Progress::WaitingForTemplate => {
                "waiting for another pgdrill to finish the template cluster".to_string()
            }
            Progress::BuildingTemplate { version } => {
                // "PostgreSQL 15.18 (Debian ...)" -> "PostgreSQL 15.18"
                let short = version.split(" (").next().unwrap_or(&version);
                format!("first start with {short}: initializing a template (later starts copy it)")
            }
            Progress::Copying => "copying the template cluster".to_string(),
            Progress::Caching => {
                "keeping the prepared database (later drills at this volume copy it)".to_string()
            }
            Progress::Starting => "starting PostgreSQL".to_string(),
            Progress::Ready => {
                self.bar.finish_and_clear();
                return;
            }
        };
        self.bar.enable_steady_tick(Duration::from_millis(100));
        self.bar.set_message(msg);
    }

    /// Shows a free-form stage.
    pub fn message(&self, msg: &str) {
        self.bar.enable_steady_tick(Duration::from_millis(100));
        self.bar.set_message(msg.to_string());
    }

    /// Removes the spinner (e.g. on error).
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}
