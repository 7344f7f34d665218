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

#[cfg(test)]
mod tests {
    use super::*;
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
}
