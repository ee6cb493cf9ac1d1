//! Password hashing with argon2id, off the async threads and with bounded
//! concurrency, because each hash uses `LV_ARGON2_MEMORY_KIB` of memory.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::config::Argon2Config;
use crate::error::{ApiError, ErrorCode};

/// Maximum wait for a hashing slot before the request fails with 503.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// Password shape used to build the hash for unknown emails at login.
const DUMMY_PASSWORD: &str = "dummy password for unknown emails";

/// Hashes and verifies passwords with the configured argon2id cost.
pub struct Passwords {
    argon2: Argon2<'static>,
    slots: Arc<Semaphore>,
    dummy_hash: OnceCell<String>,
}

impl Passwords {
    /// Builds a hasher; the configuration was checked when it was read.
    pub fn new(config: Argon2Config) -> Result<Self, argon2::Error> {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, config.params()?);
        let slots = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            argon2,
            slots: Arc::new(Semaphore::new(slots)),
            dummy_hash: OnceCell::new(),
        })
    }

    /// Hashes `password` with a new random salt into a PHC string
    /// (`$argon2id$v=19$m=...`).
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let argon2 = self.argon2.clone();
        self.run_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|err| anyhow::anyhow!("argon2 hashing failed: {err}"))
        })
        .await
    }

    /// Checks `password` against a stored PHC string. Without a stored hash
    /// (unknown email) it still runs one hash and returns `false`, so that
    /// both failures take about the same time.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        let (stored, known) = match stored {
            Some(stored) => (stored, true),
            None => (self.dummy_hash().await?.to_owned(), false),
        };

        let argon2 = self.argon2.clone();
        let matches = self
            .run_blocking(move || {
                let parsed = PasswordHash::new(&stored).map_err(|err| {
                    anyhow::anyhow!("stored password hash is not a PHC string: {err}")
                })?;
                Ok(argon2.verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await?;
        Ok(known && matches)
    }

    async fn dummy_hash(&self) -> Result<&str, ApiError> {
        let hash = self
            .dummy_hash
            .get_or_try_init(|| self.hash(DUMMY_PASSWORD.to_owned()))
            .await?;
        Ok(hash)
    }

    async fn run_blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> anyhow::Result<T> + Send + 'static,
    {
        let permit = tokio::time::timeout(QUEUE_TIMEOUT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| {
                ApiError::generic(ErrorCode::Unavailable).with_cause(anyhow::anyhow!(
                    "no password hashing slot free within {QUEUE_TIMEOUT:?}"
                ))
            })?
            .map_err(ApiError::internal)?;

        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(ApiError::internal)?;
        result.map_err(ApiError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        Passwords::new(Argon2Config {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .expect("cheap parameters are valid")
    }

    #[tokio::test]
    async fn hash_is_argon2id_phc() {
        let hash = cheap()
            .hash("correct horse".to_owned())
            .await
            .expect("hash");

        assert!(
            hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "hash: {hash}"
        );
        assert!(!hash.contains("correct horse"));
    }

    #[tokio::test]
    async fn verify_accepts_right_password() {
        let passwords = cheap();
        let hash = passwords.hash("correct horse".to_owned()).await.unwrap();

        let ok = passwords
            .verify("correct horse".to_owned(), Some(hash))
            .await
            .unwrap();

        assert!(ok);
    }

    #[tokio::test]
    async fn verify_rejects_wrong_password() {
        let passwords = cheap();
        let hash = passwords.hash("correct horse".to_owned()).await.unwrap();

        let ok = passwords
            .verify("wrong horse".to_owned(), Some(hash))
            .await
            .unwrap();

        assert!(!ok);
    }

    #[tokio::test]
    async fn verify_without_hash_is_false() {
        let passwords = cheap();

        let ok = passwords
            .verify(DUMMY_PASSWORD.to_owned(), None)
            .await
            .unwrap();

        assert!(!ok, "the dummy password must not log in an unknown email");
    }

    #[tokio::test]
    async fn salts_differ() {
        let passwords = cheap();

        let first = passwords.hash("same".to_owned()).await.unwrap();
        let second = passwords.hash("same".to_owned()).await.unwrap();

        assert_ne!(first, second);
    }
}
