//! facegate's HTTP and WebSocket service.
