//! The `harness` command: `validate` runs the checks against Postgres and the app in containers,
//! `gc` removes what crashed runs left behind.

mod gc;
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

        /// Number of generated cases of crud.properties [default: PROPTEST_CASES, else 64].
        #[arg(long, value_name = "N")]
        cases: Option<u32>,

        /// Seed of crud.properties' generator, for a reproducible run [default:
        /// PROPTEST_RNG_SEED, else random; the report prints it].
        #[arg(long, value_name = "S")]
        seed: Option<u64>,

        /// Replay one failing case of crud.properties by its case seed (`cc <hex>`, as a
        /// failure report prints it) instead of generating cases.
        #[arg(long, value_name = "CASE_SEED")]
        replay: Option<String>,
    },

    /// Remove the containers and networks of harness runs whose process has exited.
    Gc {
        /// Remove every harness run's containers and networks, including live runs and runs
        /// from other hosts.
        #[arg(long)]
        all: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    harness::logging::init(cli.verbose);

    let status = match cli.command {
        Command::Validate {
            only,
            report,
            cases,
            seed,
            replay,
        } => {
            let properties = validate::PropertiesArgs {
                cases,
                seed,
                replay,
            };
            validate::validate(only, report, properties).await
        }
        Command::Gc { all } => gc::gc(all).await,
    };
    ExitCode::from(status)
}

/// Prints an error, redacted, to stderr.
fn print_error(message: &str) {
    eprintln!("error: {}", harness::redact::redact(message));
}
