//! The env file (`LV_ENV_FILE` or `--env-file`): dotenv lines whose values
//! override the process environment, so that editing the file and restarting
//! the app takes effect even where a stale variable is still set.

use std::path::{Path, PathBuf};

/// An env file that could not be read or parsed. Messages never contain the
/// file's lines, because they may contain a password.
#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    #[error(
        "cannot read env file {path}: {source}; check the path given by LV_ENV_FILE or --env-file"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "env file {path} has an invalid line (error at character {index} of that line; \
         the line is not shown because it may contain a secret); expected KEY=VALUE"
    )]
    Syntax { path: PathBuf, index: usize },
}

/// Reads every `KEY=VALUE` pair from `path`. Nothing is applied when any line
/// is invalid.
pub fn read(path: &Path) -> Result<Vec<(String, String)>, EnvFileError> {
    let to_error = |err: dotenvy::Error| match err {
        dotenvy::Error::LineParse(_line, index) => EnvFileError::Syntax {
            path: path.to_owned(),
            index,
        },
        dotenvy::Error::Io(source) => EnvFileError::Read {
            path: path.to_owned(),
            source,
        },
        other => EnvFileError::Read {
            path: path.to_owned(),
            source: std::io::Error::other(other.to_string()),
        },
    };

    let lines = dotenvy::from_path_iter(path).map_err(to_error)?;
    lines.map(|line| line.map_err(to_error)).collect()
}

/// Sets every pair in the process environment, replacing existing values.
///
/// # Safety
///
/// No other thread may exist: the environment is not synchronised, and
/// another thread reading it during `set_var` is undefined behaviour. `main`
/// calls this before it builds the tokio runtime.
pub unsafe fn apply(pairs: &[(String, String)]) {
    for (key, value) in pairs {
        // SAFETY: the caller guarantees that this is the only thread.
        unsafe { std::env::set_var(key, value) };
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn write_temp(name: &str, contents: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("lv-env-file-{}-{name}", std::process::id()));
        let mut file = std::fs::File::create(&path).expect("temp file should be writable");
        file.write_all(contents.as_bytes())
            .expect("temp file write");
        path
    }

    #[test]
    fn read_returns_pairs() {
        let path = write_temp("ok", "DB_HOST=db\n# comment\nDB_PASSWORD='canary pw'\n");

        let pairs = read(&path).expect("valid file should parse");
        std::fs::remove_file(&path).ok();

        assert_eq!(
            pairs,
            vec![
                ("DB_HOST".to_owned(), "db".to_owned()),
                ("DB_PASSWORD".to_owned(), "canary pw".to_owned()),
            ]
        );
    }

    #[test]
    fn single_quotes_keep_dollar() {
        let path = write_temp("dollar", "A='pa$LVUNSETNAME'\nB=pa$LVUNSETNAME\n");

        let pairs = read(&path).expect("valid file should parse");
        std::fs::remove_file(&path).ok();

        assert_eq!(
            pairs[0].1, "pa$LVUNSETNAME",
            "single quotes keep the text as written"
        );
        assert_eq!(pairs[1].1, "pa", "an unquoted $NAME is expanded");
    }

    #[test]
    fn syntax_error_hides_line() {
        let path = write_temp("bad", "DB_PASSWORD=canary-pw-4 'unterminated\n");

        let err = read(&path).expect_err("invalid line should be rejected");
        std::fs::remove_file(&path).ok();

        let message = err.to_string();
        assert!(matches!(err, EnvFileError::Syntax { .. }), "got: {message}");
        assert!(
            !message.contains("canary-pw-4"),
            "message leaks the line: {message}"
        );
    }

    #[test]
    fn missing_file_names_path() {
        let path = Path::new("/nonexistent/lv-test.env");

        let err = read(path).expect_err("missing file should be an error");

        assert!(
            err.to_string().contains("/nonexistent/lv-test.env"),
            "got: {err}"
        );
    }
}
