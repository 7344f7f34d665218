//! The bounded pool that runs CPU-heavy work (argon2, image decoding, inference) off the async
//! runtime.
//!
//! At most `workers` jobs run at once on tokio's blocking threads; at most `queue` more wait for
//! a worker. A job arriving when both are full is refused at once with [`PoolBusy`] (the API
//! answers 503 + `Retry-After`) instead of queueing without bound.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// The pool is full: retry later.
#[derive(Debug, thiserror::Error)]
#[error("the blocking pool is full")]
pub struct PoolBusy;

/// Cheap to clone; all clones share the same limits.
#[derive(Clone, Debug)]
pub struct BlockingPool {
    admission: Arc<Semaphore>,
    workers: Arc<Semaphore>,
}

impl BlockingPool {
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        Self {
            admission: Arc::new(Semaphore::new(workers + queue)),
            workers: Arc::new(Semaphore::new(workers)),
        }
    }

    /// Runs `job` on a blocking thread once a worker is free, or fails with [`PoolBusy`] when
    /// the queue is full. A panic in `job` is resumed on the caller.
    pub async fn run<T, F>(&self, job: F) -> Result<T, PoolBusy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admitted = Arc::clone(&self.admission)
            .try_acquire_owned()
            .map_err(|_| PoolBusy)?;
        let worker = Arc::clone(&self.workers)
            .acquire_owned()
            .await
            .map_err(|_| PoolBusy)?;
        // The permits move into the job so they are held until it really ends, even when the
        // request that started it is dropped (client gone) while it runs.
        let handle = tokio::task::spawn_blocking(move || {
            let _permits = (admitted, worker);
            job()
        });
        match handle.await {
            Ok(value) => Ok(value),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(PoolBusy),
        }
    }
}

/// Work that can wait for idle CPU: one thread at the lowest CPU priority, so that its long
/// jobs (the multiple-face scan at the end of a live check, SSD MobileNetV1 at about 60 ms a
/// frame) never hold a worker that the frames of other live checks are queued for. At most
/// `queue` jobs wait; one more is refused with [`PoolBusy`].
#[derive(Clone, Debug)]
pub struct BackgroundLane {
    jobs: std::sync::mpsc::SyncSender<Box<dyn FnOnce() + Send>>,
}

impl BackgroundLane {
    pub fn start(queue: usize) -> Self {
        let (jobs, waiting) = std::sync::mpsc::sync_channel::<Box<dyn FnOnce() + Send>>(queue);
        // The thread ends when the last clone of the lane is dropped.
        std::thread::Builder::new()
            .name("background".into())
            .spawn(move || {
                lower_this_threads_priority();
                for job in waiting {
                    job();
                }
            })
            .expect("start the background thread");
        Self { jobs }
    }

    /// Runs `job` on the background thread, or fails with [`PoolBusy`] when the queue is full.
    /// A panic in `job` is resumed on the caller.
    pub async fn run<T, F>(&self, job: F) -> Result<T, PoolBusy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move || {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                // The caller may be gone (client left); nothing to tell then.
                let _ = done.send(outcome);
            }))
            .map_err(|_| PoolBusy)?;
        match result.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => Err(PoolBusy),
        }
    }
}

/// Nice 19: the scheduler gives the thread about 1/70 of a core while normal threads want the
/// cores, all of what they leave otherwise.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread's own id; on Linux a thread id
        // names that thread alone for setpriority.
        let failed = unsafe {
            let thread = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, 19) != 0
        };
        if failed {
            tracing::warn!("could not lower the background thread's priority");
        }
    }
}

/// Decoded pixels allowed in memory at once across every job, so that peak memory does not grow
/// with the number of large images in flight (a 25 MP PNG takes about 175 MB while it is
/// decoded and converted). A job takes its image's pixels before decoding it and gives them back
/// when done; it waits for them at most `wait`, then the request is refused as busy (503).
#[derive(Clone, Debug)]
pub struct PixelBudget {
    inner: Arc<(std::sync::Mutex<u64>, std::sync::Condvar)>,
    capacity: u64,
    wait: std::time::Duration,
}

/// Pixels taken from a [`PixelBudget`]; given back on drop.
#[derive(Debug)]
pub struct PixelPermit {
    budget: PixelBudget,
    pixels: u64,
}

impl PixelBudget {
    pub fn new(capacity: u64, wait: std::time::Duration) -> Self {
        Self {
            inner: Arc::new((std::sync::Mutex::new(0), std::sync::Condvar::new())),
            capacity,
            wait,
        }
    }

    /// Blocks (on a pool thread, never the async runtime) until `pixels` fit, for at most the
    /// budget's wait; `None` then. An image larger than the whole budget waits for it to be
    /// entirely free.
    pub fn acquire(&self, pixels: u64) -> Option<PixelPermit> {
        let pixels = pixels.min(self.capacity);
        let (lock, freed) = &*self.inner;
        let deadline = std::time::Instant::now() + self.wait;
        let mut used = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *used + pixels > self.capacity {
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            used = freed
                .wait_timeout(used, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        *used += pixels;
        Some(PixelPermit {
            budget: self.clone(),
            pixels,
        })
    }

    /// Pixels currently taken.
    pub fn in_use(&self) -> u64 {
        *self
            .inner
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for PixelPermit {
    fn drop(&mut self) {
        let (lock, freed) = &*self.budget.inner;
        let mut used = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *used = used.saturating_sub(self.pixels);
        freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::sync::mpsc;

    #[tokio::test]
    async fn job_result_is_returned() {
        let pool = BlockingPool::new(1, 0);
        assert_eq!(pool.run(|| 6 * 7).await.expect("run"), 42);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn full_queue_is_refused_instead_of_waiting() {
        let pool = BlockingPool::new(1, 1);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let busy = pool.clone();
        let running = tokio::spawn(async move {
            busy.run(move || {
                started_tx.send(()).ok();
                release_rx.recv().ok();
            })
            .await
        });
        tokio::task::spawn_blocking(move || started_rx.recv())
            .await
            .expect("join")
            .expect("started");
        let queued_pool = pool.clone();
        let queued = tokio::spawn(async move { queued_pool.run(|| 1).await });
        // Wait until the queued job holds its admission permit.
        while pool.admission.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert!(pool.run(|| 2).await.is_err(), "third job must be refused");
        release_tx.send(()).expect("release");
        running.await.expect("join").expect("first job");
        assert_eq!(queued.await.expect("join").expect("queued job"), 1);
    }

    #[tokio::test]
    async fn background_jobs_run_at_the_lowest_priority_and_a_full_queue_refuses() {
        let lane = BackgroundLane::start(1);
        #[cfg(target_os = "linux")]
        {
            // SAFETY: reads the calling thread's own priority.
            let nice = lane
                .run(|| unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as _) })
                .await
                .expect("run");
            assert_eq!(nice, 19);
        }
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let busy = lane.clone();
        let running = tokio::spawn(async move {
            busy.run(move || {
                started_tx.send(()).ok();
                release_rx.recv().ok();
                7
            })
            .await
        });
        tokio::task::spawn_blocking(move || started_rx.recv())
            .await
            .expect("join")
            .expect("started");
        // The one place in the queue is taken; the next job is refused at once.
        let mut queued = Box::pin(lane.run(|| 8));
        assert!((&mut queued).now_or_never().is_none(), "queued job ran");
        let refused = lane.run(|| 9).now_or_never().expect("answered at once");
        assert!(refused.is_err(), "a job beyond the queue was accepted");
        release_tx.send(()).expect("release");
        assert_eq!(running.await.expect("join").expect("first"), 7);
        assert_eq!(queued.await.expect("queued"), 8);
    }

    #[test]
    fn pixel_budget_admits_up_to_its_capacity_and_refuses_after_the_wait() {
        let budget = PixelBudget::new(100, std::time::Duration::from_millis(50));
        let a = budget.acquire(60).expect("fits");
        let b = budget.acquire(40).expect("fits exactly");
        assert_eq!(budget.in_use(), 100);
        assert!(budget.acquire(1).is_none(), "full: refused after the wait");
        drop(a);
        let c = budget.acquire(60).expect("room again");
        drop((b, c));
        assert_eq!(budget.in_use(), 0);
        // Larger than the whole budget: admitted alone.
        let huge = budget.acquire(1_000).expect("alone");
        assert_eq!(budget.in_use(), 100);
        drop(huge);
    }

    #[test]
    fn a_waiting_job_is_admitted_when_pixels_are_given_back() {
        let budget = PixelBudget::new(100, std::time::Duration::from_secs(5));
        let held = budget.acquire(100).expect("all");
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || budget.acquire(50).map(|p| p.pixels))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(held);
        assert_eq!(waiter.join().expect("join"), Some(50));
    }
}
