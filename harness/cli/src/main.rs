//! The `harness` command: `validate` runs the checks against Postgres and the app in containers,
//! `gc` removes what crashed runs left behind.

mod bench;
mod gc;
mod scan;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status when every selected check passed.
const EXIT_PASS: u8 = 0;
/// Exit status when a check failed or could not reach a verdict.
const EXIT_FAIL: u8 = 1;
/// Exit status for a usage or environment error (no Docker, a missing image, bad settings).
const EXIT_ENVIRONMENT: u8 = 2;
/// Exit status after SIGINT or SIGTERM (128 + SIGINT's number, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

/// Checks the LocalizeVideos data layer against Postgres and the app in containers.
#[derive(Debug, Parser)]
#[command(name = "harness", version)]
struct Cli {
    /// Log at debug level (RUST_LOG, when set, takes precedence).
    #[arg(short, long, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start Postgres and the app, run the checks, print a table and write report.json.
    ///
    /// Exits with 0 when every check passes, 1 when one fails or errors, 2 for a usage or
    /// environment error, 130 when interrupted (everything is removed first).
    Validate {
        /// Run only these checks (comma-separated check names).
        #[arg(long, value_name = "NAME[,NAME]", value_delimiter = ',')]
        only: Vec<String>,

        /// Folder for report.json [default: target/harness/reports/<run id>/ in the workspace].
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
    },

    /// Measure the speed of a harness component. Build with `--release` for real numbers.
    #[command(subcommand)]
    Bench(Bench),

    /// Scan files for connection strings with a password and password hashes.
    ///
    /// Exits with 0 when nothing is found, 1 when something is (each finding is printed with
    /// its file, line and a redacted excerpt), 2 when a file cannot be read.
    Scan {
        /// Files or folders to scan [default: target/nextest, target/harness/reports and
        /// snapshots/ of the workspace].
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
    },

    /// Remove the containers and networks of harness runs whose process has exited.
    Gc {
        /// Remove every harness run's containers and networks, including live runs and runs
        /// from other hosts.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Throughput of the secret scanner (canaries and formats) on generated log text.
    Scan {
        /// Size of the generated log, in MiB.
        #[arg(long, default_value_t = 256, value_name = "MIB")]
        size_mib: usize,

        /// Number of timed scans per scanner setup; the median is reported.
        #[arg(long, default_value_t = 7)]
        runs: usize,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    harness::logging::init(cli.verbose);

    let status = match cli.command {
        Command::Validate { only, report } => validate::validate(only, report).await,
        Command::Bench(Bench::Scan { size_mib, runs }) => bench::scan(size_mib, runs),
        Command::Scan { paths } => scan::scan(paths),
        Command::Gc { all } => gc::gc(all).await,
    };
    ExitCode::from(status)
}

/// Prints an error, redacted, to stderr.
fn print_error(message: &str) {
    eprintln!("error: {}", harness::redact::redact(message));
}
