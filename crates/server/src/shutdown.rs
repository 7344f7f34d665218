//! The node-wide "draining" signal of a graceful shutdown: set once, on SIGTERM or Ctrl-C, and
//! watched by the listeners (stop accepting), readiness (fail) and every long-lived socket
//! (say goodbye), which also lets the drain know when the last socket is gone.

use std::sync::Arc;

use tokio::sync::watch;

/// The node-wide "we are draining" signal. The sender side lives in [`crate::app::AppState`]; every
/// long-lived socket holds a [`Draining`] for its whole life, so [`Shutdown::sockets_closed`]
/// knows when the last one has said goodbye.
#[derive(Clone, Debug)]
pub struct Shutdown {
    sender: Arc<watch::Sender<bool>>,
}

/// A socket's view of [`Shutdown`]; dropping it tells the drain this socket is gone.
#[derive(Debug)]
pub struct Draining {
    receiver: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Self {
            sender: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Starts the drain: readiness fails, listeners stop accepting, sockets close (idempotent).
    pub fn begin(&self) {
        self.sender.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        *self.sender.borrow()
    }

    /// A handle for one socket task (see [`Draining::started`]).
    pub fn watch(&self) -> Draining {
        Draining {
            receiver: self.sender.subscribe(),
        }
    }

    /// Resolves once every [`Draining`] handle has been dropped.
    pub async fn sockets_closed(&self) {
        self.sender.closed().await;
    }
}

impl Draining {
    /// Resolves when the drain begins (at once if it already has).
    pub async fn started(&mut self) {
        // An error means the sender is gone, which happens only when the server is.
        let _ = self.receiver.wait_for(|draining| *draining).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sockets_hear_the_drain_and_the_drain_hears_the_last_socket_leave() {
        let shutdown = Shutdown::new();
        let mut socket = shutdown.watch();
        assert!(!shutdown.is_draining());
        let waiting = tokio::time::timeout(Duration::from_millis(50), socket.started()).await;
        assert!(waiting.is_err(), "started before the drain");
        shutdown.begin();
        assert!(shutdown.is_draining());
        socket.started().await;
        let still_open = tokio::time::timeout(Duration::from_millis(50), shutdown.sockets_closed());
        assert!(
            still_open.await.is_err(),
            "drained with a socket still open"
        );
        drop(socket);
        shutdown.sockets_closed().await;
        // A socket opened after the drain began hears it at once.
        shutdown.watch().started().await;
    }
}
