//! Argon2 behind a gate. Each hash takes ~19 MiB and a core for tens of milliseconds, so at
//! most one runs per CPU; a bounded queue waits behind them and past it callers get 429 with
//! Retry-After. A flood of registrations or share unlocks cannot then run the server out of
//! memory, and a login waits at most one queue's worth of hashes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// Checked when the username is unknown, so a wrong name costs as long as a wrong password.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Qf0Qh5q1Tq2VkXH2mZkM3Jw8b0VJ2y1yD4m0kq0m9xI";

pub struct PasswordGate {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    done: Arc<AtomicU64>,
}

/// Gives a queue place back however the waiting ends (served, or the client went away).
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordGate {
    /// `workers` hashes at once (0: one per CPU) and `max_waiting` callers queued behind them.
    pub fn new(workers: usize, max_waiting: usize) -> Self {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            workers
        };
        PasswordGate {
            running: Arc::new(Semaphore::new(workers)),
            waiting: AtomicUsize::new(0),
            max_waiting,
            done: Arc::new(AtomicU64::new(0)),
        }
    }

    async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> AppResult<R> + Send + 'static,
    ) -> AppResult<R> {
        let place = QueuePlace(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            return Err(AppError::RateLimited { retry_after: 1 });
        }
        let permit = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| AppError::internal(e, "password gate"))?;
        drop(place);
        let done = self.done.clone();
        // The permit travels with the work: a caller that goes away mid-hash cannot let
        // another hash start before this one ends.
        crate::db::run_blocking(move || {
            let _permit = permit;
            let result = work();
            done.fetch_add(1, Ordering::Relaxed);
            result
        })
        .await
    }

    /// Hashes and checks run so far (tests count the expensive work a request caused).
    pub fn runs(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let password = password.to_string();
        self.run(move || hash_now(&password)).await
    }

    /// Whether `password` matches `hash` (None: the dummy hash, same cost, always false).
    pub async fn verify(&self, password: &str, hash: Option<String>) -> AppResult<bool> {
        let password = password.to_string();
        self.run(move || {
            let real = hash.is_some();
            let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
            Ok(matches_now(&password, &hash) && real)
        })
        .await
    }
}

fn hash_now(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}"), "password hash"))
}

fn matches_now(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_the_dummy_never_matches() {
        let gate = PasswordGate::new(1, 4);
        let hash = gate.hash("User@1234").await.unwrap();
        assert!(gate.verify("User@1234", Some(hash.clone())).await.unwrap());
        assert!(!gate.verify("User@12345", Some(hash)).await.unwrap());
        assert!(!gate.verify("User@1234", None).await.unwrap());
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[tokio::test]
    async fn a_full_queue_answers_rate_limited() {
        let gate = Arc::new(PasswordGate::new(1, 2));
        let calls: Vec<_> = (0..12)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move { gate.hash("User@1234").await })
            })
            .collect();
        let mut limited = 0;
        for call in calls {
            if let Err(AppError::RateLimited { .. }) = call.await.unwrap() {
                limited += 1;
            }
        }
        assert!(
            limited > 0,
            "twelve at once cannot all fit one worker and two places"
        );
        assert_eq!(gate.waiting.load(Ordering::Acquire), 0);
        assert!(gate.hash("User@1234").await.is_ok(), "places come back");
    }
}
