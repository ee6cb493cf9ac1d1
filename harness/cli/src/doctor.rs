//! `harness doctor`: checks what a run needs (settings, Docker, images, tools, disk space, a
//! loopback port) and prints what to fix, without starting a container.

use std::path::Path;
use std::process::Command;

use harness::config::{Config, ImageRef};
use harness::engine_address::EngineAddress;
use harness::images;
use testcontainers::bollard::Docker;

use crate::{EXIT_ENVIRONMENT, EXIT_PASS};

/// Free space below which a run may fail: a workspace target folder grows to about 10 GB
/// with the plain and `failpoints` builds of the app, and each app image adds about 180 MB.
const MIN_FREE_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// Verdict of one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    /// A run may still work, but something is off.
    Warning,
    /// A run cannot work until this is fixed.
    Problem,
}

struct Item {
    verdict: Verdict,
    subject: String,
    detail: String,
}

/// Runs every check, prints one line per item (and the fix for each warning and problem), and
/// returns 0 when nothing blocks a run, 2 otherwise. `settings_error` is the error of reading
/// the configuration file and the variables, when that failed.
pub async fn doctor(settings_error: Option<String>) -> u8 {
    let mut items = Vec::new();

    let config = match (settings_error, Config::from_env()) {
        (None, Ok(config)) => {
            items.push(ok(
                "settings",
                "the configuration file and every HARNESS_* variable are valid",
            ));
            Some(config)
        }
        (Some(error), config) => {
            items.push(problem("settings", error));
            config.ok()
        }
        (None, Err(error)) => {
            items.push(problem("settings", error.to_string()));
            None
        }
    };

    let docker = match harness::docker::connect().await {
        Ok(docker) => {
            items.push(docker_item(&docker).await);
            Some(docker)
        }
        Err(error) => {
            items.push(problem("docker", error.to_string()));
            None
        }
    };

    if let (Some(config), Some(docker)) = (&config, &docker) {
        items.extend(image_items(docker, config).await);
        if config.app_image.is_none() {
            items.push(tool_item(
                "cargo",
                "cargo",
                "builds the app image from this workspace",
            ));
        }
        items.push(disk_item("workspace", &config.workspace));
        items.push(leftovers_item(docker).await);
    }
    items.push(port_item());

    for item in &items {
        let label = match item.verdict {
            Verdict::Ok => "ok     ",
            Verdict::Warning => "warning",
            Verdict::Problem => "PROBLEM",
        };
        println!(
            "{label}  {}: {}",
            item.subject,
            harness::redact::redact(&item.detail)
        );
    }
    let problems = items
        .iter()
        .filter(|item| item.verdict == Verdict::Problem)
        .count();
    if problems == 0 {
        println!("\nnothing blocks a run");
        EXIT_PASS
    } else {
        let problems = match problems {
            1 => "1 problem blocks".to_owned(),
            n => format!("{n} problems block"),
        };
        println!("\n{problems} a run; fix them and run `harness doctor` again");
        EXIT_ENVIRONMENT
    }
}

fn ok(subject: &str, detail: impl Into<String>) -> Item {
    item(Verdict::Ok, subject, detail)
}

fn warning(subject: &str, detail: impl Into<String>) -> Item {
    item(Verdict::Warning, subject, detail)
}

fn problem(subject: &str, detail: impl Into<String>) -> Item {
    item(Verdict::Problem, subject, detail)
}

fn item(verdict: Verdict, subject: &str, detail: impl Into<String>) -> Item {
    Item {
        verdict,
        subject: subject.to_owned(),
        detail: detail.into(),
    }
}

async fn docker_item(docker: &Docker) -> Item {
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "the default socket".to_owned());
    match docker.version().await {
        Ok(version) => ok(
            "docker",
            format!(
                "engine {} (API {}) reached at {host}",
                version.version.unwrap_or_default(),
                version.api_version.unwrap_or_default()
            ),
        ),
        Err(error) => problem("docker", format!("GET /version at {host} failed: {error}")),
    }
}

async fn image_items(docker: &Docker, config: &Config) -> Vec<Item> {
    let mut needed: Vec<(&str, &ImageRef)> = vec![("Postgres image", &config.postgres_image)];
    match &config.app_image {
        Some(app) => needed.push(("app image", app)),
        None => needed.push(("runtime image", &config.runtime_image)),
    }

    let mut items = Vec::new();
    let mut build_needed = false;
    for (subject, image) in needed {
        match images::image_exists(docker, image).await {
            Ok(true) => items.push(ok(subject, format!("{image} is present"))),
            Ok(false) if image.is_ours() && subject != "app image" => {
                build_needed = true;
                items.push(warning(
                    subject,
                    format!(
                        "{image} is missing; the first run builds it (about a minute), or build \
                         it now with `bash images/build.sh all`"
                    ),
                ));
            }
            Ok(false) => items.push(problem(
                subject,
                format!(
                    "{image} is missing and this project does not build it; load it with \
                     `docker pull {image}` where its registry is reachable, or `docker load`"
                ),
            )),
            Err(error) => items.push(problem(subject, error.to_string())),
        }
    }
    if build_needed {
        items.push(tool_item(
            "mmdebstrap",
            "mmdebstrap",
            "images/build.sh builds the images from Debian's packages with it (as root; \
             `apt-get install -y mmdebstrap`)",
        ));
    }
    items
}

fn tool_item(subject: &str, program: &str, purpose: &str) -> Item {
    match Command::new(program).arg("--version").output() {
        Ok(output) if output.status.success() => {
            let version = String::from_utf8_lossy(&output.stdout);
            let first = version.lines().next().unwrap_or("").trim().to_owned();
            ok(subject, first)
        }
        Ok(output) => problem(
            subject,
            format!(
                "`{program} --version` exited with {}; {purpose}",
                output.status
            ),
        ),
        Err(error) => problem(
            subject,
            format!("`{program}` cannot run ({error}); {purpose}"),
        ),
    }
}

fn disk_item(subject: &str, path: &Path) -> Item {
    match free_bytes(path) {
        Some(free) if free < MIN_FREE_BYTES => warning(
            &format!("disk ({subject})"),
            format!(
                "{:.1} GiB free under {}; a run with a fresh build needs about {} GiB. Free \
                 space, or run `harness gc` and `cargo clean`",
                gib(free),
                path.display(),
                MIN_FREE_BYTES / (1024 * 1024 * 1024)
            ),
        ),
        Some(free) => ok(
            &format!("disk ({subject})"),
            format!("{:.1} GiB free under {}", gib(free), path.display()),
        ),
        None => warning(
            &format!("disk ({subject})"),
            format!(
                "`df` could not measure the free space under {}",
                path.display()
            ),
        ),
    }
}

/// Returns the bytes available to the user on the file system of `path`, from POSIX `df -Pk`.
fn free_bytes(path: &Path) -> Option<u64> {
    let output = Command::new("df").arg("-Pk").arg(path).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    // POSIX output: a header line, then `filesystem blocks used available capacity mount`.
    let available_kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(available_kib * 1024)
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0 * 1024.0)
}

async fn leftovers_item(docker: &Docker) -> Item {
    match harness::cleanup::list_labelled(docker, harness::labels::any_run_filter()).await {
        Ok(resources) if resources.is_empty() => ok(
            "leftovers",
            "no container, network or unfinished image of a harness run",
        ),
        Ok(resources) => warning(
            "leftovers",
            format!(
                "{} containers, networks or unfinished images of harness runs exist; if no run \
                 is in progress, `harness gc` removes the ones whose process has exited",
                resources.len()
            ),
        ),
        Err(error) => warning("leftovers", format!("listing them failed: {error}")),
    }
}

/// Docker publishes each container port on a free host port that the kernel picks, so a run
/// with a local engine needs free ephemeral ports on 127.0.0.1. A remote engine publishes them
/// on its own host, which this machine cannot test by binding.
fn port_item() -> Item {
    let address = match EngineAddress::from_env() {
        Ok(address) => address,
        Err(error) => return problem("ports", format!("{error}")),
    };
    if address.host() != "127.0.0.1" {
        return ok(
            "ports",
            format!(
                "published on the engine's host {}, bound to {} there (from DOCKER_HOST and {})",
                address.host(),
                address.bind_ip(),
                harness::engine_address::PUBLISH_IP_VAR
            ),
        );
    }
    match std::net::TcpListener::bind("127.0.0.1:0") {
        Ok(listener) => {
            let port = listener
                .local_addr()
                .map(|address| address.port())
                .unwrap_or(0);
            ok(
                "ports",
                format!("a free port on 127.0.0.1 was bound ({port})"),
            )
        }
        Err(error) => problem(
            "ports",
            format!(
                "binding a free port on 127.0.0.1 failed: {error}; the harness reaches every container through a published port on 127.0.0.1"
            ),
        ),
    }
}
