//! Cross-process file locks, so that parallel test processes build each image once.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fs4::fs_std::FileExt;

use crate::error::{Error, Result};

/// Interval between attempts to take a busy lock.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Exclusive lock on a file, released on drop or when the process exits.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Takes the exclusive lock on `path`, creating the file and its folder if needed, waiting at
    /// most `timeout`. `purpose` appears in the log and in the timeout error.
    pub async fn acquire(path: &Path, purpose: &str, timeout: Duration) -> Result<Self> {
        let io_error = |action: &str, source| Error::Io {
            action: action.to_owned(),
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error("creating lock folder for", e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| io_error("opening lock file", e))?;

        let started = Instant::now();
        let mut announced = false;
        loop {
            if file
                .try_lock_exclusive()
                .map_err(|e| io_error("locking", e))?
            {
                tracing::debug!(lock = %path.display(), purpose, "lock taken");
                return Ok(Self {
                    file,
                    path: path.to_path_buf(),
                });
            }
            if !announced {
                tracing::info!(
                    lock = %path.display(),
                    purpose,
                    "waiting for another harness process that holds the lock"
                );
                announced = true;
            }
            if started.elapsed() >= timeout {
                return Err(Error::LockTimeout {
                    path: path.to_path_buf(),
                    purpose: purpose.to_owned(),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if let Err(error) = FileExt::unlock(&self.file) {
            tracing::warn!(lock = %self.path.display(), %error, "releasing lock failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_holder_times_out_until_release() {
        let dir = std::env::temp_dir().join(format!("harness-lock-test-{}", std::process::id()));
        let path = dir.join("image.lock");

        let first = FileLock::acquire(&path, "test", Duration::from_secs(1))
            .await
            .expect("first lock should be taken");

        // flock locks belong to the open file description, so a second open in the same
        // process contends like another process would.
        let second = FileLock::acquire(&path, "test", Duration::from_millis(300)).await;
        assert!(
            matches!(second, Err(Error::LockTimeout { .. })),
            "second lock should time out while the first is held, got {second:?}"
        );

        drop(first);
        let third = FileLock::acquire(&path, "test", Duration::from_secs(1)).await;
        assert!(
            third.is_ok(),
            "lock should be free after release, got {third:?}"
        );

        drop(third);
        std::fs::remove_dir_all(&dir).expect("test folder should be removable");
    }
}
