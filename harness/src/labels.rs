//! Labels that mark every container, network and image build of a harness run, so that a
//! reaper can tell a dead run's leftovers from a live run's.

use std::collections::HashMap;
use std::fmt;

use rand::distr::{Alphanumeric, SampleString};

use crate::owner::Owner;

/// Label key for the run id, present on every container, network and image build.
pub const RUN_ID: &str = "org.localizevideos.harness.run-id";
/// Label key for the pid of the process that owns the run.
pub const PID: &str = "org.localizevideos.harness.pid";
/// Label key for the start time of that process, in clock ticks after boot, so that a reused
/// pid is not mistaken for the owner (Linux `/proc/<pid>/stat`, field 22).
pub const PID_START: &str = "org.localizevideos.harness.pid-start";
/// Label key for the hostname of the machine the owning process runs on.
pub const HOST: &str = "org.localizevideos.harness.host";
/// Label key on the containers and network of a run started with `harness validate --keep`.
/// The reaper of dead runs leaves such a run in place; `harness gc --run` or `--all` removes it.
pub const KEEP: &str = "org.localizevideos.harness.keep";
/// Label key for the lane of a run: one of several runs that share a run id and run at the same
/// time, each with its own network and Postgres (see `harness validate`). A lane's own cleanup
/// removes only what carries its lane label, and a cleanup by run id removes every lane.
pub const LANE: &str = "org.localizevideos.harness.lane";
/// Label key that names the kind of an image: `postgres`, `runtime` or `app`.
pub const IMAGE_KIND: &str = "org.localizevideos.image";

/// Identifier of one harness run: UTC start time plus 6 random characters, such as
/// `20250114-093015-k3x9qa`. It is valid in Docker container and network names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl RunId {
    /// Generates a new run id from the current time and a random suffix.
    pub fn generate() -> Self {
        let time = chrono::Utc::now().format("%Y%m%d-%H%M%S");
        let suffix = Alphanumeric
            .sample_string(&mut rand::rng(), 6)
            .to_ascii_lowercase();
        Self(format!("{time}-{suffix}"))
    }

    /// Wraps a run id read back from a label.
    pub fn from_label(value: &str) -> Self {
        Self(value.to_owned())
    }

    /// Returns the run id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Builds the labels for a container, network or image build of `run_id` owned by `owner`.
pub fn run_labels(run_id: &RunId, owner: &Owner) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        (RUN_ID.to_owned(), run_id.to_string()),
        (PID.to_owned(), owner.pid.to_string()),
        (HOST.to_owned(), owner.host.clone()),
    ]);
    if let Some(start) = owner.start_ticks {
        labels.insert(PID_START.to_owned(), start.to_string());
    }
    labels
}

/// Builds a Docker list filter that matches the resources of one run.
pub fn run_filter(run_id: &RunId) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_owned(), vec![format!("{RUN_ID}={run_id}")])])
}

/// Builds a Docker list filter that matches the resources of one lane of a run.
pub fn lane_filter(run_id: &RunId, lane: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_owned(),
        vec![format!("{RUN_ID}={run_id}"), format!("{LANE}={lane}")],
    )])
}

/// Builds a Docker list filter that matches the resources of every harness run.
pub fn any_run_filter() -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_owned(), vec![RUN_ID.to_owned()])])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_is_a_valid_docker_name_part() {
        let run_id = RunId::generate();
        let valid = run_id
            .as_str()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        assert!(valid, "run id {run_id} has characters outside [a-z0-9-]");
        assert_eq!(
            run_id.as_str().len(),
            22,
            "run id {run_id} has an unexpected length"
        );
    }

    #[test]
    fn run_ids_differ() {
        let first = RunId::generate();
        let second = RunId::generate();
        assert_ne!(first, second, "two generated run ids should differ");
    }

    #[test]
    fn run_labels_name_the_owner() {
        let owner = Owner {
            pid: 4242,
            start_ticks: Some(99),
            host: "builder-1".to_owned(),
        };
        let run_id = RunId::from_label("20250114-093015-k3x9qa");
        let labels = run_labels(&run_id, &owner);

        assert_eq!(
            labels.get(RUN_ID).map(String::as_str),
            Some(run_id.as_str())
        );
        assert_eq!(labels.get(PID).map(String::as_str), Some("4242"));
        assert_eq!(labels.get(PID_START).map(String::as_str), Some("99"));
        assert_eq!(labels.get(HOST).map(String::as_str), Some("builder-1"));
    }

    #[test]
    fn run_filter_matches_label_and_value() {
        let run_id = RunId::from_label("20250114-093015-k3x9qa");
        let filter = run_filter(&run_id);
        assert_eq!(
            filter.get("label"),
            Some(&vec![format!("{RUN_ID}=20250114-093015-k3x9qa")])
        );
    }
}
