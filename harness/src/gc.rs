//! The reaper: removes the containers, networks and unfinished images of harness runs whose
//! owning process has exited (or of every run, on request), found by their run-id label.

use std::collections::{BTreeMap, BTreeSet};

use testcontainers::bollard::Docker;

use crate::cleanup::{self, CLEANUP_TIMEOUT, Labelled, Removed};
use crate::error::Result;
use crate::labels::{self, RunId};
use crate::owner::{self, Liveness, Owner};

/// Set of runs the reaper removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcMode {
    /// Runs whose owning process on this host has exited.
    DeadRuns,
    /// Every run, live or not, from any host.
    All,
}

/// A run the reaper left in place, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptRun {
    /// Run id.
    pub run_id: String,
    /// Reason it was kept, such as `owner pid 4242 is alive`.
    pub reason: String,
}

/// Outcome of a reaper pass: what it removed and kept.
#[derive(Clone, Debug, Default)]
pub struct GcReport {
    /// Containers, networks and unfinished images removed.
    pub removed: Vec<Removed>,
    /// Runs left in place.
    pub kept: Vec<KeptRun>,
}

/// Removes the resources of dead runs (or of all runs) and reports what it removed and kept.
/// Removals are logged at debug level only: callers print or log the report.
pub async fn collect_garbage(docker: &Docker, mode: GcMode) -> Result<GcReport> {
    let resources = cleanup::list_labelled(docker, labels::any_run_filter()).await?;
    let this_host = owner::hostname();

    // One owner per run: every resource of a run carries the same owner labels.
    let mut runs: BTreeMap<String, &Labelled> = BTreeMap::new();
    for resource in &resources {
        runs.entry(resource.run_id()).or_insert(resource);
    }
    let kept_on_request = runs_kept_on_request(&resources);

    let mut report = GcReport::default();
    for (run_id, resource) in runs {
        if mode == GcMode::DeadRuns && kept_on_request.contains(&run_id) {
            let reason = format!(
                "kept with --keep for inspection; remove it with `harness gc --run {run_id}`"
            );
            tracing::debug!(run_id = %run_id, %reason, "run kept");
            report.kept.push(KeptRun { run_id, reason });
            continue;
        }
        if let Some(reason) = keep_reason(resource, &this_host, mode) {
            tracing::debug!(run_id = %run_id, %reason, "run kept");
            report.kept.push(KeptRun { run_id, reason });
            continue;
        }
        let removed =
            cleanup::remove_run(docker, &RunId::from_label(&run_id), CLEANUP_TIMEOUT).await?;
        report.removed.extend(removed);
    }
    Ok(report)
}

/// Returns the ids of the runs kept with `harness validate --keep`. The keep label is on their
/// containers and network but not on the container that pins the app image, so one labelled
/// resource is enough.
fn runs_kept_on_request(resources: &[Labelled]) -> BTreeSet<String> {
    resources
        .iter()
        .filter(|resource| resource.labels.contains_key(labels::KEEP))
        .map(Labelled::run_id)
        .collect()
}

/// Returns why a run must be kept, or `None` if the reaper removes it.
fn keep_reason(resource: &Labelled, this_host: &str, mode: GcMode) -> Option<String> {
    if mode == GcMode::All {
        return None;
    }
    let Some(owner) = Owner::from_labels(&resource.labels) else {
        return Some(format!(
            "{} has no valid {} and {} labels; use --all to remove it",
            resource.name,
            labels::PID,
            labels::HOST
        ));
    };
    match owner.liveness(this_host) {
        Liveness::Dead => None,
        Liveness::Alive => Some(format!("owner pid {} is alive", owner.pid)),
        Liveness::OtherHost => Some(format!(
            "owner ran on host {}, not this host; use --all to remove it",
            owner.host
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::cleanup::ResourceKind;

    fn resource_owned_by(owner: &Owner) -> Labelled {
        Labelled {
            kind: ResourceKind::Network,
            name: "lv-net-test".to_owned(),
            id: "0123456789abcdef".to_owned(),
            labels: labels::run_labels(&RunId::generate(), owner),
        }
    }

    fn exited_pid() -> u32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("`true` should start");
        let pid = child.id();
        child.wait().expect("`true` should exit");
        pid
    }

    #[test]
    fn live_owner_is_kept() {
        let resource = resource_owned_by(&Owner::current());
        let reason = keep_reason(&resource, &owner::hostname(), GcMode::DeadRuns);
        assert!(reason.is_some_and(|r| r.contains("is alive")));
    }

    #[test]
    fn dead_owner_is_reaped() {
        let owner = Owner {
            pid: exited_pid(),
            start_ticks: None,
            host: owner::hostname(),
        };
        let resource = resource_owned_by(&owner);
        assert_eq!(
            keep_reason(&resource, &owner::hostname(), GcMode::DeadRuns),
            None
        );
    }

    #[test]
    fn other_host_is_kept_unless_all() {
        let owner = Owner {
            pid: 1,
            start_ticks: None,
            host: "another-host".to_owned(),
        };
        let resource = resource_owned_by(&owner);
        let reason = keep_reason(&resource, "this-host", GcMode::DeadRuns);
        assert!(reason.is_some_and(|r| r.contains("another-host")));
        assert_eq!(keep_reason(&resource, "this-host", GcMode::All), None);
    }

    #[test]
    fn missing_owner_labels_are_kept() {
        let resource = Labelled {
            kind: ResourceKind::Container,
            name: "lv-pg-x".to_owned(),
            id: "0123456789abcdef".to_owned(),
            labels: HashMap::from([(labels::RUN_ID.to_owned(), "x".to_owned())]),
        };
        let reason = keep_reason(&resource, "this-host", GcMode::DeadRuns);
        assert!(reason.is_some_and(|r| r.contains("--all")));
    }

    #[test]
    fn keep_label_marks_whole_run() {
        let kept_id = RunId::generate();
        let mut kept_labels = labels::run_labels(&kept_id, &Owner::current());
        let pin = Labelled {
            kind: ResourceKind::Container,
            name: "lv-pin-kept".to_owned(),
            id: "0123456789abcdef".to_owned(),
            labels: kept_labels.clone(),
        };
        kept_labels.insert(labels::KEEP.to_owned(), "true".to_owned());
        let postgres = Labelled {
            kind: ResourceKind::Container,
            name: "lv-pg-kept".to_owned(),
            id: "1123456789abcdef".to_owned(),
            labels: kept_labels,
        };
        let other = resource_owned_by(&Owner::current());

        let kept = runs_kept_on_request(&[pin, postgres, other]);

        assert_eq!(kept, BTreeSet::from([kept_id.to_string()]));
    }
}
