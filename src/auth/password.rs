//! Password hashing: Argon2id for new hashes, bcrypt (`$2b$`, as fba stores them) accepted and
//! flagged for rehash. Hashes run on a rayon pool of a few threads at lower CPU priority, never
//! on an actix worker, so logins cannot starve authenticated requests. The queue in front of it
//! is bounded: when it is full, a hash is refused at once (503 with `Retry-After`) rather than
//! letting one account's flood stall every login. A missing user is verified against a dummy
//! hash, so timing does not tell.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Failed(String),
    #[error("too many password hashes are waiting")]
    Busy,
}

impl From<HashError> for crate::error::ApiError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => {
                crate::error::ApiError::new(crate::error::kind::BUSY).with_retry_after(1)
            }
            e => crate::error::ApiError::internal(e),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash is not Argon2id: store a fresh one now that the password is known.
    pub needs_rehash: bool,
}

#[derive(Clone)]
pub struct PasswordHasher {
    pool: Arc<rayon::ThreadPool>,
    dummy: Arc<String>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    /// Moving average of one verification, in microseconds.
    typical_micros: Arc<AtomicU64>,
    metrics: Metrics,
}

impl PasswordHasher {
    /// `threads` hashing threads (0: half the cores, at least one); at most `max_waiting` hashes
    /// queued before new ones are refused.
    pub async fn new(
        threads: usize,
        max_waiting: usize,
        metrics: Metrics,
    ) -> Result<Self, HashError> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("portcullis-hash-{i}"))
            .start_handler(|_| lower_priority())
            .build()
            .map_err(|e| HashError::Failed(format!("cannot start the hashing threads: {e}")))?;
        let hasher = Self {
            pool: Arc::new(pool),
            dummy: Arc::new(String::new()),
            waiting: Arc::default(),
            max_waiting: max_waiting.max(1),
            typical_micros: Arc::default(),
            metrics,
        };
        let dummy = hasher.hash(uuid::Uuid::new_v4().to_string()).await?;
        Ok(Self {
            dummy: Arc::new(dummy),
            ..hasher
        })
    }

    /// How long a verification usually takes: answers that skip hashing (a locked account) wait
    /// this long so they cannot be told apart by time.
    pub fn typical_verify(&self) -> Duration {
        Duration::from_micros(self.typical_micros.load(Ordering::Relaxed))
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let waiting = self.waiting.clone();
        if waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            waiting.fetch_sub(1, Ordering::AcqRel);
            self.metrics.hash_refused();
            return Err(HashError::Busy);
        }
        self.metrics.hash_queued(1);
        let (done, answer) = tokio::sync::oneshot::channel();
        let metrics = self.metrics.clone();
        let span = tracing::Span::current();
        self.pool.spawn(move || {
            waiting.fetch_sub(1, Ordering::AcqRel);
            metrics.hash_queued(-1);
            let _enter = span.enter();
            let _ = done.send(work());
        });
        answer
            .await
            .map_err(|_| HashError::Failed("a hashing thread dropped its job".into()))
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let typical = self.typical_micros.clone();
        self.run(move || {
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
        let typical = self.typical_micros.clone();
        let (ok, needs_rehash) = self
            .run(move || {
                let _timing = Timing(Instant::now(), typical);
                if hash.starts_with("$2") {
                    (
                        bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false),
                        true,
                    )
                } else {
                    let ok = PasswordHash::new(&hash)
                        .is_ok_and(|parsed| verify_argon2(password.as_bytes(), &parsed));
                    (ok, false)
                }
            })
            .await?;
        self.metrics.hash_verified();
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

thread_local! {
    /// Each hashing thread's Argon2 memory (19 MiB at the defaults), kept from one verification
    /// to the next. Allocated afresh, as `verify_password` does, the kernel faulted in and
    /// zeroed every page of it on every login: a third of a login's CPU time.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// `PasswordVerifier::verify_password` for Argon2 PHC strings, on this thread's kept memory:
/// the same parameters, salt and comparison (constant time), with no allocation per call.
fn verify_argon2(password: &[u8], hash: &PasswordHash<'_>) -> bool {
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(hash.algorithm), Params::try_from(hash))
    else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let hashed = BLOCKS.with_borrow_mut(|blocks| {
        if blocks.len() < params.block_count() {
            blocks.resize(params.block_count(), Block::default());
        }
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..])
            .is_ok()
    });
    hashed && crate::crypto::ct_eq(&out, expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_memory_verifies_as_the_crate_does_whatever_the_parameters() {
        use argon2::password_hash::PasswordVerifier;
        let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
        let cases = [
            (
                Algorithm::Argon2id,
                Params::new(8192, 3, 1, Some(32)).unwrap(),
            ),
            (Algorithm::Argon2id, Params::default()),
            (
                Algorithm::Argon2i,
                Params::new(4096, 2, 2, Some(48)).unwrap(),
            ),
            (Algorithm::Argon2d, Params::new(1024, 1, 1, None).unwrap()),
        ];
        for (alg, params) in cases {
            let argon = Argon2::new(alg, Version::V0x13, params);
            let phc = argon
                .hash_password(b"right horse", &salt)
                .unwrap()
                .to_string();
            let parsed = PasswordHash::new(&phc).unwrap();
            for (pw, want) in [
                (&b"right horse"[..], true),
                (b"wrong horse", false),
                (b"", false),
            ] {
                let crate_says = Argon2::default().verify_password(pw, &parsed).is_ok();
                assert_eq!(crate_says, want, "{phc}");
                assert_eq!(verify_argon2(pw, &parsed), want, "{phc}");
            }
        }
        // A string whose hash was cut short never matches.
        let phc = Argon2::default()
            .hash_password(b"x", &salt)
            .unwrap()
            .to_string();
        let cut = &phc[..phc.len() - 8];
        assert!(!PasswordHash::new(cut).is_ok_and(|h| verify_argon2(b"x", &h)));
    }
    #[actix_web::test]
    async fn argon2_round_trip_and_dummy_never_matches() {
        let pool = PasswordHasher::new(2, 16, Metrics::default())
            .await
            .unwrap();
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
        let pool = PasswordHasher::new(1, 16, Metrics::default())
            .await
            .unwrap();
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

    #[actix_web::test]
    async fn a_full_queue_refuses_at_once() {
        let metrics = Metrics::default();
        let pool = PasswordHasher::new(1, 2, metrics.clone()).await.unwrap();
        let attempts: Vec<_> = (0..8).map(|i| pool.hash(format!("password {i}"))).collect();
        let results = futures_util::future::join_all(attempts).await;
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(HashError::Busy)))
            .count();
        assert!(busy >= 5, "{busy} of 8 refused with a queue of 2");
        assert!(results.iter().filter(|r| r.is_ok()).count() >= 2);
        assert!(metrics
            .render()
            .contains("portcullis_password_hash_refused_total"));
    }
}
