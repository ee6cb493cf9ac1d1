//! The tracing layer that feeds the progress line from the harness's own log events.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::state::ProgressEvent;
use super::terminal;

/// A tracing layer that turns log events into [`ProgressEvent`]s for the progress line.
/// Install it with a filter that lets through `info` of the harness crates and `debug` of
/// `scenarios` (where checks report their cases).
#[derive(Clone, Copy, Debug, Default)]
pub struct ProgressLayer;

impl<S: Subscriber> Layer<S> for ProgressLayer {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        if let Some(progress) = fields.to_progress() {
            terminal::update(progress);
        }
    }
}

/// The fields of one log event that the progress line reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct EventFields {
    /// Every value named `message`: the event's text, and a field of that name when the event
    /// has one too (the checks' "check finished" carries `message = %result.message`).
    pub(crate) messages: Vec<String>,
    pub(crate) check: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) image: Option<String>,
    pub(crate) cases_done: Option<u64>,
    pub(crate) cases_total: Option<u64>,
}

impl EventFields {
    /// Maps the event to a progress change, or `None` for an event the line does not show.
    /// The messages matched are those of `harness::run`, `harness::app_image`,
    /// `harness::images` and the checks' "check started" and "check finished".
    pub(crate) fn to_progress(&self) -> Option<ProgressEvent> {
        let has = |text: &str| self.messages.iter().any(|message| message == text);
        if let Some(check) = &self.check {
            if self
                .messages
                .iter()
                .any(|message| message.starts_with("check started"))
            {
                return Some(ProgressEvent::CheckStarted(check.clone()));
            }
            if has("check finished") {
                let failed = matches!(self.status.as_deref(), Some("Fail" | "Error"));
                return Some(ProgressEvent::CheckFinished {
                    check: check.clone(),
                    failed,
                });
            }
            if has("case started")
                && let (Some(done), Some(total)) = (self.cases_done, self.cases_total)
            {
                return Some(ProgressEvent::Cases {
                    done: u32::try_from(done).unwrap_or(u32::MAX),
                    total: u32::try_from(total).unwrap_or(u32::MAX),
                });
            }
            return None;
        }

        let message = self.messages.first().map_or("", String::as_str);
        let phase = match message {
            "run started" => "starting the network and Postgres".to_owned(),
            "building the app binary" => "building the app binary (cargo build)".to_owned(),
            "building the app image" => "building the app image".to_owned(),
            "app container start to ready" => "app ready".to_owned(),
            "container removed" => "removing the run's containers".to_owned(),
            _ if message.starts_with("image missing; building it") => match &self.image {
                Some(image) => format!("building image {image}"),
                None => "building an image".to_owned(),
            },
            _ => return None,
        };
        Some(ProgressEvent::Phase(phase))
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.messages.push(value.to_owned()),
            "check" => self.check = Some(value.to_owned()),
            "status" => self.status = Some(value.to_owned()),
            "image" => self.image = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "cases_done" => self.cases_done = Some(value),
            "cases_total" => self.cases_total = Some(value),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `message` arrives as format arguments, `status = ?status` and `image = %image` as
        // Debug and Display values.
        self.record_str(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::prelude::*;

    use super::*;
    use crate::check::Status;

    /// A layer that records the fields of each event into a shared [`EventFields`].
    struct RecordInto(Arc<Mutex<EventFields>>);

    impl<S: Subscriber> Layer<S> for RecordInto {
        fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
            let mut fields = self.0.lock().expect("the lock should not be poisoned");
            event.record(&mut *fields);
        }
    }

    fn fields(message: &str, check: Option<&str>, status: Option<&str>) -> EventFields {
        EventFields {
            messages: vec![message.to_owned()],
            check: check.map(str::to_owned),
            status: status.map(str::to_owned),
            ..EventFields::default()
        }
    }

    #[test]
    fn check_started_maps_to_start() {
        let progress = fields(
            "check started: replaying one case",
            Some("crud.properties"),
            None,
        )
        .to_progress();

        assert_eq!(
            progress,
            Some(ProgressEvent::CheckStarted("crud.properties".to_owned()))
        );
    }

    #[test]
    fn error_status_counts_as_failed() {
        let progress = fields("check finished", Some("chaos.pause"), Some("Error")).to_progress();

        assert_eq!(
            progress,
            Some(ProgressEvent::CheckFinished {
                check: "chaos.pause".to_owned(),
                failed: true,
            })
        );
    }

    #[test]
    fn message_field_keeps_event_text() {
        let mut event = fields("check finished", Some("crud.smoke"), Some("Fail"));
        event.messages.push("title was not updated".to_owned());

        assert_eq!(
            event.to_progress(),
            Some(ProgressEvent::CheckFinished {
                check: "crud.smoke".to_owned(),
                failed: true,
            })
        );
    }

    #[test]
    fn recorded_event_maps_to_finish() {
        // A real event through the Visit implementation, with a `message` field beside the text.
        let recorded = Arc::new(Mutex::new(EventFields::default()));
        let subscriber = tracing_subscriber::registry().with(RecordInto(Arc::clone(&recorded)));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                check = "crud.smoke",
                status = ?Status::Fail,
                message = %"title was not updated",
                "check finished"
            );
        });

        let fields = recorded.lock().expect("the lock should not be poisoned");
        assert_eq!(
            fields.to_progress(),
            Some(ProgressEvent::CheckFinished {
                check: "crud.smoke".to_owned(),
                failed: true,
            })
        );
    }

    #[test]
    fn pass_status_is_not_failed() {
        let progress = fields("check finished", Some("crud.smoke"), Some("Pass")).to_progress();

        assert_eq!(
            progress,
            Some(ProgressEvent::CheckFinished {
                check: "crud.smoke".to_owned(),
                failed: false,
            })
        );
    }

    #[test]
    fn case_event_maps_to_cases() {
        let mut event = fields("case started", Some("crud.properties"), None);
        event.cases_done = Some(5);
        event.cases_total = Some(64);

        assert_eq!(
            event.to_progress(),
            Some(ProgressEvent::Cases { done: 5, total: 64 })
        );
    }

    #[test]
    fn image_build_maps_to_phase() {
        let progress = fields("building the app image", None, None).to_progress();

        assert_eq!(
            progress,
            Some(ProgressEvent::Phase("building the app image".to_owned()))
        );
    }

    #[test]
    fn other_message_is_ignored() {
        assert_eq!(
            fields("database clone dropped", None, None).to_progress(),
            None
        );
    }
}
