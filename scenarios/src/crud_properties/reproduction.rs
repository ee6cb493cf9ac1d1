//! Reproduction of a failure. The shrunk sequence becomes a readable list of requests, with
//! ids as `{user#0}` and passwords shown by length only. The report adds the seeds and a
//! command that replays exactly the failing case, and the regressions file keeps the seeds that
//! every later run replays first.
//!
//! The regressions file uses proptest's format (`cc <seed> # <comment>`), one case per line.
//! Proptest hands the ledger the seed of every failing case, but only the caller knows whether
//! the failure was a disagreement with the model, so the ledger records the seed and
//! [`persist_seed`] writes it.

use std::any::Any;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use harness::repro::ReproDetails;
use proptest::test_runner::{FailurePersistence, PersistedSeed};

use super::calls::{Call, SymbolicIds};
use super::model::{Outcome, State};

/// Header written at the top of a new regressions file.
const REGRESSIONS_HEADER: &str = "\
# Seeds of crud.properties cases that failed once. Every run replays them before it generates
# new cases. Commit this file; delete a line only when its case no longer applies.
";

impl super::Reproduction {
    /// Builds the repro bundle's inputs: the case seed replays exactly the failing case, and
    /// without one, the run's seed with its number of cases replays the whole run.
    pub fn details(&self, cases: u32) -> ReproDetails {
        let (seed, validate_args) = match (&self.case_seed, self.seed) {
            (Some(case_seed), _) => (
                Some(case_seed.clone()),
                vec!["--replay".to_owned(), case_seed.clone()],
            ),
            (None, Some(seed)) => (
                Some(seed.to_string()),
                vec![
                    "--seed".to_owned(),
                    seed.to_string(),
                    "--cases".to_owned(),
                    cases.to_string(),
                ],
            ),
            (None, None) => (None, Vec::new()),
        };
        ReproDetails {
            seed,
            validate_args,
            env: Vec::new(),
            files: Vec::new(),
        }
        .with_file("sequence.txt", self.render())
    }
}

/// Builds the repro bundle's inputs of a run that ended without a shrunk case (an error): the
/// replayed case seed, or the run's seed with its number of cases.
pub fn run_details(options: &super::Options) -> ReproDetails {
    let (seed, validate_args) = match &options.regressions {
        Regressions::Replay(case_seed) => (
            case_seed.clone(),
            vec!["--replay".to_owned(), case_seed.clone()],
        ),
        Regressions::Off | Regressions::File(_) | Regressions::ReadOnly(_) => (
            options.seed.to_string(),
            vec![
                "--seed".to_owned(),
                options.seed.to_string(),
                "--cases".to_owned(),
                options.cases.to_string(),
            ],
        ),
    };
    ReproDetails {
        seed: Some(seed),
        validate_args,
        env: Vec::new(),
        files: Vec::new(),
    }
}

/// Returns the regressions file of `crud.properties`, next to this crate's sources.
pub fn regressions_path() -> PathBuf {
    harness::config::default_workspace().join("scenarios/proptest-regressions/crud_properties.txt")
}

/// Source and destination of the runner's failing seeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Regressions {
    /// Neither read nor write: self-tests, whose failures are intended.
    Off,
    /// Replay the file's seeds first, and append the seed of a new failure.
    File(PathBuf),
    /// Replay the file's seeds first, but append nothing: a run against a candidate app image
    /// (`--app-image`), whose failures are not regressions of the workspace's own app.
    ReadOnly(PathBuf),
    /// Replay this one case seed (`cc <hex>`) and nothing else.
    Replay(String),
}

/// A [`FailurePersistence`] over [`Regressions`] that records the seed of the last failing case
/// instead of writing it, so that the report can name it and the caller decides whether it is a
/// regression to keep (see [`persist_seed`]).
#[derive(Clone, Debug)]
pub struct SeedLedger {
    regressions: Regressions,
    seeds: Vec<PersistedSeed>,
    saved: Arc<Mutex<Option<String>>>,
}

impl SeedLedger {
    /// Creates the ledger and reads the seeds that `regressions` names, failing on an unreadable
    /// file or seed (see [`Regressions::load_seeds`]).
    pub fn load(regressions: Regressions) -> Result<Self, String> {
        let seeds = regressions.load_seeds()?;
        Ok(Self {
            regressions,
            seeds,
            saved: Arc::new(Mutex::new(None)),
        })
    }

    /// Returns how many seeds the runner replays before it generates new cases.
    pub fn replayed(&self) -> usize {
        self.seeds.len()
    }

    /// Returns a handle on the seed of the last failing case, once saved.
    pub fn saved(&self) -> Arc<Mutex<Option<String>>> {
        Arc::clone(&self.saved)
    }
}

/// Form of a case seed, for error messages.
pub const CASE_SEED_FORM: &str = "`cc` followed by a space and 64 hex digits, as a failure report \
                                  prints it";

/// Parses a case seed: `cc` (proptest's key for its ChaCha generator, the one the check uses),
/// whitespace and 64 hex digits. Returns it as `cc <hex>` in lowercase.
pub fn parse_case_seed(text: &str) -> Result<String, String> {
    let invalid = || format!("invalid case seed {text:?}: expected {CASE_SEED_FORM}");
    let mut parts = text.split_whitespace();
    let (Some("cc"), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if hex.len() != 64 || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let seed = format!("cc {}", hex.to_ascii_lowercase());
    // Proptest's own parser decides in the end, so that a seed accepted here always replays.
    seed.parse::<PersistedSeed>().map_err(|()| invalid())?;
    Ok(seed)
}

impl Regressions {
    /// Reads the case seeds to replay: none for [`Regressions::Off`], the one seed of
    /// [`Regressions::Replay`], and every seed line of the file of [`Regressions::File`] and
    /// [`Regressions::ReadOnly`] (a
    /// missing file has none). Blank lines and `#` comments are skipped. An unreadable file or
    /// seed is an error that names the file and line, because a skipped seed would let a known
    /// failure pass.
    pub fn load_seeds(&self) -> Result<Vec<PersistedSeed>, String> {
        let seeds = match self {
            Regressions::Off => Vec::new(),
            Regressions::Replay(seed) => vec![parse_case_seed(seed)?],
            Regressions::File(path) | Regressions::ReadOnly(path) => read_seed_file(path)?,
        };
        Ok(seeds
            .iter()
            .map(|seed| seed.parse().expect("parse_case_seed checked the seed"))
            .collect())
    }

    /// Returns the file that a new failing seed is appended to: only [`Regressions::File`] has
    /// one.
    pub fn seed_destination(&self) -> Option<&Path> {
        match self {
            Regressions::File(path) => Some(path),
            Regressions::Off | Regressions::ReadOnly(_) | Regressions::Replay(_) => None,
        }
    }

    /// Returns these regressions for a run against a candidate app image: the file's seeds are
    /// still replayed, but no new seed is written to it.
    pub fn read_only(self) -> Self {
        match self {
            Regressions::File(path) => Regressions::ReadOnly(path),
            other => other,
        }
    }
}

fn read_seed_file(path: &Path) -> Result<Vec<String>, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(format!(
                "reading the regressions file {} failed: {error}",
                path.display()
            ));
        }
    };
    let mut seeds = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let seed = line.split('#').next().unwrap_or_default().trim();
        if seed.is_empty() {
            continue;
        }
        let seed = parse_case_seed(seed).map_err(|message| {
            format!(
                "{}:{}: {message}; fix or delete the line",
                path.display(),
                index + 1
            )
        })?;
        seeds.push(seed);
    }
    Ok(seeds)
}

impl FailurePersistence for SeedLedger {
    fn load_persisted_failures2(&self, _source_file: Option<&'static str>) -> Vec<PersistedSeed> {
        self.seeds.clone()
    }

    fn save_persisted_failure2(
        &mut self,
        _source_file: Option<&'static str>,
        seed: PersistedSeed,
        shrunken_value: &dyn fmt::Debug,
    ) {
        // The Debug form of the shrunk value is long and may carry passwords, so nothing but the
        // seed is kept. The run's report shows the sequence.
        let _ = shrunken_value;
        if let Ok(mut saved) = self.saved.lock() {
            *saved = Some(seed.to_string());
        }
    }

    fn box_clone(&self) -> Box<dyn FailurePersistence> {
        Box::new(self.clone())
    }

    fn eq(&self, other: &dyn FailurePersistence) -> bool {
        other
            .as_any()
            .downcast_ref::<Self>()
            .is_some_and(|other| other.regressions == self.regressions)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Appends `seed` with today's date to the regressions file at `path`, creating the file with its
/// header if missing. Call it only for a case whose responses or database disagreed with the
/// model: an interrupted run or an infrastructure failure is no regression.
pub fn persist_seed(path: &Path, seed: &str) -> std::io::Result<()> {
    let line = format!(
        "{seed} # crud.properties failure found {}\n",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    append(path, &line)
}

fn append(path: &Path, line: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let exists = path.exists();
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if !exists {
        file.write_all(REGRESSIONS_HEADER.as_bytes())?;
    }
    file.write_all(line.as_bytes())
}

/// Renders a sequence as numbered lines: the request (method, path, body with passwords
/// redacted) and the outcome the model expects.
pub fn render_sequence(initial: &State, calls: &[Call]) -> Vec<String> {
    let mut state = initial.clone();
    calls
        .iter()
        .enumerate()
        .map(|(index, call)| {
            let call = state.normalize(call);
            let request = call.request(&state, &SymbolicIds, true);
            state = state.clone().apply(&call);
            format!(
                "{}. {request} -> expected {}",
                index + 1,
                describe(&state.outcome)
            )
        })
        .collect()
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Nothing => "nothing".to_owned(),
        Outcome::Error { status, code } => format!("{status} {code}"),
        Outcome::Created(kind, slot) => format!("201 {}#{slot}", kind.entity_type()),
        Outcome::Found(kind, slot) => format!("200 {}#{slot}", kind.entity_type()),
        Outcome::Updated(kind, slot) => format!("200 {}#{slot} updated", kind.entity_type()),
        Outcome::Deleted => "204".to_owned(),
        Outcome::Page {
            kind, slots, total, ..
        } => format!(
            "200 page of {} slots {slots:?}, total {total}",
            kind.entity_type()
        ),
        Outcome::LoggedIn(slot) => format!("200 user_id of user#{slot}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crud_properties::calls::{Envelope, Password, Ref};

    const SEED: &str = "cc 0000000000000000000000000000000000000000000000000000000000000001";

    /// Returns a path in the temporary folder that no other test or process uses.
    fn temporary_path(test: &str) -> PathBuf {
        let path = std::env::temp_dir()
            .join(format!("crud-properties-{test}-{}", std::process::id()))
            .join("regressions.txt");
        let _ = fs::remove_dir_all(path.parent().expect("the path has a parent"));
        path
    }

    #[test]
    fn sequence_shows_symbolic_ids_and_hides_passwords() {
        let calls = [
            Call::CreateUser {
                email: "ann@example.test".to_owned(),
                display_name: "Ann".to_owned(),
                password: Password("hunter2hunter2".to_owned()),
                envelope: Envelope::Valid,
            },
            Call::DeleteUser { user: Ref::Slot(0) },
        ];

        let lines = render_sequence(&State::default(), &calls);

        assert_eq!(
            lines,
            [
                "1. POST /v1/users {\"email\":\"ann@example.test\",\"display_name\":\"Ann\",\
                 \"password\":\"[redacted: 14 characters]\"} -> expected 201 user#0",
                "2. DELETE /v1/users/{user#0} -> expected 204",
            ]
        );
    }

    #[test]
    fn replay_loads_only_its_seed() {
        let seed = "cc 0000000000000000000000000000000000000000000000000000000000000001";
        let ledger = SeedLedger::load(Regressions::Replay(seed.to_owned())).expect("valid seed");

        let seeds = ledger.load_persisted_failures2(None);

        assert_eq!(seeds.len(), 1);
        assert_eq!(seeds[0].to_string(), seed);
    }

    #[test]
    fn ledger_records_seed_without_writing() {
        let path = temporary_path("ledger");
        let mut ledger = SeedLedger::load(Regressions::File(path.clone())).expect("no file");
        let seed: PersistedSeed = SEED.parse().expect("the seed should parse");

        ledger.save_persisted_failure2(None, seed, &"value");

        assert!(!path.exists(), "the ledger should not write the file");
        let saved = ledger.saved().lock().expect("lock").clone();
        assert_eq!(saved.as_deref(), Some(SEED));
    }

    #[test]
    fn read_only_file_replays_without_destination() {
        let path = temporary_path("read-only");
        persist_seed(&path, SEED).expect("the seed should be written");

        let regressions = Regressions::File(path.clone()).read_only();

        assert_eq!(regressions, Regressions::ReadOnly(path.clone()));
        assert_eq!(regressions.seed_destination(), None);
        let seeds = regressions.load_seeds().expect("the file should parse");
        assert_eq!(seeds.len(), 1);
        fs::remove_dir_all(path.parent().expect("the path has a parent"))
            .expect("the folder should be removable");
    }

    #[test]
    fn only_file_has_seed_destination() {
        let path = PathBuf::from("/tmp/regressions.txt");

        assert_eq!(
            Regressions::File(path.clone()).seed_destination(),
            Some(path.as_path())
        );
        assert_eq!(Regressions::Off.seed_destination(), None);
        assert_eq!(
            Regressions::Replay(SEED.to_owned()).seed_destination(),
            None
        );
    }

    #[test]
    fn persist_seed_appends_under_header() {
        let path = temporary_path("ledger");

        persist_seed(&path, SEED).expect("the first seed should be written");
        persist_seed(&path, SEED).expect("the second seed should be written");

        let text = fs::read_to_string(&path).expect("the file should exist");
        assert!(text.starts_with(REGRESSIONS_HEADER), "{text}");
        assert_eq!(text.matches(SEED).count(), 2, "{text}");
        let _ = fs::remove_dir_all(path.parent().expect("the path has a parent"));
    }

    #[test]
    fn case_seed_accepts_cc_and_64_hex() {
        let upper = format!("  cc {}  ", &SEED[3..].to_ascii_uppercase());

        assert_eq!(parse_case_seed(SEED).as_deref(), Ok(SEED));
        assert_eq!(parse_case_seed(&upper).as_deref(), Ok(SEED));
    }

    #[test]
    fn case_seed_rejects_other_forms() {
        let cases = [
            "",
            "   ",
            "cc",
            "cc 1234",
            "xs 0000000000000000000000000000000000000000000000000000000000000001",
            "cc 000000000000000000000000000000000000000000000000000000000000000g",
            "cc 00000000000000000000000000000000000000000000000000000000000000011",
            "cc 0000000000000000000000000000000000000000000000000000000000000001 x",
            "0000000000000000000000000000000000000000000000000000000000000001",
        ];
        for text in cases {
            let error = parse_case_seed(text).expect_err(&format!("{text:?} should be rejected"));
            assert!(error.contains(&format!("{text:?}")), "{error}");
            assert!(error.contains("64 hex digits"), "{error}");
        }
    }

    #[test]
    fn seed_file_rejects_unreadable_line() {
        let path = temporary_path("unreadable-line");
        fs::create_dir_all(path.parent().expect("the path has a parent")).expect("mkdir");
        fs::write(
            &path,
            format!("# header\n{SEED} # ok\n\ncc nothex # broken\n"),
        )
        .expect("write");

        let error = Regressions::File(path.clone())
            .load_seeds()
            .expect_err("the broken line should be rejected");

        assert!(error.contains(&format!("{}:4:", path.display())), "{error}");
        assert!(error.contains("cc nothex"), "{error}");
        let _ = fs::remove_dir_all(path.parent().expect("the path has a parent"));
    }

    #[test]
    fn seed_file_skips_comments_and_blanks() {
        let path = temporary_path("comments");
        fs::create_dir_all(path.parent().expect("the path has a parent")).expect("mkdir");
        fs::write(&path, format!("# header\n\n{SEED} # found\n")).expect("write");

        let seeds = Regressions::File(path.clone())
            .load_seeds()
            .expect("valid file");

        assert_eq!(seeds.len(), 1);
        assert_eq!(seeds[0].to_string(), SEED);
        let _ = fs::remove_dir_all(path.parent().expect("the path has a parent"));
    }

    #[test]
    fn committed_regressions_file_is_readable() {
        let seeds = Regressions::File(regressions_path()).load_seeds();

        assert!(seeds.is_ok(), "{seeds:?}");
    }

    #[test]
    fn off_loads_nothing() {
        let ledger = SeedLedger::load(Regressions::Off).expect("nothing to read");

        assert!(ledger.load_persisted_failures2(None).is_empty());
    }
}
