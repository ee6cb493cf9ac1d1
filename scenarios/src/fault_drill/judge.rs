//! The rules a fault drill checks besides the ledger: `/readyz` reports the database's state,
//! the app recovers within the bound, error responses are sanitized, and a graceful shutdown finishes
//! the requests in flight.

use std::sync::Arc;
use std::time::Duration;

use harness::http::RecordedResponse;
use harness::ledger::{Attempt, Outcome};

use super::readiness::{POLL_TIMEOUT, ReadyState, Sample};
use crate::errors_sanitized::rules::{self, ErrorResponse, Forbidden};

/// Time after an injection before the database counts as unreachable. A fast shutdown
/// finishes its checkpoint first, and a probe sent a moment after the signal may still be
/// served, so a ready response in this margin is not a finding.
pub const SETTLE: Duration = Duration::from_millis(500);

/// How long before a signal a write must have been sent to count as in flight at the signal,
/// rather than still on its way through Docker's port proxy.
pub const IN_FLIGHT_MARGIN: Duration = Duration::from_millis(100);

/// The span in which the database was unreachable, on the ledger's clock.
#[derive(Clone, Copy, Debug)]
pub struct Outage {
    /// When the fault was injected.
    pub start: Duration,
    /// When healing began.
    pub end: Duration,
}

/// Returns a finding for each `/readyz` 200 to a poll sent after the database became
/// unreachable and received before healing began. It adds one for each poll without a response
/// in time, and one if no poll sent during the outage returned 503.
pub fn readiness_during_outage(
    samples: &[Sample],
    outage: Outage,
    description: &str,
) -> Vec<String> {
    let mut findings = Vec::new();
    let unreachable_from = outage.start + SETTLE;
    let ready: Vec<&Sample> = samples
        .iter()
        .filter(|sample| {
            sample.sent >= unreachable_from
                && sample.finished <= outage.end
                && sample.state == ReadyState::Ready
        })
        .collect();
    if let (Some(first), Some(last)) = (ready.first(), ready.last()) {
        findings.push(format!(
            "/readyz returned 200 ready to {} polls sent from +{} ms to +{} ms, while {description} \
             (from +{} ms to +{} ms); it must return 503 while the database is unreachable",
            ready.len(),
            first.sent.as_millis(),
            last.sent.as_millis(),
            outage.start.as_millis(),
            outage.end.as_millis()
        ));
    }
    for sample in samples {
        let during = sample.sent >= outage.start && sample.sent <= outage.end;
        if during && matches!(sample.state, ReadyState::NoResponse(_)) {
            findings.push(format!(
                "/readyz sent at +{} ms got {} within the harness's {} s timeout, while {description}; \
                 the app must answer within its 3 s readiness cut-off",
                sample.sent.as_millis(),
                sample.state,
                POLL_TIMEOUT.as_secs()
            ));
        }
    }

    let not_ready = samples.iter().any(|sample| {
        sample.sent >= outage.start
            && sample.sent <= outage.end
            && matches!(sample.state, ReadyState::NotReady(_))
    });
    if !not_ready {
        findings.push(format!(
            "/readyz never returned 503 not_ready to a poll sent while {description} (from +{} ms to \
             +{} ms); {}",
            outage.start.as_millis(),
            outage.end.as_millis(),
            describe_polls(samples, outage)
        ));
    }
    findings
}

/// Describes the responses to the polls sent during `outage`, with a count of each, so that a
/// missing 503 shows what came instead.
fn describe_polls(samples: &[Sample], outage: Outage) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for sample in samples
        .iter()
        .filter(|sample| sample.sent >= outage.start && sample.sent <= outage.end)
    {
        let response = sample.state.to_string();
        match counts.iter_mut().find(|(seen, _)| *seen == response) {
            Some((_, count)) => *count += 1,
            None => counts.push((response, 1)),
        }
    }
    if counts.is_empty() {
        return "no poll was sent in that window".to_owned();
    }
    let responses: Vec<String> = counts
        .iter()
        .map(|(response, count)| format!("{response} ({count})"))
        .collect();
    format!("the polls sent in that window got {}", responses.join(", "))
}

/// Returns a finding for each `/readyz` poll before `fault_start` that returned anything but
/// 200, because the database was reachable then and the app had been ready before the drill.
pub fn readiness_before_fault(samples: &[Sample], fault_start: Duration) -> Vec<String> {
    samples
        .iter()
        .filter(|sample| sample.finished < fault_start && sample.state != ReadyState::Ready)
        .map(|sample| {
            format!(
                "/readyz returned {} to a poll sent at +{} ms, before the fault (at +{} ms), \
                 while the database was reachable",
                sample.state,
                sample.sent.as_millis(),
                fault_start.as_millis()
            )
        })
        .collect()
}

/// Times of the app's recovery after healing, on the ledger's clock.
#[derive(Clone, Copy, Debug)]
pub struct Recovery {
    /// When healing ended.
    pub healed: Duration,
    /// Response time of the first ready poll sent after healing.
    pub ready: Option<Duration>,
    /// Response time of the first acknowledged write sent after healing.
    pub acknowledged: Option<Duration>,
}

impl Recovery {
    /// Finds the first acknowledged write sent at or after `healed`.
    pub fn first_acknowledged(attempts: &[Attempt], healed: Duration) -> Option<Duration> {
        attempts
            .iter()
            .filter(|attempt| attempt.outcome == Outcome::Acknowledged && attempt.sent >= healed)
            .map(|attempt| attempt.finished)
            .min()
    }

    /// Returns a finding for each of readiness and writes that did not come back within
    /// `bound` of healing.
    pub fn findings(&self, bound: Duration, samples: &[Sample]) -> Vec<String> {
        let deadline = self.healed + bound;
        let mut findings = Vec::new();
        if self.ready.is_none_or(|ready| ready > deadline) {
            let last = samples
                .last()
                .map_or("nothing".to_owned(), |sample| sample.state.to_string());
            findings.push(format!(
                "/readyz did not return 200 within {} ms after healing (healed at +{} ms); its \
                 last answer was {last}; the app must recover without a restart",
                bound.as_millis(),
                self.healed.as_millis()
            ));
        }
        if self
            .acknowledged
            .is_none_or(|acknowledged| acknowledged > deadline)
        {
            findings.push(format!(
                "no write sent after healing (at +{} ms) was acknowledged within {} ms; the app \
                 must recover without a restart",
                self.healed.as_millis(),
                bound.as_millis()
            ));
        }
        findings
    }

    /// Describes the recovery times, such as `ready 420 ms and writing 380 ms after healing`.
    pub fn describe(&self) -> String {
        let after = |time: Option<Duration>| match time {
            Some(time) => format!("{} ms", time.saturating_sub(self.healed).as_millis()),
            None => "never".to_owned(),
        };
        format!(
            "ready {} and writing {} after healing",
            after(self.ready),
            after(self.acknowledged)
        )
    }
}

/// Returns a finding for each rule that an error response of `check` breaks, `/readyz`
/// excluded because its 503 has its own documented body.
pub fn sanitized(
    responses: &[Arc<RecordedResponse>],
    check: &str,
    forbidden: &Forbidden,
) -> Vec<String> {
    let mut findings = Vec::new();
    for response in responses {
        if response.check != check || !response.is_error() || response.path.starts_with("/readyz") {
            continue;
        }
        let error_response = ErrorResponse {
            status: response.status,
            content_type: response.content_type.as_deref(),
            request_id: response.request_id.as_deref(),
            body: &response.body,
        };
        for violation in rules::check(&error_response, forbidden) {
            findings.push(format!("{}: {violation}", response.describe()));
        }
    }
    findings
}

/// Returns a finding for each write that was in flight at `signal` (sent at least
/// [`IN_FLIGHT_MARGIN`] before, finished after) and got no response. A graceful shutdown must
/// finish it or send an error response.
pub fn abandoned_in_flight(attempts: &[Attempt], signal: Duration) -> Vec<String> {
    attempts
        .iter()
        .filter(|attempt| {
            attempt.sent + IN_FLIGHT_MARGIN <= signal
                && attempt.finished > signal
                && attempt.status.is_none()
        })
        .map(|attempt| {
            format!(
                "write {} was in flight at SIGTERM (sent at +{} ms) and got no response: {}",
                attempt.key,
                attempt.sent.as_millis(),
                attempt.detail.as_deref().unwrap_or("no detail")
            )
        })
        .collect()
}

/// Counts the writes in flight at `signal`.
pub fn in_flight_count(attempts: &[Attempt], signal: Duration) -> usize {
    attempts
        .iter()
        .filter(|attempt| attempt.sent <= signal && attempt.finished > signal)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(sent_ms: u64, finished_ms: u64, state: ReadyState) -> Sample {
        Sample {
            sent: Duration::from_millis(sent_ms),
            finished: Duration::from_millis(finished_ms),
            state,
        }
    }

    fn not_ready() -> ReadyState {
        ReadyState::NotReady("database_unreachable".to_owned())
    }

    const OUTAGE: Outage = Outage {
        start: Duration::from_millis(1000),
        end: Duration::from_millis(4000),
    };

    #[test]
    fn readiness_truthful_outage_passes() {
        let samples = [
            sample(900, 905, ReadyState::Ready),
            sample(1010, 1200, ReadyState::Ready),
            sample(1600, 1610, not_ready()),
            sample(3900, 4300, ReadyState::Ready),
        ];

        let findings = readiness_during_outage(&samples, OUTAGE, "Postgres was down");

        assert!(findings.is_empty(), "findings: {findings:?}");
    }

    #[test]
    fn readiness_ready_during_outage_flagged() {
        let samples = [
            sample(1600, 1610, not_ready()),
            sample(2000, 2010, ReadyState::Ready),
        ];

        let findings = readiness_during_outage(&samples, OUTAGE, "Postgres was down");

        assert_eq!(findings.len(), 1, "findings: {findings:?}");
        assert!(
            findings[0].contains("to 1 polls sent from +2000 ms to +2000 ms"),
            "finding: {}",
            findings[0]
        );
    }

    #[test]
    fn readiness_never_not_ready_flagged() {
        let samples = [sample(500, 510, ReadyState::Ready)];

        let findings = readiness_during_outage(&samples, OUTAGE, "Postgres was down");

        assert_eq!(findings.len(), 1, "findings: {findings:?}");
        assert!(
            findings[0].contains("never returned 503"),
            "finding: {}",
            findings[0]
        );
    }

    #[test]
    fn readiness_never_not_ready_lists_responses() {
        let samples = [
            sample(1100, 1110, ReadyState::Ready),
            sample(1300, 1310, ReadyState::Unexpected(408)),
            sample(1500, 1510, ReadyState::Unexpected(408)),
        ];

        let findings = readiness_during_outage(&samples, OUTAGE, "Postgres was down");

        let missing = findings
            .iter()
            .find(|finding| finding.contains("never returned 503"))
            .expect("a finding should say that no poll returned 503");
        assert!(
            missing.contains("got 200 ready (1), status 408 (2)"),
            "finding: {missing}"
        );
    }

    #[test]
    fn readiness_before_fault_flags_not_ready() {
        let samples = [
            sample(100, 110, ReadyState::Ready),
            sample(200, 210, not_ready()),
            sample(900, 1200, not_ready()),
        ];

        let findings = readiness_before_fault(&samples, Duration::from_millis(1000));

        assert_eq!(findings.len(), 1, "findings: {findings:?}");
        assert!(findings[0].contains("+200 ms"), "finding: {}", findings[0]);
    }

    #[test]
    fn recovery_late_flagged() {
        let recovery = Recovery {
            healed: Duration::from_secs(5),
            ready: Some(Duration::from_secs(16)),
            acknowledged: None,
        };

        let findings = recovery.findings(Duration::from_secs(10), &[]);

        assert_eq!(findings.len(), 2, "findings: {findings:?}");
    }

    #[test]
    fn recovery_in_time_passes() {
        let recovery = Recovery {
            healed: Duration::from_secs(5),
            ready: Some(Duration::from_millis(5400)),
            acknowledged: Some(Duration::from_millis(5300)),
        };

        assert!(recovery.findings(Duration::from_secs(10), &[]).is_empty());
        assert_eq!(
            recovery.describe(),
            "ready 400 ms and writing 300 ms after healing"
        );
    }
}
