//! `harness gc`: the reaper for leftovers of crashed runs and the pruning of old app images.

use harness::cleanup::{self, CLEANUP_TIMEOUT, Removed, ResourceKind};
use harness::config::{KEEP_APP_IMAGES_VAR, keep_app_images_setting};
use harness::gc::{GcMode, collect_garbage};
use harness::image_prune::{format_size, prune_app_images};
use harness::labels::RunId;

use crate::{EXIT_ENVIRONMENT, EXIT_PASS, print_error};

/// Removes the containers, networks and unfinished images of dead runs (or of all runs with
/// `all`) and the app images beyond the newest `keep_app_images`. Prints each removal and each
/// kept run or image once, on stdout, and returns the exit status.
pub async fn gc(all: bool, keep_app_images: Option<usize>) -> u8 {
    let keep = match keep_app_images {
        Some(keep) => keep,
        None => match keep_app_images_setting(std::env::var(KEEP_APP_IMAGES_VAR).ok()) {
            Ok(keep) => keep,
            Err(error) => {
                print_error(&error.to_string());
                return EXIT_ENVIRONMENT;
            }
        },
    };
    let docker = match harness::docker::connect().await {
        Ok(docker) => docker,
        Err(error) => {
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
    };
    let mode = if all { GcMode::All } else { GcMode::DeadRuns };

    let runs = match collect_garbage(&docker, mode).await {
        Ok(report) => report,
        Err(error) => {
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
    };
    for removed in &runs.removed {
        println!("removed {removed}");
    }
    for kept in &runs.kept {
        println!("kept run {}: {}", kept.run_id, kept.reason);
    }

    let images = match prune_app_images(&docker, keep).await {
        Ok(report) => report,
        Err(error) => {
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
    };
    for removed in &images.removed {
        println!("removed {removed}");
    }
    for kept in &images.kept {
        println!("kept image {}: {}", kept.reference, kept.reason);
    }

    println!(
        "{}",
        summary(runs.removed.iter().chain(&images.removed), keep)
    );
    EXIT_PASS
}

/// Removes the containers, networks and unfinished images of the run `run_id`, live or not,
/// prints each removal on stdout, and returns the exit status.
pub async fn gc_run(run_id: &str) -> u8 {
    let valid = !run_id.is_empty()
        && run_id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        print_error(&format!(
            "invalid run id {run_id:?}: expected the id a run prints, such as \
             20250114-093015-k3x9qa"
        ));
        return EXIT_ENVIRONMENT;
    }
    let docker = match harness::docker::connect().await {
        Ok(docker) => docker,
        Err(error) => {
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
    };
    let run_id = RunId::from_label(run_id);
    match cleanup::remove_run(&docker, &run_id, CLEANUP_TIMEOUT).await {
        Ok(removed) if removed.is_empty() => {
            println!("nothing to remove: no container, network or image has run id {run_id}");
        }
        Ok(removed) => {
            for entry in &removed {
                println!("removed {entry}");
            }
            println!("removed run {run_id}");
        }
        Err(error) => {
            print_error(&format!("removing run {run_id} failed: {error}"));
            return EXIT_ENVIRONMENT;
        }
    }
    EXIT_PASS
}

/// Summarises the removals, such as `removed 2 containers, 3 images (291.7 MB) (app images
/// kept: the newest 3)`.
fn summary<'a>(removed: impl Iterator<Item = &'a Removed>, keep: usize) -> String {
    let mut containers = 0;
    let mut networks = 0;
    let mut images = 0;
    let mut bytes = 0;
    for entry in removed {
        match entry.kind {
            ResourceKind::Container => containers += 1,
            ResourceKind::Network => networks += 1,
            ResourceKind::Image => images += 1,
        }
        bytes += entry.size.unwrap_or(0);
    }

    let counts: Vec<String> = [
        (containers, "container"),
        (networks, "network"),
        (images, "image"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, noun)| format!("{count} {noun}{}", if count == 1 { "" } else { "s" }))
    .collect();
    let removed = match counts.as_slice() {
        [] => "nothing to remove".to_owned(),
        _ if images > 0 => format!("removed {} ({})", counts.join(", "), format_size(bytes)),
        _ => format!("removed {}", counts.join(", ")),
    };
    format!("{removed} (app images kept: the newest {keep})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removed(kind: ResourceKind, size: Option<u64>) -> Removed {
        Removed {
            kind,
            name: "x".to_owned(),
            id: "0123456789ab".to_owned(),
            run_id: String::new(),
            size,
        }
    }

    #[test]
    fn summary_of_nothing() {
        assert_eq!(
            summary([].iter(), 3),
            "nothing to remove (app images kept: the newest 3)"
        );
    }

    #[test]
    fn summary_counts_kinds_and_sizes() {
        let entries = [
            removed(ResourceKind::Container, None),
            removed(ResourceKind::Container, None),
            removed(ResourceKind::Network, None),
            removed(ResourceKind::Image, Some(97_200_000)),
            removed(ResourceKind::Image, Some(50_000_000)),
        ];
        assert_eq!(
            summary(entries.iter(), 0),
            "removed 2 containers, 1 network, 2 images (147.2 MB) (app images kept: the newest 0)"
        );
    }
}
