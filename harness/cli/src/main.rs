//! The `harness` command. `validate` runs the checks against Postgres and the app in containers,
//! and `drift` compares a live database with the migrations. `gc` removes what crashed runs left
//! behind and old app images, and `scan` looks for credentials in files. `doctor` checks what a
//! run needs, and `bench` measures the secret scanner and the ways a test gets a database.

mod bench;
mod doctor;
mod drift;
mod gc;
mod lanes;
mod preflight;
mod repro;
mod scan;
mod selection;
mod settings;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harness::config::ImageRef;
use harness::repro::RunInputs;

/// Exit status when every selected check passed.
const EXIT_PASS: u8 = 0;
/// Exit status when a check failed: it found a broken rule, or it ended with status error after
/// the environment came up.
const EXIT_FAIL: u8 = 1;
/// Exit status for a usage or environment error: an invalid option or setting, a missing input
/// file, no Docker, an image or an app binary that cannot be built, or an environment that does
/// not come up. Clap uses it for its own usage errors too.
const EXIT_ENVIRONMENT: u8 = 2;

/// Exit statuses of `harness validate`, shown in its help.
const VALIDATE_EXIT_STATUS: &str = "\
Exit status:
  0    every selected check passed
  1    a check failed: the app or the migrations broke a rule, or a check ended with status
       ERROR after the environment came up (such as an app that does not become ready)
  2    usage or environment error, reported before any check runs: an invalid option,
       variable or configuration file, a missing migrations folder or schema snapshot, a report folder that cannot
       be written, no Docker, an image or the app that cannot be built, a network that cannot
       be created, Postgres that stops or does not become ready, a failed database bootstrap
  130  interrupted by SIGINT (Ctrl-C)
  143  interrupted by SIGTERM
After a signal, the run's containers, network and unfinished images are removed first.

App images: validate removes old app images only when HARNESS_KEEP_APP_IMAGES is set, and
then keeps that many of the newest. Otherwise `harness gc` prunes them.";

/// Exit statuses of `harness drift`, shown in its help.
const DRIFT_EXIT_STATUS: &str = "\
Exit status:
  0    no drift: the live schema and _sqlx_migrations match the replayed migrations
  1    drift: at least one untracked change
  2    usage or environment error: an invalid URL, a database that cannot be reached or cannot
       open a read-only transaction, a missing migrations folder, no Docker
  130  interrupted by SIGINT (Ctrl-C)
  143  interrupted by SIGTERM";

/// Checks the LocalizeVideos data layer against Postgres and the app in containers.
#[derive(Debug, Parser)]
#[command(name = "harness", version)]
struct Cli {
    /// Log at debug level (RUST_LOG, when set, takes precedence).
    #[arg(short, long, global = true)]
    verbose: bool,

    /// Configuration file (TOML) [default: HARNESS_CONFIG, else .config/harness.toml of the
    /// workspace when it exists]. Environment variables and flags override its values; see
    /// docs/harness-config.md.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start Postgres and the app, run the checks, print a table and write report.json.
    #[command(after_help = VALIDATE_EXIT_STATUS)]
    Validate {
        /// Run only these checks: one or more names separated by commas, such as
        /// `--only migrations.replay,crud.smoke` [default: every check with `--preset release`,
        /// else `checks` of the configuration file, else every check].
        #[arg(long, value_name = "NAME[,NAME...]", value_delimiter = ',')]
        only: Vec<String>,

        /// Folder for report.json, junit.xml and summary.md, created if missing and checked
        /// for write access before the run starts [default: `report.dir` of the configuration
        /// file, else target/harness/reports/<run id>/ in the workspace].
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,

        /// Validate this prebuilt app image instead of building the bundled app, such as a
        /// release candidate `registry.example:5000/localizevideos:1.4.0-rc1`. It must exist
        /// in the local engine and honour docs/http-contract.md and docs/configuration.md.
        #[arg(long, value_name = "IMAGE[:TAG]", value_parser = parse_image)]
        app_image: Option<ImageRef>,

        /// Number of generated cases of crud.properties, from 1 [default: PROPTEST_CASES, else
        /// the preset, else the configuration file, else 64].
        #[arg(
            long,
            value_name = "N",
            allow_negative_numbers = true,
            value_parser = clap::value_parser!(u32).range(1..),
            conflicts_with = "replay"
        )]
        cases: Option<u32>,

        /// Seed of crud.properties' generator, an unsigned 64-bit integer, for a reproducible
        /// run [default: PROPTEST_RNG_SEED, else the configuration file, else random; the
        /// report prints it].
        #[arg(long, value_name = "S", allow_negative_numbers = true)]
        seed: Option<u64>,

        /// Replay one failing case of crud.properties by its case seed (`cc` and 64 hex digits,
        /// as a failure report prints it) instead of generating cases [default:
        /// CRUD_PROPERTIES_REPLAY].
        #[arg(long, value_name = "CASE_SEED", value_parser = scenarios::crud_properties::parse_case_seed)]
        replay: Option<String>,

        /// Named set of settings: `release` runs every check and crud.properties with 512
        /// cases. Environment variables and other flags override it [default: `preset` in the
        /// configuration file, else `default`].
        #[arg(long, value_name = "NAME", value_parser = settings::preset::parse_flag)]
        preset: Option<settings::Preset>,

        /// Print the effective configuration, each value with its source, and exit without
        /// starting anything.
        #[arg(long)]
        print_config: bool,

        /// When a check fails, leave the run's containers and network running for inspection
        /// and print how to connect and how to remove them (`harness gc --run RUN_ID`).
        #[arg(long)]
        keep: bool,
    },

    /// Check what a run needs (settings, Docker, images, tools, disk space, a loopback port)
    /// and print what to fix. Starts no container.
    ///
    /// Exits with 0 when nothing blocks a run (warnings allowed), 2 otherwise.
    Doctor,
    /// Compare a live database's schema and _sqlx_migrations with what the migrations produce.
    ///
    /// Reads the live database inside a read-only transaction and never writes to it. Builds
    /// the reference by applying the migrations to a fresh Postgres container. Prints every
    /// difference as an untracked change.
    #[command(after_help = DRIFT_EXIT_STATUS)]
    Drift {
        /// Connection URL of the live database, such as
        /// postgres://USER:PASSWORD@HOST:5432/DATABASE. A role with read access to the catalog
        /// and _sqlx_migrations is enough. The password never appears in the output.
        #[arg(
            long,
            value_name = "URL",
            env = "HARNESS_DRIFT_DATABASE_URL",
            hide_env_values = true
        )]
        database_url: String,

        /// Migrations folder to replay [default: migrations/ of the workspace].
        #[arg(long, value_name = "DIR")]
        migrations: Option<PathBuf>,
    },

    /// Scan files for connection strings with a password and password hashes.
    ///
    /// Prints the first finding of each kind per file, with its line and a redacted excerpt,
    /// and the number of further findings of that kind in the file. Symbolic links are
    /// followed and files are read to their end. Exits with 0 when nothing is found, 1 when
    /// something is, 2 when a given path does not exist or a file cannot be read.
    Scan {
        /// Files or folders to scan [default: those of target/nextest, target/harness/reports
        /// and snapshots/ of the workspace that exist].
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
    },

    /// Measure the speed of a harness component. Build with `--release` for real numbers.
    #[command(subcommand)]
    Bench(Bench),

    /// Remove the containers, networks and unfinished images of harness runs whose process has
    /// exited, and the app images beyond the newest N.
    Gc {
        /// Remove every harness run's containers, networks and unfinished images, including live
        /// runs and runs from other hosts.
        #[arg(long)]
        all: bool,

        /// Number of app images (localizevideos/app:<hash>) built by the harness to keep, newest
        /// first. Older ones are removed unless a container uses them [default:
        /// HARNESS_KEEP_APP_IMAGES, or 3].
        #[arg(long, value_name = "N")]
        keep_app_images: Option<usize>,

        /// Remove only this run's containers, networks and unfinished images, whether its
        /// process is alive or not, such as a run kept with `harness validate --keep`. App
        /// images are not pruned then.
        #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["all", "keep_app_images"])]
        run: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Throughput of the secret scanner (canaries and formats) on generated log text.
    Scan {
        /// Size of the generated log, in MiB (1 to 4096). The log is held in memory.
        #[arg(
            long,
            default_value_t = 256,
            value_name = "MIB",
            value_parser = clap::value_parser!(u32).range(1..=4096)
        )]
        size_mib: u32,

        /// Number of timed scans per scanner setup, 1 to 1000; the median is reported.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=1000))]
        runs: u32,
    },

    /// Postgres start to ready, template clones against migrating a new database, and taking a
    /// clone from the clone pool, side by side in one run.
    Db {
        /// Number of timed rounds of each database method and of clone pool takes.
        #[arg(long, default_value_t = 21)]
        runs: usize,

        /// Number of timed Postgres container starts of each kind.
        #[arg(long, default_value_t = 5)]
        starts: usize,

        /// Number of migrations in the generated history.
        #[arg(long, default_value_t = 300)]
        history: usize,

        /// Number of clones the clone pool keeps ready.
        #[arg(long, default_value_t = 4)]
        pool_capacity: usize,

        /// Another Postgres image (NAME[:TAG]) whose first start is timed in the same rounds,
        /// such as an older build of the harness's image. It must be present locally.
        #[arg(long, value_name = "IMAGE")]
        compare_postgres_image: Option<String>,
    },
}

fn main() -> ExitCode {
    // clap quotes the arguments it rejects, and a misplaced connection URL is one, so its
    // messages are redacted like every other output.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let text = harness::redact::redact(&error.render().to_string());
            if error.use_stderr() {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            return ExitCode::from(error.exit_code() as u8);
        }
    };

    // SAFETY: no runtime and no other thread exists yet.
    unsafe { harness::docker::unset_empty_docker_host() };

    // `harness doctor` reports invalid settings as one of its problems and goes on with the
    // other checks; every other command stops.
    let mut settings_error = None;
    let mut run_inputs = RunInputs::default();
    let effective = match settings::load(&settings_flags(&cli)) {
        Ok(effective) => Some(effective),
        Err(error) if matches!(cli.command, Command::Doctor) => {
            settings_error = Some(error.to_string());
            None
        }
        Err(error) => {
            print_error(&error.to_string());
            return ExitCode::from(EXIT_ENVIRONMENT);
        }
    };
    if let Some(effective) = &effective {
        if let Command::Validate {
            print_config: true, ..
        } = cli.command
        {
            print!("{}", settings::render(effective));
            return ExitCode::from(EXIT_PASS);
        }
        // Read before the export below, which adds the file's settings as variables, so that a
        // replay repeats only the variables the user set, and the file through --config.
        run_inputs = RunInputs::new(
            effective.file.clone(),
            std::env::vars_os().map(|(name, value)| {
                (
                    name.to_string_lossy().into_owned(),
                    value.to_string_lossy().into_owned(),
                )
            }),
        );
        // SAFETY: no runtime and no other thread exists yet.
        unsafe { effective.export() };
    }

    // Only validate runs long enough for a live progress line.
    let logging = if matches!(cli.command, Command::Validate { .. }) {
        harness::logging::try_init_with_progress(cli.verbose)
    } else {
        harness::logging::try_init(cli.verbose)
    };
    if let Err(error) = logging {
        print_error(&error.to_string());
        return ExitCode::from(EXIT_ENVIRONMENT);
    }

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            print_error(&format!("starting the tokio runtime failed: {error}"));
            return ExitCode::from(EXIT_ENVIRONMENT);
        }
    };
    let status = runtime.block_on(async {
        match cli.command {
            Command::Validate {
                app_image,
                cases,
                seed,
                replay,
                keep,
                ..
            } => {
                let properties = validate::PropertiesArgs {
                    cases,
                    seed,
                    replay,
                };
                // Only doctor goes on without valid settings.
                let Some(effective) = &effective else {
                    return EXIT_ENVIRONMENT;
                };
                // --only and --report already take part in the effective settings.
                let only = effective.only();
                let report = effective.report_dir();
                validate::validate(only, report, app_image, properties, run_inputs, keep).await
            }
            Command::Doctor => doctor::doctor(settings_error).await,
            Command::Drift {
                database_url,
                migrations,
            } => drift::drift(database_url, migrations).await,
            Command::Scan { paths } => scan::scan(paths),
            Command::Bench(Bench::Scan { size_mib, runs }) => {
                bench::scan::scan(size_mib as usize, runs as usize)
            }
            Command::Bench(Bench::Db {
                runs,
                starts,
                history,
                pool_capacity,
                compare_postgres_image,
            }) => {
                let args = bench::db::DbBenchArgs {
                    runs,
                    starts,
                    history,
                    pool_capacity,
                    compare_postgres_image,
                };
                bench::db::db(args).await
            }
            Command::Gc {
                run: Some(run_id), ..
            } => gc::gc_run(&run_id).await,
            Command::Gc {
                all,
                keep_app_images,
                run: None,
            } => gc::gc(all, keep_app_images).await,
        }
    });
    ExitCode::from(status)
}

/// Returns the flags that override the configuration file and the environment.
fn settings_flags(cli: &Cli) -> settings::Flags<'_> {
    let mut flags = settings::Flags {
        config: cli.config.as_deref(),
        ..settings::Flags::default()
    };
    if let Command::Validate {
        only,
        report,
        app_image,
        cases,
        seed,
        preset,
        ..
    } = &cli.command
    {
        flags.preset = *preset;
        flags.only = only;
        flags.report = report.as_deref();
        flags.app_image = app_image.as_ref();
        flags.cases = *cases;
        flags.seed = *seed;
    }
    flags
}

/// Parses an image reference for `--app-image`.
fn parse_image(reference: &str) -> Result<ImageRef, String> {
    ImageRef::parse(reference).ok_or_else(|| {
        format!(
            "`{reference}` is not a valid image reference; expected NAME[:TAG], such as \
             localizevideos/app:1.4.0 (digests are not accepted)"
        )
    })
}

/// Prints an error, redacted, to stderr.
fn print_error(message: &str) {
    eprintln!("error: {}", harness::redact::redact(message));
}
