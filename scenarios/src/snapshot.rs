//! The committed insta snapshots in the top-level `snapshots/` folder, read
//! without insta so that a check can compare against them at run time.

use std::fs;
use std::path::{Path, PathBuf};

use similar::{ChangeTag, TextDiff};

/// Environment variable that overrides the snapshots folder (for a test binary
/// run from a `cargo nextest archive` away from the source tree).
pub const SNAPSHOTS_DIR_ENV: &str = "HARNESS_SNAPSHOTS_DIR";

/// Snapshot name of the schema description: the file is `snapshots/schema.snap`.
pub const SCHEMA_SNAPSHOT: &str = "schema";

/// Maximum number of differing lines quoted in a mismatch message.
const MAX_QUOTED_LINES: usize = 6;

/// Failure to read a snapshot file.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be read.
    #[error(
        "cannot read snapshot {path}: {source}; create it with \
         `INSTA_UPDATE=always cargo nextest run -p scenarios --test schema_snapshot`"
    )]
    Read {
        /// The snapshot file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file lacks the `---` lines around insta's metadata header.
    #[error(
        "snapshot {path} is not an insta snapshot: expected a `---` line, \
         metadata, a second `---` line and the body; regenerate it"
    )]
    Malformed {
        /// The snapshot file.
        path: PathBuf,
    },
}

/// Returns the folder of committed snapshots: `$HARNESS_SNAPSHOTS_DIR`, else
/// `$HARNESS_WORKSPACE/snapshots`, else `snapshots/` at the root of the workspace that
/// [`harness::config::default_workspace`] returns. An empty variable counts as unset.
pub fn snapshots_dir() -> PathBuf {
    let variable = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    let dir = match (
        variable(SNAPSHOTS_DIR_ENV),
        variable(harness::config::WORKSPACE_VAR),
    ) {
        (Some(dir), _) => PathBuf::from(dir),
        (None, Some(workspace)) => PathBuf::from(workspace).join("snapshots"),
        (None, None) => harness::config::default_workspace().join("snapshots"),
    };
    // Resolve `..` so that messages show a plain path. A missing folder stays as it is.
    dir.canonicalize().unwrap_or(dir)
}

/// Returns the path of snapshot `name` in [`snapshots_dir`].
pub fn snapshot_path(name: &str) -> PathBuf {
    snapshots_dir().join(format!("{name}.snap"))
}

/// Reads the body of an insta snapshot file: the text after the second `---` line.
pub fn read_snapshot_body(path: &Path) -> Result<String, SnapshotError> {
    let text = fs::read_to_string(path).map_err(|source| SnapshotError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_snapshot_body(&text).ok_or_else(|| SnapshotError::Malformed {
        path: path.to_owned(),
    })
}

/// Extracts the body of an insta snapshot, normalised the way insta 1.49
/// compares text: CRLF becomes LF and trailing whitespace is trimmed.
pub fn parse_snapshot_body(text: &str) -> Option<String> {
    let text = text.replace("\r\n", "\n");
    let mut lines = text.split('\n');
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    lines.by_ref().find(|line| line.trim_end() == "---")?;

    let body: Vec<&str> = lines.collect();
    Some(normalize(&body.join("\n")))
}

/// Normalises text for comparison with a snapshot body.
pub fn normalize(text: &str) -> String {
    text.replace("\r\n", "\n").trim_end().to_owned()
}

/// Describes where `actual` first departs from `expected`, on one line: the
/// line number, the section it belongs to (see [`enclosing_section`]) and up
/// to six removed (`-`) and added (`+`) lines of the first changed hunk.
/// Returns `None` when both are equal after [`normalize`].
pub fn describe_first_difference(expected: &str, actual: &str) -> Option<String> {
    // Every line ends with a newline, so that the last line compares equal to the same line
    // followed by more.
    let expected = normalize(expected) + "\n";
    let actual = normalize(actual) + "\n";
    if expected == actual {
        return None;
    }

    let diff = TextDiff::from_lines(&expected, &actual);
    // The first changed line, as (its text's lines, index in them).
    let mut first_change: Option<(Vec<&str>, usize)> = None;
    let mut quoted = Vec::new();
    let first_group = diff.grouped_ops(0).into_iter().next().unwrap_or_default();
    for op in &first_group {
        for change in diff.iter_changes(op) {
            let mark = match change.tag() {
                ChangeTag::Equal => continue,
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
            };
            if first_change.is_none() {
                first_change = match (change.old_index(), change.new_index()) {
                    (Some(index), _) => Some((expected.lines().collect(), index)),
                    (None, Some(index)) => Some((actual.lines().collect(), index)),
                    (None, None) => None,
                };
            }
            if quoted.len() < MAX_QUOTED_LINES {
                quoted.push(format!("{mark}`{}`", change.value().trim_end()));
            }
        }
    }

    let (line, section) = match &first_change {
        Some((lines, index)) => (
            index + 1,
            enclosing_section(lines, *index)
                .map(|header| format!(" in `{header}`"))
                .unwrap_or_default(),
        ),
        None => (1, String::new()),
    };
    Some(format!("line {line}{section}: {}", quoted.join(" ")))
}

/// Returns the section header that line `index` belongs to: the nearest line
/// at or before it that starts without indentation, such as `table users`.
/// The schema description indents every column, constraint, index and grant
/// under the header of its table, sequence or schema.
pub fn enclosing_section<'a>(lines: &[&'a str], index: usize) -> Option<&'a str> {
    lines
        .get(..=index)?
        .iter()
        .rev()
        .find(|line| !line.is_empty() && !line.starts_with(char::is_whitespace))
        .map(|line| line.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_body_after_second_separator() {
        let text =
            "---\nsource: tests/schema_snapshot.rs\nexpression: schema\n---\nline one\nline two\n";

        let body = parse_snapshot_body(text);

        assert_eq!(body.as_deref(), Some("line one\nline two"));
    }

    #[test]
    fn parse_body_keeps_separator_in_body() {
        let text = "---\nsource: x\n---\nbody\n---\nmore\n";

        let body = parse_snapshot_body(text);

        assert_eq!(body.as_deref(), Some("body\n---\nmore"));
    }

    #[test]
    fn parse_body_normalizes_crlf() {
        let text = "---\r\nsource: x\r\n---\r\na\r\nb\r\n";

        let body = parse_snapshot_body(text);

        assert_eq!(body.as_deref(), Some("a\nb"));
    }

    #[test]
    fn parse_rejects_missing_header() {
        assert_eq!(parse_snapshot_body("just text\n"), None);
        assert_eq!(parse_snapshot_body("---\nsource: x\n"), None);
    }

    #[test]
    fn difference_none_for_equal_text() {
        let difference = describe_first_difference("a\nb\n", "a\nb");

        assert_eq!(difference, None);
    }

    #[test]
    fn difference_names_added_line() {
        let expected = "table users\n  column id uuid\n  column email text\n";
        let actual = "table users\n  column id uuid\n  column nickname text\n  column email text\n";

        let difference = describe_first_difference(expected, actual);

        assert_eq!(
            difference.as_deref(),
            Some("line 3 in `table users`: +`  column nickname text`")
        );
    }

    #[test]
    fn difference_names_changed_line() {
        let difference = describe_first_difference("a\nb\nc", "a\nB\nc");

        assert_eq!(difference.as_deref(), Some("line 2 in `b`: -`b` +`B`"));
    }

    #[test]
    fn difference_names_table_of_removed_line() {
        let expected = "schema public\n  owner lv_migrator\ntable users\n  column id uuid\n\
                        table videos\n  column id uuid\n  column title text\n  grant lv_app: SELECT\n";
        let actual = "schema public\n  owner lv_migrator\ntable users\n  column id uuid\n\
                      table videos\n  column id uuid\n  grant lv_app: SELECT\n";

        let difference = describe_first_difference(expected, actual);

        assert_eq!(
            difference.as_deref(),
            Some("line 7 in `table videos`: -`  column title text`")
        );
    }

    #[test]
    fn difference_in_new_table_names_it() {
        let expected = "table users\n  column id uuid\n";
        let actual = "table users\n  column id uuid\ntable tags\n  column id uuid\n";

        let difference = describe_first_difference(expected, actual);

        assert_eq!(
            difference.as_deref(),
            Some("line 3 in `table tags`: +`table tags` +`  column id uuid`")
        );
    }

    #[test]
    fn section_is_nearest_header() {
        let lines = [
            "table users",
            "  column id uuid",
            "table videos",
            "  column id uuid",
        ];
        let cases: &[(usize, Option<&str>)] = &[
            (0, Some("table users")),
            (1, Some("table users")),
            (2, Some("table videos")),
            (3, Some("table videos")),
            (4, None),
        ];
        for (index, expected) in cases {
            assert_eq!(
                enclosing_section(&lines, *index),
                *expected,
                "section of line index {index}"
            );
        }
    }

    #[test]
    fn section_missing_before_first_header() {
        let lines = ["  column id uuid", "table users"];
        assert_eq!(enclosing_section(&lines, 0), None);
    }
}
