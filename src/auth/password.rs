//! Password hashing: Argon2id for new hashes, bcrypt (`$2b$`, as fba stores them) accepted and
//! flagged for rehash. Every hash runs on a few dedicated threads of lower CPU priority, never on
//! an actix worker, so logins cannot starve authenticated requests; a missing user is verified
//! against a dummy hash so timing does not tell.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use std::sync::mpsc;
use std::sync::Mutex;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash is not Argon2id: store a fresh one now that the password is known.
    pub needs_rehash: bool,
}

#[derive(Clone)]
pub struct PasswordHasherPool {
    jobs: mpsc::Sender<Job>,
    dummy: Arc<String>,
    waiting: Arc<AtomicUsize>,
    verified: Arc<AtomicUsize>,
    /// Moving average of one verification, in microseconds.
    typical_micros: Arc<AtomicU64>,
}

impl PasswordHasherPool {
    /// `threads` hashing threads (0: half the cores, at least one).
    pub async fn new(threads: usize) -> Result<Self, HashError> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        };
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("portcullis-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match queue.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // the pool is gone
                        }
                    }
                })
                .map_err(|e| HashError::Failed(format!("cannot start a hashing thread: {e}")))?;
        }
        let pool = Self {
            jobs,
            dummy: Arc::new(String::new()),
            waiting: Arc::default(),
            verified: Arc::default(),
            typical_micros: Arc::default(),
        };
        let dummy = pool.hash(uuid::Uuid::new_v4().to_string()).await?;
        Ok(Self {
            dummy: Arc::new(dummy),
            ..pool
        })
    }

    /// Hashes waiting for a hashing thread right now.
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// How long a verification usually takes: answers that skip hashing (a locked account) wait
    /// this long so they cannot be told apart by time.
    pub fn typical_verify(&self) -> Duration {
        Duration::from_micros(self.typical_micros.load(Ordering::Relaxed))
    }

    /// Verifications done since start (a test and metrics hook).
    pub fn verifications(&self) -> usize {
        self.verified.load(Ordering::Relaxed)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let waiting = self.waiting.clone();
        let span = tracing::Span::current();
        waiting.fetch_add(1, Ordering::Relaxed);
        let job: Job = Box::new(move || {
            waiting.fetch_sub(1, Ordering::Relaxed);
            let _enter = span.enter();
            let _ = done.send(work());
        });
        self.jobs
            .send(job)
            .map_err(|_| HashError::Failed("hashing threads are gone".into()))?;
        answer
            .await
            .map_err(|_| HashError::Failed("a hashing thread dropped its job".into()))
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let typical = self.typical_micros.clone();
        self.blocking(move || {
            let _timing = Timing(Instant::now(), typical);
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| HashError::Failed(e.to_string()))
        })
        .await?
    }

    /// Verifies against `stored`, or against the dummy hash when there is none (unknown user,
    /// or an account without a password), so every path costs one hash.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        let real = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy.as_str().to_owned());
        self.verified.fetch_add(1, Ordering::Relaxed);
        let typical = self.typical_micros.clone();
        let (ok, needs_rehash) = self
            .blocking(move || {
                let _timing = Timing(Instant::now(), typical);
                if hash.starts_with("$2") {
                    (
                        bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false),
                        true,
                    )
                } else {
                    let ok = PasswordHash::new(&hash)
                        .map(|parsed| {
                            Argon2::default()
                                .verify_password(password.as_bytes(), &parsed)
                                .is_ok()
                        })
                        .unwrap_or(false);
                    (ok, false)
                }
            })
            .await?;
        Ok(Verified {
            ok: ok && real,
            needs_rehash: ok && real && needs_rehash,
        })
    }
}

/// Hashing threads yield to request handling: nice 10 (Linux sets it per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's id only changes its scheduling priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// On drop, folds the elapsed time into the moving average (weight 1/8).
struct Timing(Instant, Arc<AtomicU64>);

impl Drop for Timing {
    fn drop(&mut self) {
        let sample = self.0.elapsed().as_micros().min(u128::from(u32::MAX)) as u64;
        let old = self.1.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.1.store(new, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn argon2_round_trip_and_dummy_never_matches() {
        let pool = PasswordHasherPool::new(2).await.unwrap();
        let h = pool.hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        let v = pool
            .verify("correct horse".into(), Some(h.clone()))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(!pool.verify("wrong".into(), Some(h)).await.unwrap().ok);
        assert!(!pool.verify("anything".into(), None).await.unwrap().ok);
    }

    #[actix_web::test]
    async fn bcrypt_hashes_from_fba_verify_and_ask_for_rehash() {
        let pool = PasswordHasherPool::new(1).await.unwrap();
        let h = bcrypt::hash("123456", 4)
            .unwrap()
            .replacen("$2y$", "$2b$", 1);
        let v = pool.verify("123456".into(), Some(h.clone())).await.unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        assert!(!pool.verify("1234567".into(), Some(h)).await.unwrap().ok);
    }
}
