//! `harness bench db`: side by side in one run, the ways a test can get a database.
//!
//! - Postgres from container start to ready. New containers: one whose entrypoint runs
//!   initdb, as the official image's does, and two that extract the cluster initialized at
//!   image build time, onto a volume with durable settings and into memory with the test-only
//!   ones. Then a restart on an initialized data folder. Optionally a new container of another
//!   image, such as an older build of the harness's image.
//! - A clone of the template database against creating a database and running every migration
//!   (what `#[sqlx::test]` does), on the workspace's migrations and on a generated history of
//!   hundreds of migrations, under durable settings on a volume and under test-only settings in
//!   memory, as the suite's runs use them.
//! - Taking a clone from a [`ClonePool`] that has kept up with the tests.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::clone_pool::ClonePool;
use harness::config::ImageRef;
use harness::deployment::Deployment;
use harness::durability::Durability;
use harness::error::{Error, Result};
use harness::images;
use harness::labels::RunId;
use harness::network;
use harness::postgres::{self, DataFolder, PostgresContainer, PostgresOptions};
use harness::redact;
use harness::run::{Run, RunOptions, with_run};
use harness::secret::Secret;
use harness::template::{self, TemplateDatabase};

use super::{Summary, load_average, millis};
use crate::{EXIT_ENVIRONMENT, EXIT_PASS, print_error};

/// Name of the template database built from the generated history.
const HISTORY_TEMPLATE: &str = "localizevideos_template_history";
/// Deadline for the clone pool to fill up before a timed take. A clone took less than 2 s in
/// every recorded run, so only a stuck Postgres reaches it.
const POOL_FILL_TIMEOUT: Duration = Duration::from_secs(60);
/// POSTGRES_INITDB_ARGS for the first starts that run initdb. The value is initdb's default
/// under the image's LANG (C.UTF-8), so the cluster is the same. Any value makes the harness's
/// image run initdb instead of copying the cluster it was built with.
const INITDB_ARGS: &str = "--encoding=UTF8";
/// POSTGRES_DB for the first starts that stand in for the official image. The official
/// postgres image's entrypoint (docker-library/postgres, `docker-entrypoint.sh`) starts a
/// temporary server after initdb on every first start, and stops it before the real server
/// starts. Ours does that only to create a database other than `postgres` or to run init
/// scripts, so this name makes it take the same steps.
const OFFICIAL_STYLE_DATABASE: &str = "bench_first_start";

/// Settings of one `harness bench db` invocation.
pub struct DbBenchArgs {
    /// Timed rounds of each database method.
    pub runs: usize,
    /// Timed Postgres container starts of each kind.
    pub starts: usize,
    /// Number of migrations in the generated history.
    pub history: usize,
    /// Capacity of the clone pool.
    pub pool_capacity: usize,
    /// Another Postgres image whose first start is timed in the same rounds, as `NAME[:TAG]`.
    pub compare_postgres_image: Option<String>,
}

/// Runs the database benchmark and prints one line per measurement: first in a run with
/// durable Postgres settings, then in a run with the test-only ones.
pub async fn db(args: DbBenchArgs) -> u8 {
    if args.runs == 0 || args.starts == 0 || args.history == 0 || args.pool_capacity == 0 {
        print_error("--runs, --starts, --history and --pool-capacity must be at least 1");
        return EXIT_ENVIRONMENT;
    }
    let compare_image = match args.compare_postgres_image.as_deref() {
        None => None,
        Some(reference) => match ImageRef::parse(reference) {
            Some(image) => Some(image),
            None => {
                print_error(&format!(
                    "invalid --compare-postgres-image {reference:?}: use NAME[:TAG], such as \
                     localizevideos/postgres:15-bookworm-r2"
                ));
                return EXIT_ENVIRONMENT;
            }
        },
    };
    println!("load average at start: {}", load_average());

    for (durability, postgres_data) in [
        (Durability::Durable, DataFolder::Volume),
        (Durability::TestOnly, DataFolder::Memory),
    ] {
        let options = RunOptions {
            durability,
            postgres_data,
            ..RunOptions::default()
        };
        println!(
            "== Postgres settings: {}, data folder: {}",
            durability.name(),
            postgres_data.name()
        );
        let outcome = with_run(options, async |run| {
            measure(run, &args, compare_image.as_ref()).await
        })
        .await;
        if let Ok(Err(error)) | Err(error) = outcome {
            print_error(&format!("the database benchmark failed: {error}"));
            println!("load average at end: {}", load_average());
            return EXIT_ENVIRONMENT;
        }
    }
    println!("load average at end: {}", load_average());
    EXIT_PASS
}

async fn measure(
    run: &mut Run,
    args: &DbBenchArgs,
    compare_image: Option<&ImageRef>,
) -> Result<()> {
    // Container starts do not depend on the run's settings, so they are measured once. Each
    // start is a new container with settings of its own, named in its line.
    if run.durability() == Durability::Durable {
        println!("== Postgres container starts, each in a new container of its own");
        measure_postgres_start(run, args.starts, compare_image).await?;
        println!("== template clones and migrations in the run's Postgres");
    }

    let deployment = run.deployment().clone();
    let ours = Arc::new(TemplateDatabase::create(&deployment).await?);
    compare_clone_and_migrate(&deployment, &ours, "workspace migrations", args.runs).await?;

    let history_dir = std::env::temp_dir().join(format!("localizevideos-history-{}", run.id()));
    let result = measure_history(&deployment, &history_dir, args).await;
    if let Err(error) = std::fs::remove_dir_all(&history_dir) {
        tracing::warn!(%error, dir = %history_dir.display(), "removing the generated history failed");
    }
    result?;

    measure_pool_take(&deployment, ours, args).await
}

/// Times Postgres from container start to a successful `SELECT 1`, in alternating rounds. A
/// round starts four new containers. The first starts as the official image does (initdb and
/// a temporary server), and the second runs initdb alone. The third extracts the cluster
/// initialized at image build time onto a volume, and the round then stops and starts it on
/// its initialized data folder. The fourth extracts the cluster into memory with test-only
/// settings, as the suite's test-only runs start. With
/// `compare_image`, each round ends with a new container of that image, started as the volume
/// one is.
async fn measure_postgres_start(
    run: &Run,
    starts: usize,
    compare_image: Option<&ImageRef>,
) -> Result<()> {
    if let Some(image) = compare_image
        && !images::image_exists(run.docker(), image).await?
    {
        return Err(Error::Usage(format!(
            "the image {image} from --compare-postgres-image is not in the local Docker \
             engine; build or pull it, or leave the option out"
        )));
    }
    let mut official_starts = Vec::with_capacity(starts);
    let mut initdb_starts = Vec::with_capacity(starts);
    let mut copied_starts = Vec::with_capacity(starts);
    let mut memory_starts = Vec::with_capacity(starts);
    let mut restarts = Vec::with_capacity(starts);
    let mut compared_starts = Vec::with_capacity(starts);

    for index in 0..starts {
        let options = PostgresOptions {
            publish: true,
            initdb_args: Some(INITDB_ARGS.to_owned()),
            first_start_database: Some(OFFICIAL_STYLE_DATABASE.to_owned()),
            ..PostgresOptions::default()
        };
        let (elapsed, container) =
            time_new_container(run, &format!("official{index}"), &options).await?;
        official_starts.push(elapsed);
        container.remove().await?;

        let options = PostgresOptions {
            publish: true,
            initdb_args: Some(INITDB_ARGS.to_owned()),
            ..PostgresOptions::default()
        };
        let (elapsed, container) =
            time_new_container(run, &format!("initdb{index}"), &options).await?;
        initdb_starts.push(elapsed);
        container.remove().await?;

        let options = PostgresOptions {
            publish: true,
            ..PostgresOptions::default()
        };
        let (elapsed, container) =
            time_new_container(run, &format!("copy{index}"), &options).await?;
        copied_starts.push(elapsed);

        container.stop().await?;
        let started = Instant::now();
        container.start_stopped().await?;
        wait_until_ready(run, &container).await?;
        restarts.push(started.elapsed());

        container.remove().await?;

        let options = PostgresOptions {
            publish: true,
            durability: Durability::TestOnly,
            data_folder: DataFolder::Memory,
            ..PostgresOptions::default()
        };
        let (elapsed, container) =
            time_new_container(run, &format!("memory{index}"), &options).await?;
        memory_starts.push(elapsed);
        container.remove().await?;

        if let Some(image) = compare_image {
            let options = PostgresOptions {
                publish: true,
                ..PostgresOptions::default()
            };
            let (elapsed, container) =
                time_new_container_of(run, image, &format!("compare{index}"), &options).await?;
            compared_starts.push(elapsed);
            container.remove().await?;
        }
    }

    let official = Summary::of(&official_starts);
    let initdb = Summary::of(&initdb_starts);
    let copied = Summary::of(&copied_starts);
    let memory = Summary::of(&memory_starts);
    let restart = Summary::of(&restarts);
    print_summary(
        "Postgres start to ready, new container as the official image starts: initdb, a \
         temporary server, then the server",
        &official,
    );
    print_summary(
        "Postgres start to ready, new container running initdb (POSTGRES_INITDB_ARGS set)",
        &initdb,
    );
    print_summary(
        "Postgres start to ready, new container extracting the image's initialized cluster",
        &copied,
    );
    print_summary(
        "Postgres start to ready, new container extracting the image's initialized cluster \
         into memory, test-only settings",
        &memory,
    );
    print_summary(
        "Postgres start to ready, restart on the initialized data folder",
        &restart,
    );
    print_ratio(
        "extracted cluster / official image's way",
        &copied,
        &official,
    );
    print_ratio("extracted cluster / initdb", &copied, &initdb);
    print_ratio(
        "extracted cluster in memory, test-only / official image's way",
        &memory,
        &official,
    );
    print_ratio(
        "extracted cluster in memory, test-only / initdb",
        &memory,
        &initdb,
    );
    print_ratio("restart / official image's way", &restart, &official);
    print_ratio("restart / initdb", &restart, &initdb);
    if let Some(image) = compare_image {
        let compared = Summary::of(&compared_starts);
        print_summary(
            &format!("Postgres start to ready, new container of {image}"),
            &compared,
        );
        print_ratio(&format!("{image} / initdb"), &compared, &initdb);
        print_ratio(&format!("extracted cluster / {image}"), &copied, &compared);
    }
    Ok(())
}

/// Starts a new Postgres container of the run's image, named after the run and `suffix`, with
/// `options`, and returns the time from the start request to a successful `SELECT 1`.
async fn time_new_container(
    run: &Run,
    suffix: &str,
    options: &PostgresOptions,
) -> Result<(Duration, PostgresContainer)> {
    time_new_container_of(run, &run.config().postgres_image, suffix, options).await
}

/// Starts a new Postgres container of `image` as [`time_new_container`] does.
async fn time_new_container_of(
    run: &Run,
    image: &ImageRef,
    suffix: &str,
    options: &PostgresOptions,
) -> Result<(Duration, PostgresContainer)> {
    // A name of its own per container; the run's labels let the run remove it.
    let id = RunId::from_label(&format!("{}-bench-{suffix}", run.id()));
    let password = Secret::generate();
    redact::register(&password);

    let started = Instant::now();
    let container = postgres::start(
        image,
        &id,
        &network::network_name(run.id()),
        run.labels(),
        &password,
        options,
    )
    .await?;
    wait_until_ready(run, &container).await?;
    Ok((started.elapsed(), container))
}

async fn wait_until_ready(run: &Run, container: &PostgresContainer) -> Result<()> {
    let port = container.host_port().await?;
    container
        .wait_until_ready(
            run.docker(),
            "127.0.0.1",
            port,
            run.config().postgres_ready_timeout,
        )
        .await
}

/// Times, in alternating rounds, a clone of `template` and a new database migrated from
/// `deployment.migrations_dir`, and drops each database after its round, untimed.
async fn compare_clone_and_migrate(
    deployment: &Deployment,
    template: &TemplateDatabase,
    label: &str,
    runs: usize,
) -> Result<()> {
    let mut clones = Vec::with_capacity(runs);
    let mut clones_on_open = Vec::with_capacity(runs);
    let mut migrated = Vec::with_capacity(runs);
    let mut server = template::connect_server(deployment).await?;

    for index in 0..runs {
        let started = Instant::now();
        let clone = template.clone_database(deployment, "bench").await?;
        clones.push(started.elapsed());
        clone.drop(deployment).await?;

        let started = Instant::now();
        let clone = template.clone_on(&mut server, "bench").await?;
        clones_on_open.push(started.elapsed());
        clone.drop(deployment).await?;

        let name = format!("localizevideos_bench_migrated_{index}");
        let started = Instant::now();
        let database = template::create_and_migrate(deployment, &name).await?;
        migrated.push(started.elapsed());
        database.drop(deployment).await?;
    }

    let clone = Summary::of(&clones);
    let clone_on_open = Summary::of(&clones_on_open);
    let migrate = Summary::of(&migrated);
    println!("{label}: {} migrations", template.migrations());
    print_summary("  clone, connecting as the superuser first", &clone);
    print_summary("  clone on an open superuser connection", &clone_on_open);
    print_summary("  CREATE DATABASE and every migration", &migrate);
    print_ratio("migrate / clone", &migrate, &clone);
    print_ratio(
        "migrate / clone on an open connection",
        &migrate,
        &clone_on_open,
    );
    Ok(())
}

/// Generates a history of `args.history` migrations into `dir`, builds a second template from
/// it, and compares clone and migrate on it.
async fn measure_history(deployment: &Deployment, dir: &Path, args: &DbBenchArgs) -> Result<()> {
    write_history(dir, args.history).map_err(|source| Error::Io {
        action: "writing the generated migrations to".to_owned(),
        path: dir.to_path_buf(),
        source,
    })?;
    let mut history = deployment.clone();
    history.migrations_dir = dir.to_path_buf();

    let started = Instant::now();
    let template = TemplateDatabase::create_named(&history, HISTORY_TEMPLATE).await?;
    println!(
        "generated history: template of {} migrations built in {} ms",
        template.migrations(),
        millis(started.elapsed())
    );
    compare_clone_and_migrate(&history, &template, "generated history", args.runs).await
}

/// Writes `count` sqlx migrations into `dir`: tables, added columns, indexes and data changes
/// in turn, like a schema that grew over years.
fn write_history(dir: &Path, count: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;

    let mut table = 0;
    for version in 1..=count {
        let sql = match version % 4 {
            1 => {
                table = version;
                format!(
                    "CREATE TABLE history_{table} (\n\
                     \x20   id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n\
                     \x20   name text NOT NULL,\n\
                     \x20   created_at timestamptz NOT NULL DEFAULT now()\n\
                     );\n"
                )
            }
            2 => format!("ALTER TABLE history_{table} ADD COLUMN note_{version} text;\n"),
            3 => {
                format!("CREATE INDEX history_{table}_name_{version} ON history_{table} (name);\n")
            }
            _ => format!(
                "INSERT INTO history_{table} (name)\n\
                 SELECT 'row ' || n FROM generate_series(1, 20) AS n;\n"
            ),
        };
        std::fs::write(dir.join(format!("{version:04}_history_step.sql")), sql)?;
    }
    Ok(())
}

/// Starts a clone pool, waits until it is full, and times `args.runs` takes. After each take,
/// the clone is dropped and the pool refills before the next take, untimed, as when each test
/// runs longer than a clone takes. A test that comes sooner waits for a clone instead.
async fn measure_pool_take(
    deployment: &Deployment,
    template: Arc<TemplateDatabase>,
    args: &DbBenchArgs,
) -> Result<()> {
    let mut pool = ClonePool::start(template, deployment.clone(), "pool", args.pool_capacity)?;
    let mut takes = Vec::with_capacity(args.runs);

    let result = async {
        for _ in 0..args.runs {
            wait_until_full(&pool, args.pool_capacity).await?;
            let started = Instant::now();
            let clone = pool.take().await?;
            takes.push(started.elapsed());
            clone.drop(deployment).await?;
        }
        Ok::<(), Error>(())
    }
    .await;
    let shutdown = pool.shutdown().await;
    result?;
    shutdown?;

    println!("clone pool of capacity {}:", args.pool_capacity);
    print_summary("  take a ready clone", &Summary::of(&takes));
    Ok(())
}

async fn wait_until_full(pool: &ClonePool, capacity: usize) -> Result<()> {
    let deadline = Instant::now() + POOL_FILL_TIMEOUT;
    while pool.ready() < capacity {
        if Instant::now() >= deadline {
            return Err(Error::Usage(format!(
                "the clone pool held {} of {capacity} clones after {POOL_FILL_TIMEOUT:?}. \
                 Check the Postgres container's log",
                pool.ready()
            )));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

fn print_summary(label: &str, summary: &Summary) {
    println!(
        "{label}: median {} ms (min {}, max {}), {} runs",
        millis(summary.median),
        millis(summary.min),
        millis(summary.max),
        summary.count
    );
}

fn print_ratio(label: &str, numerator: &Summary, denominator: &Summary) {
    println!(
        "  ratio of medians, {label}: {:.3}",
        numerator.median.as_secs_f64() / denominator.median.as_secs_f64()
    );
}
