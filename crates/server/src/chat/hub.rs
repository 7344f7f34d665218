//! The in-memory event hub: who is connected, and which events each connection gets.
//!
//! Every published event gets the next number of one global, strictly increasing sequence. The
//! hub serialises an event once and hands the same `Arc<str>` to every recipient's connection
//! queue. Durable events (everything but `typing`) are also kept in a bounded ring, so a client
//! that reconnects with `?since=<seq>` is replayed exactly the events it missed; when `since` is
//! older than the ring (or from another server run) the hub says so and the client catches up
//! through the history API instead.
//!
//! Memory stays bounded: each connection has a fixed-size queue, and a connection whose queue is
//! full is closed (reason [`CloseReason::TooSlow`]) instead of being buffered for.
//!
//! Publishing, ring insertion and queueing happen under one lock, so every connection receives
//! its events in sequence order, and replay plus live events never overlap or leave a gap.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::bus::{
    now_micros, Bus, BusError, BusLock, Entry, EntryKind, Range, Reader, PRESENCE_TTL,
};

/// Default number of durable events kept for `since` catch-up.
pub const DEFAULT_RING_CAPACITY: usize = 16_384;
/// Default number of events that may wait for one connection before it counts as too slow.
pub const DEFAULT_QUEUE_CAPACITY: usize = 256;

/// Sizes of the hub's bounded buffers.
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// Durable events kept for replay.
    pub ring_capacity: usize,
    /// Events queued per connection before it is closed as too slow.
    pub queue_capacity: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            ring_capacity: DEFAULT_RING_CAPACITY,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }
}

/// The server-side session a socket belongs to: the hex SHA-256 of the session id, as stored in
/// the `sessions` table. Lets logout close exactly that session's sockets.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(Arc<str>);

impl SessionKey {
    /// Wraps the stored id hash (never the raw session id).
    pub fn new(id_hash: &str) -> Self {
        Self(Arc::from(id_hash))
    }

    /// The stored id hash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey([redacted])")
    }
}

/// Why the hub closed a connection. The socket task turns it into a WebSocket close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client did not read its events fast enough and its queue filled up.
    TooSlow,
    /// The session logged out, expired or lost its `full` level.
    SessionEnded,
    /// The server is shutting down.
    Shutdown,
}

impl CloseReason {
    fn to_u8(self) -> u8 {
        match self {
            CloseReason::TooSlow => 1,
            CloseReason::SessionEnded => 2,
            CloseReason::Shutdown => 3,
        }
    }

    fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(CloseReason::TooSlow),
            2 => Some(CloseReason::SessionEnded),
            3 => Some(CloseReason::Shutdown),
            _ => None,
        }
    }
}

/// State shared between the hub's entry for a connection and the connection's task.
#[derive(Debug, Default)]
struct ConnShared {
    close_reason: AtomicU8,
}

/// The receiving end of one registered connection, owned by its socket task.
#[derive(Debug)]
pub struct Connection {
    id: u64,
    user_id: i64,
    rx: mpsc::Receiver<Arc<str>>,
    shared: Arc<ConnShared>,
    /// With a bus, live events up to this number were already covered by the hello or the
    /// replay (the bus reader may still be delivering them) and are skipped.
    skip_through: u64,
}

impl Connection {
    /// The hub-wide id of this connection.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The user this connection belongs to.
    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    /// The next event for this connection (a complete JSON text with its `seq`), or `None` once
    /// the hub has closed it; then [`Connection::close_reason`] says why.
    pub async fn next_event(&mut self) -> Option<Arc<str>> {
        if self.close_reason().is_some() {
            return None;
        }
        loop {
            let event = self.rx.recv().await?;
            // A connection closed as too slow or logged out must not keep draining its backlog.
            if self.close_reason().is_some() {
                return None;
            }
            if self.skip_through == 0 || seq_of(&event).is_none_or(|s| s > self.skip_through) {
                return Some(event);
            }
        }
    }

    /// Set once the hub has closed this connection.
    pub fn close_reason(&self) -> Option<CloseReason> {
        CloseReason::from_u8(self.shared.close_reason.load(Ordering::Acquire))
    }
}

/// What a client reconnecting with `since` gets before live events.
#[derive(Debug, PartialEq, Eq)]
pub enum Replay {
    /// The complete list of durable events after `since` addressed to this user, oldest first.
    Events(Vec<Arc<str>>),
    /// `since` is older than the ring or not from this server run: some events may be gone,
    /// the client must catch up through the history API.
    Unavailable,
}

/// Result of [`ChatHub::register`].
#[derive(Debug)]
pub struct Registration {
    pub connection: Connection,
    /// The sequence number of the last event published before this registration.
    pub seq: u64,
    /// Present when the client asked for `since`.
    pub replay: Option<Replay>,
    /// True when this is the user's only connection (the user just came online).
    pub first_for_user: bool,
}

/// Whether a published event is kept for `since` replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Kept in the ring (messages, reads, membership, presence).
    Durable,
    /// Delivered live only (typing indicators: stale ones are worthless).
    Transient,
}

/// The chat event hub. Cheap to clone: an `Arc` inside.
#[derive(Clone)]
pub struct ChatHub {
    inner: Arc<HubInner>,
}

struct HubInner {
    config: HubConfig,
    /// Set when nodes share a bus: events then go through its stream, and reach local sockets
    /// through this node's reader task only (see [`ChatHub::with_bus`]).
    bus: Option<Bus>,
    /// This node's name in the bus's presence records.
    node: String,
    /// This node's reader lost the stream for a while: events may have missed this node's
    /// sockets (see [`follow`]).
    bus_missed: AtomicBool,
    /// Who missed an event because the bus refused it when this node published: once the bus
    /// answers again, their sockets on every node are told to reconnect.
    unpublished: Mutex<Unpublished>,
    /// The longest time, in ms, from an entry's append to its delivery here since
    /// [`ChatHub::take_bus_lag`] last read it.
    bus_lag_ms: AtomicU64,
    next_conn_id: AtomicU64,
    state: Mutex<HubState>,
    /// Striped per-channel locks held across "store, then publish", so that per channel the
    /// publish order (and so every client's delivery order) equals the storage order.
    order_locks: Box<[tokio::sync::Mutex<()>]>,
}

/// Number of per-channel order lock stripes; channels sharing a stripe merely serialise.
const ORDER_STRIPES: usize = 64;

struct HubState {
    /// Last sequence number handed out.
    seq: u64,
    /// Every durable event with a sequence number <= this may be missing from the ring.
    evicted_through: u64,
    ring: VecDeque<RingEntry>,
    users: HashMap<i64, Vec<ConnEntry>>,
    sessions: HashMap<SessionKey, Vec<(i64, u64)>>,
}

struct RingEntry {
    seq: u64,
    /// Sorted, deduplicated user ids.
    recipients: Arc<[i64]>,
    payload: Arc<str>,
}

struct ConnEntry {
    id: u64,
    session: SessionKey,
    tx: mpsc::Sender<Arc<str>>,
    shared: Arc<ConnShared>,
}

impl fmt::Debug for ChatHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatHub")
            .field("connections", &self.connection_count())
            .finish_non_exhaustive()
    }
}

impl Default for ChatHub {
    fn default() -> Self {
        Self::new()
    }
}

impl ChatHub {
    /// A hub with the default buffer sizes.
    pub fn new() -> Self {
        Self::with_config(HubConfig::default())
    }

    /// A hub with the given buffer sizes. Sequence numbers start at the current time in
    /// microseconds, so numbers from an earlier run of the server are (almost always) below the
    /// new ones and a stale `since` is recognised as unavailable rather than misread.
    pub fn with_config(config: HubConfig) -> Self {
        Self::build(config, now_micros(), None)
    }

    #[cfg(test)]
    fn with_start_seq(config: HubConfig, start: u64) -> Self {
        Self::build(config, start, None)
    }

    fn build(config: HubConfig, start: u64, bus: Option<Bus>) -> Self {
        let config = HubConfig {
            ring_capacity: config.ring_capacity.max(1),
            queue_capacity: config.queue_capacity.max(1),
        };
        Self {
            inner: Arc::new(HubInner {
                config,
                bus,
                node: format!("{:016x}", rand::random::<u64>()),
                bus_missed: AtomicBool::new(false),
                unpublished: Mutex::new(Unpublished::default()),
                bus_lag_ms: AtomicU64::new(0),
                next_conn_id: AtomicU64::new(1),
                order_locks: (0..ORDER_STRIPES)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
                state: Mutex::new(HubState {
                    seq: start,
                    evicted_through: start,
                    ring: VecDeque::with_capacity(config.ring_capacity.min(1024)),
                    users: HashMap::new(),
                    sessions: HashMap::new(),
                }),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // The state stays consistent at every await-free step, so a panic elsewhere while the
        // lock was held leaves nothing half-done worth refusing service for.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Serialises the changes of one channel: hold the guard from before storing a change until
    /// after its event is published. With a bus the stripe is also locked across nodes, so the
    /// stream order of a channel's events is its storage order whichever node stored them.
    pub async fn order_guard(&self, channel_id: i64) -> OrderGuard<'_> {
        let stripe = channel_id.rem_euclid(ORDER_STRIPES as i64) as usize;
        // The local lock first: one waiter per node on the bus lock, the rest queue here.
        let local = self.inner.order_locks[stripe].lock().await;
        let remote = match &self.inner.bus {
            Some(bus) => match bus.lock(&format!("order:{stripe}")).await {
                Ok(lock) => Some(lock),
                Err(err) => {
                    tracing::warn!(%err, "bus order lock unavailable; publishing unordered");
                    None
                }
            },
            None => None,
        };
        OrderGuard {
            _local: local,
            remote,
        }
    }

    /// The last sequence number handed out.
    pub fn current_seq(&self) -> u64 {
        self.lock().seq
    }

    /// Registers a new connection of `user_id` opened by `session`. With `since`, the
    /// registration also carries the durable events after `since` for this user; live events
    /// start right after them, with nothing lost or repeated in between.
    pub fn register(&self, user_id: i64, session: SessionKey, since: Option<u64>) -> Registration {
        let id = self.inner.next_conn_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.inner.config.queue_capacity);
        let shared = Arc::new(ConnShared::default());
        let mut state = self.lock();
        let replay = since.map(|since| state.replay(user_id, since));
        let conns = state.users.entry(user_id).or_default();
        let first_for_user = conns.is_empty();
        conns.push(ConnEntry {
            id,
            session: session.clone(),
            tx,
            shared: Arc::clone(&shared),
        });
        state
            .sessions
            .entry(session)
            .or_default()
            .push((user_id, id));
        Registration {
            connection: Connection {
                id,
                user_id,
                rx,
                shared,
                skip_through: 0,
            },
            seq: state.seq,
            replay,
            first_for_user,
        }
    }

    /// Removes a connection (its socket ended). Returns true when it was the user's last one,
    /// i.e. the user just went offline. Unknown or already-closed connections return false.
    pub fn unregister(&self, connection: &Connection) -> bool {
        let mut state = self.lock();
        state
            .remove(connection.user_id, connection.id)
            .unwrap_or(false)
    }

    /// Publishes one event to every connection of `recipients` and returns its sequence number.
    ///
    /// `body` must be a JSON object (`{"type":...}`); the hub prepends `"seq":N`. Connections
    /// whose queue is full are closed as [`CloseReason::TooSlow`].
    pub fn publish_local(&self, recipients: &[i64], body: &str, durability: Durability) -> u64 {
        let recipients = normalise_recipients(recipients);
        let mut state = self.lock();
        state.seq += 1;
        let seq = state.seq;
        let payload: Arc<str> = Arc::from(with_seq(seq, body));
        state.deliver(&recipients, &payload);
        if durability == Durability::Durable {
            state.remember(
                self.inner.config.ring_capacity,
                RingEntry {
                    seq,
                    recipients: recipients.into(),
                    payload,
                },
            );
        }
        seq
    }

    /// Publishes a presence event for `user_id` to `peers`, stating whether the user is online
    /// at this very moment. Reading the state under the hub lock keeps a quick
    /// connect/disconnect from ending with a stale "online" delivered last.
    fn publish_presence_local(&self, user_id: i64, peers: &[i64]) -> u64 {
        let recipients = normalise_recipients(peers);
        let mut state = self.lock();
        let online = state.users.get(&user_id).is_some_and(|c| !c.is_empty());
        state.seq += 1;
        let seq = state.seq;
        let body = format!(r#"{{"type":"presence","user_id":{user_id},"online":{online}}}"#);
        let payload: Arc<str> = Arc::from(with_seq(seq, &body));
        state.deliver(&recipients, &payload);
        state.remember(
            self.inner.config.ring_capacity,
            RingEntry {
                seq,
                recipients: recipients.into(),
                payload,
            },
        );
        seq
    }

    /// Closes every socket opened by `session` (logout, expiry, loss of the `full` level).
    /// Returns how many were closed.
    pub fn close_session(&self, session: &SessionKey) -> usize {
        let mut state = self.lock();
        let Some(conns) = state.sessions.remove(session) else {
            return 0;
        };
        conns
            .into_iter()
            .filter(|&(user, id)| state.close(user, id, CloseReason::SessionEnded))
            .count()
    }

    /// Closes every socket of `user_id` (account deleted). Returns how many were closed.
    pub fn close_user(&self, user_id: i64) -> usize {
        self.close_user_with(user_id, CloseReason::SessionEnded)
    }

    /// Closes every socket of `user_id` for `reason`. Returns how many were closed.
    fn close_user_with(&self, user_id: i64, reason: CloseReason) -> usize {
        let mut state = self.lock();
        let ids: Vec<u64> = match state.users.get(&user_id) {
            Some(conns) => conns.iter().map(|c| c.id).collect(),
            None => return 0,
        };
        ids.into_iter()
            .filter(|&id| state.close(user_id, id, reason))
            .count()
    }

    /// Closes every socket (server shutdown).
    pub fn close_all(&self) -> usize {
        let mut state = self.lock();
        let all: Vec<(i64, u64)> = state
            .users
            .iter()
            .flat_map(|(&user, conns)| conns.iter().map(move |c| (user, c.id)))
            .collect();
        all.into_iter()
            .filter(|&(user, id)| state.close(user, id, CloseReason::Shutdown))
            .count()
    }

    /// Whether `user_id` has at least one open socket.
    pub fn is_online(&self, user_id: i64) -> bool {
        self.lock()
            .users
            .get(&user_id)
            .is_some_and(|c| !c.is_empty())
    }

    /// Number of open sockets.
    pub fn connection_count(&self) -> usize {
        self.lock().users.values().map(Vec::len).sum()
    }
}

/// The order lock of one channel stripe, on this node and (with a bus) across nodes.
pub struct OrderGuard<'a> {
    _local: tokio::sync::MutexGuard<'a, ()>,
    remote: Option<BusLock>,
}

impl Drop for OrderGuard<'_> {
    fn drop(&mut self) {
        if let Some(lock) = self.remote.take() {
            tokio::spawn(async move {
                if let Err(err) = lock.release().await {
                    // It expires by itself shortly; until then the stripe waits.
                    tracing::warn!(%err, "releasing a bus order lock failed");
                }
            });
        }
    }
}

/// Entry points that go through the bus when there is one, and stay in process otherwise.
impl ChatHub {
    /// A hub whose events travel through `bus`, so that every node's sockets receive them in
    /// the stream's order, and whose `since` replay any node can serve. Spawns this node's
    /// reader of the stream; it ends a second after the hub is dropped.
    pub async fn with_bus(config: HubConfig, bus: Bus) -> Result<Self, BusError> {
        let reader = bus.reader().await?;
        let hub = Self::build(config, now_micros(), Some(bus));
        tokio::spawn(follow(Arc::downgrade(&hub.inner), reader));
        tokio::spawn(beat(Arc::downgrade(&hub.inner)));
        Ok(hub)
    }

    /// The bus, when nodes share one.
    pub fn bus(&self) -> Option<&Bus> {
        self.inner.bus.as_ref()
    }

    /// Publishes one event to every connection of `recipients`, on every node. Returns its
    /// sequence number (0 when the bus failed: then the event is lost to live sockets, and
    /// once the bus is back the recipients' sockets on every node are told to reconnect, which
    /// makes their clients catch up through the history API).
    pub async fn publish(&self, recipients: &[i64], body: &str, durability: Durability) -> u64 {
        let Some(bus) = &self.inner.bus else {
            return self.publish_local(recipients, body, durability);
        };
        let kind = match durability {
            Durability::Durable => EntryKind::Durable,
            Durability::Transient => EntryKind::Transient,
        };
        let recipients = normalise_recipients(recipients);
        match bus
            .append(kind, &recipients, body, self.inner.config.ring_capacity)
            .await
        {
            Ok(seq) => seq,
            Err(err) => {
                tracing::warn!(%err, "publishing a chat event on the bus failed");
                if durability == Durability::Durable {
                    self.unpublished().add(&recipients);
                }
                0
            }
        }
    }

    /// Publishes a presence event for `user_id` to `peers`, stating whether the user is online
    /// at this very moment.
    pub async fn publish_presence(&self, user_id: i64, peers: &[i64]) -> u64 {
        if self.inner.bus.is_none() {
            return self.publish_presence_local(user_id, peers);
        }
        let online = self.is_online_anywhere(user_id).await;
        let body = format!(r#"{{"type":"presence","user_id":{user_id},"online":{online}}}"#);
        self.publish(peers, &body, Durability::Durable).await
    }

    /// Registers a connection like [`ChatHub::register`]; with a bus the replay comes from the
    /// bus's stream, so it works whichever node served the previous connection.
    pub async fn connect(
        &self,
        user_id: i64,
        session: SessionKey,
        since: Option<u64>,
    ) -> Registration {
        let Some(bus) = &self.inner.bus else {
            return self.register(user_id, session, since);
        };
        // Register first, then read the stream: an event is then in the replay, or live, or
        // both (the overlap is skipped by `skip_through`), never in neither.
        let mut registration = self.register(user_id, session, None);
        if registration.first_for_user {
            if let Err(err) = bus.set_present(&self.inner.node, user_id, true).await {
                tracing::warn!(%err, "recording presence on the bus failed");
            }
        }
        let through = match bus.current_seq().await {
            Ok(seq) => seq,
            Err(err) => {
                tracing::warn!(%err, "reading the bus position failed");
                registration.replay = since.map(|_| Replay::Unavailable);
                return registration;
            }
        };
        registration.seq = through;
        registration.connection.skip_through = through;
        if let Some(since) = since {
            registration.replay = Some(match bus.range(since, through).await {
                Ok(Range::Entries(entries)) => Replay::Events(
                    entries
                        .into_iter()
                        .filter(|e| e.kind == EntryKind::Durable)
                        .filter(|e| e.recipients.binary_search(&user_id).is_ok())
                        .map(|e| Arc::from(with_seq(e.seq, &e.body)))
                        .collect(),
                ),
                Ok(Range::Unavailable) => Replay::Unavailable,
                Err(err) => {
                    tracing::warn!(%err, "replaying from the bus failed");
                    Replay::Unavailable
                }
            });
        }
        registration
    }

    /// Removes a connection like [`ChatHub::unregister`], and with a bus this node's presence
    /// record of the user when it was their last socket here. True when it was.
    pub async fn disconnect(&self, connection: &Connection) -> bool {
        let last = self.unregister(connection);
        if let (true, Some(bus)) = (last, &self.inner.bus) {
            let user_id = connection.user_id;
            if let Err(err) = bus.set_present(&self.inner.node, user_id, false).await {
                tracing::warn!(%err, "clearing presence on the bus failed");
            }
        }
        last
    }

    /// Whether `user_id` has a socket on this node or, with a bus, on any live node.
    pub async fn is_online_anywhere(&self, user_id: i64) -> bool {
        if self.is_online(user_id) {
            return true;
        }
        let Some(bus) = &self.inner.bus else {
            return false;
        };
        bus.is_present(user_id).await.unwrap_or_else(|err| {
            tracing::warn!(%err, "reading presence from the bus failed");
            false
        })
    }

    /// Closes every socket opened by `session`, on every node (logout, password change).
    pub async fn end_session(&self, session: &SessionKey) {
        self.close_session(session);
        self.tell_nodes(EntryKind::EndSession, session.as_str())
            .await;
    }

    /// Closes every socket of `user_id`, on every node (account deleted).
    pub async fn end_user(&self, user_id: i64) {
        self.close_user(user_id);
        self.tell_nodes(EntryKind::EndUser, &user_id.to_string())
            .await;
    }

    /// Puts a control entry on the bus, if there is one; the other nodes act on it as they read.
    async fn tell_nodes(&self, kind: EntryKind, body: &str) {
        let Some(bus) = &self.inner.bus else {
            return;
        };
        let keep = self.inner.config.ring_capacity;
        if let Err(err) = bus.append(kind, &[], body, keep).await {
            tracing::warn!(%err, "announcing a session or account end on the bus failed");
        }
    }

    /// The longest delay from an entry's append to its hand-over to this node's sockets since
    /// the previous call (zero without a bus or without entries); read at each metrics scrape.
    pub fn take_bus_lag(&self) -> Duration {
        Duration::from_millis(self.inner.bus_lag_ms.swap(0, Ordering::Relaxed))
    }

    /// Hands one stream entry to this node's sockets.
    fn apply(&self, entry: Entry) {
        if let Some(appended) = entry.appended_at_ms {
            let lag = u64::try_from(crate::bus::now_millis() - appended).unwrap_or(0);
            self.inner.bus_lag_ms.fetch_max(lag, Ordering::Relaxed);
        }
        match entry.kind {
            EntryKind::Durable | EntryKind::Transient => {
                let payload: Arc<str> = Arc::from(with_seq(entry.seq, &entry.body));
                self.lock().deliver(&entry.recipients, &payload);
            }
            EntryKind::EndSession => {
                self.close_session(&SessionKey::new(&entry.body));
            }
            EntryKind::EndUser => {
                if let Ok(user_id) = entry.body.parse() {
                    self.close_user(user_id);
                }
            }
            EntryKind::Reconnect if entry.recipients.is_empty() => {
                self.close_all();
            }
            EntryKind::Reconnect => {
                for &user_id in &entry.recipients {
                    self.close_user_with(user_id, CloseReason::Shutdown);
                }
            }
        }
    }

    fn unpublished(&self) -> MutexGuard<'_, Unpublished> {
        // The set stays consistent whatever a panicking holder did: it is only added to.
        self.inner
            .unpublished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Once the bus takes entries again: asks every node to make the sockets of whoever missed
    /// an unpublished event reconnect. Kept for the next try when the bus refuses this too.
    async fn announce_unpublished(&self, bus: &Bus) {
        let missed = std::mem::take(&mut *self.unpublished());
        let recipients = match &missed {
            Unpublished::None => return,
            Unpublished::Users(users) => users.iter().copied().collect::<Vec<_>>(),
            Unpublished::Everyone => Vec::new(),
        };
        let keep = self.inner.config.ring_capacity;
        match bus
            .append(EntryKind::Reconnect, &recipients, "", keep)
            .await
        {
            Ok(_) => tracing::warn!(
                users = recipients.len(),
                everyone = recipients.is_empty(),
                "the bus answers again; sockets that missed an event told to reconnect"
            ),
            Err(err) => {
                tracing::warn!(%err, "asking nodes to reconnect missed sockets failed; retrying");
                self.unpublished().merge(missed);
            }
        }
    }
}

/// The users who missed an event the bus refused, up to [`Unpublished::MAX_USERS`]; past that,
/// everyone (one reconnect of every socket costs less than an entry listing a crowd).
#[derive(Debug, Default)]
enum Unpublished {
    #[default]
    None,
    Users(BTreeSet<i64>),
    Everyone,
}

impl Unpublished {
    const MAX_USERS: usize = 10_000;

    fn add(&mut self, users: &[i64]) {
        // An event for nobody missed nobody; an empty list would read as "everyone".
        if users.is_empty() {
            return;
        }
        match self {
            Unpublished::Everyone => {}
            Unpublished::None => {
                *self = Unpublished::Users(users.iter().copied().collect());
                self.cap();
            }
            Unpublished::Users(set) => {
                set.extend(users.iter().copied());
                self.cap();
            }
        }
    }

    fn merge(&mut self, other: Unpublished) {
        match other {
            Unpublished::None => {}
            Unpublished::Everyone => *self = Unpublished::Everyone,
            Unpublished::Users(users) => self.add(&users.into_iter().collect::<Vec<_>>()),
        }
    }

    fn cap(&mut self) {
        if matches!(self, Unpublished::Users(set) if set.len() > Self::MAX_USERS) {
            *self = Unpublished::Everyone;
        }
    }
}

/// This node's reader of the bus: delivers every entry to local sockets in stream order.
///
/// While the bus is down, events published anywhere may be lost (a restarted Redis may also
/// have lost its stream). Messages are stored all the same, so once the bus answers again
/// sockets are told to reconnect (1012, as at shutdown): a client catches up through the
/// replay and the history API on reconnecting, which it would otherwise never do.
/// - When this node's reader lost the stream, every socket of this node.
/// - When the bus refused an event this node published (while the other nodes may have been
///   reading fine), the sockets of that event's recipients on every node (a `Reconnect` entry).
async fn follow(hub: Weak<HubInner>, mut reader: Reader) {
    loop {
        let batch = reader.next().await;
        let Some(inner) = hub.upgrade() else {
            return;
        };
        let hub = ChatHub { inner };
        match batch {
            Ok(entries) => {
                entries.into_iter().for_each(|e| hub.apply(e));
                if let Some(bus) = &hub.inner.bus {
                    hub.announce_unpublished(bus).await;
                }
                if hub.inner.bus_missed.swap(false, Ordering::SeqCst) {
                    let told = hub.close_all();
                    tracing::warn!(
                        sockets = told,
                        "the bus answers again; sockets told to reconnect and catch up"
                    );
                }
            }
            Err(err) => {
                hub.inner.bus_missed.store(true, Ordering::SeqCst);
                tracing::warn!(%err, "reading the bus failed; retrying");
                drop(hub);
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        }
    }
}

/// Renews this node's presence record on the bus well within its expiry, so that it lapses
/// only when the node is gone. Also repairs a record a failed update left wrong.
async fn beat(hub: Weak<HubInner>) {
    let mut ticker = tokio::time::interval(PRESENCE_TTL / 3);
    loop {
        ticker.tick().await;
        let Some(inner) = hub.upgrade() else {
            return;
        };
        let hub = ChatHub { inner };
        let users: Vec<i64> = hub.lock().users.keys().copied().collect();
        if let Some(bus) = &hub.inner.bus {
            if let Err(err) = bus.heartbeat(&hub.inner.node, &users).await {
                tracing::warn!(%err, "presence heartbeat on the bus failed");
            }
        }
    }
}

impl HubState {
    fn replay(&self, user_id: i64, since: u64) -> Replay {
        if since < self.evicted_through || since > self.seq {
            return Replay::Unavailable;
        }
        let start = self.ring.partition_point(|e| e.seq <= since);
        let events = self
            .ring
            .range(start..)
            .filter(|e| e.recipients.binary_search(&user_id).is_ok())
            .map(|e| Arc::clone(&e.payload))
            .collect();
        Replay::Events(events)
    }

    fn deliver(&mut self, recipients: &[i64], payload: &Arc<str>) {
        let mut too_slow = Vec::new();
        for user in recipients {
            let Some(conns) = self.users.get(user) else {
                continue;
            };
            for conn in conns {
                if conn.tx.try_send(Arc::clone(payload)).is_err() {
                    too_slow.push((*user, conn.id));
                }
            }
        }
        for (user, id) in too_slow {
            self.close(user, id, CloseReason::TooSlow);
        }
    }

    fn remember(&mut self, capacity: usize, entry: RingEntry) {
        while self.ring.len() >= capacity {
            match self.ring.pop_front() {
                Some(old) => self.evicted_through = old.seq,
                None => break,
            }
        }
        self.ring.push_back(entry);
    }

    /// Marks the connection closed and forgets it. Returns false if it was already gone.
    fn close(&mut self, user_id: i64, id: u64, reason: CloseReason) -> bool {
        let Some(conns) = self.users.get(&user_id) else {
            return false;
        };
        let Some(conn) = conns.iter().find(|c| c.id == id) else {
            return false;
        };
        // Set before the sender is dropped, so the task sees the reason when its queue ends.
        conn.shared
            .close_reason
            .store(reason.to_u8(), Ordering::Release);
        self.remove(user_id, id).is_some()
    }

    /// Forgets a connection; `Some(last_for_user)` if it was registered.
    fn remove(&mut self, user_id: i64, id: u64) -> Option<bool> {
        let conns = self.users.get_mut(&user_id)?;
        let pos = conns.iter().position(|c| c.id == id)?;
        let entry = conns.swap_remove(pos);
        let last = conns.is_empty();
        if last {
            self.users.remove(&user_id);
        }
        if let Some(list) = self.sessions.get_mut(&entry.session) {
            list.retain(|&(_, conn)| conn != id);
            if list.is_empty() {
                self.sessions.remove(&entry.session);
            }
        }
        Some(last)
    }
}

fn normalise_recipients(recipients: &[i64]) -> Vec<i64> {
    let mut sorted = recipients.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

/// The `seq` of a payload made by [`with_seq`].
fn seq_of(payload: &str) -> Option<u64> {
    let digits = payload.strip_prefix("{\"seq\":")?;
    let end = digits.find(|c: char| !c.is_ascii_digit())?;
    digits[..end].parse().ok()
}

/// `{"type":...}` becomes `{"seq":N,"type":...}`.
fn with_seq(seq: u64, body: &str) -> String {
    let rest = body.strip_prefix('{').unwrap_or(body);
    let mut out = String::with_capacity(body.len() + 24);
    out.push_str("{\"seq\":");
    out.push_str(&seq.to_string());
    if rest.trim_start().starts_with('}') {
        out.push_str(rest);
    } else {
        out.push(',');
        out.push_str(rest);
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_unpublished_event_makes_only_its_recipients_reconnect_and_a_crowd_everyone() {
        let mut missed = Unpublished::default();
        missed.add(&[]);
        assert!(
            matches!(missed, Unpublished::None),
            "an event for nobody must not reconnect everyone: {missed:?}"
        );
        missed.add(&[3, 1]);
        missed.add(&[1, 2]);
        assert!(matches!(&missed, Unpublished::Users(u) if u.iter().eq(&[1, 2, 3])));
        let crowd: Vec<i64> = (0..=Unpublished::MAX_USERS as i64).collect();
        missed.add(&crowd);
        assert!(matches!(missed, Unpublished::Everyone));
        let mut retried = Unpublished::default();
        retried.merge(Unpublished::Users([7].into()));
        retried.merge(Unpublished::None);
        assert!(matches!(&retried, Unpublished::Users(u) if u.iter().eq(&[7])));
        retried.merge(Unpublished::Everyone);
        assert!(matches!(retried, Unpublished::Everyone));
    }
    use super::*;

    fn hub(ring: usize, queue: usize) -> ChatHub {
        ChatHub::with_start_seq(
            HubConfig {
                ring_capacity: ring,
                queue_capacity: queue,
            },
            100,
        )
    }

    fn key(s: &str) -> SessionKey {
        SessionKey::new(s)
    }

    fn drain(conn: &mut Connection) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(ev) = conn.rx.try_recv() {
            out.push(ev.to_string());
        }
        out
    }

    #[test]
    fn events_carry_increasing_seq_and_reach_only_recipients() {
        let hub = hub(16, 16);
        let mut a = hub.register(1, key("a"), None).connection;
        let mut b = hub.register(2, key("b"), None).connection;
        let s1 = hub.publish_local(&[1, 2], r#"{"type":"x","n":1}"#, Durability::Durable);
        let s2 = hub.publish_local(&[2], r#"{"type":"x","n":2}"#, Durability::Durable);
        assert!(s2 > s1);
        assert_eq!(
            drain(&mut a),
            vec![format!(r#"{{"seq":{s1},"type":"x","n":1}}"#)]
        );
        assert_eq!(
            drain(&mut b),
            vec![
                format!(r#"{{"seq":{s1},"type":"x","n":1}}"#),
                format!(r#"{{"seq":{s2},"type":"x","n":2}}"#)
            ]
        );
    }

    #[test]
    fn every_connection_of_a_user_gets_the_event_once() {
        let hub = hub(16, 16);
        let mut a1 = hub.register(1, key("a1"), None).connection;
        let mut a2 = hub.register(1, key("a2"), None).connection;
        hub.publish_local(&[1, 1, 1], r#"{"type":"x"}"#, Durability::Durable);
        assert_eq!(drain(&mut a1).len(), 1);
        assert_eq!(drain(&mut a2).len(), 1);
    }

    #[test]
    fn replay_returns_exactly_the_missed_events_of_the_user() {
        let hub = hub(16, 16);
        let s1 = hub.publish_local(&[1], r#"{"type":"m","n":1}"#, Durability::Durable);
        hub.publish_local(&[2], r#"{"type":"m","n":2}"#, Durability::Durable);
        hub.publish_local(&[1], r#"{"type":"typing"}"#, Durability::Transient);
        let s4 = hub.publish_local(&[1, 2], r#"{"type":"m","n":4}"#, Durability::Durable);
        let reg = hub.register(1, key("a"), Some(s1));
        match reg.replay {
            Some(Replay::Events(events)) => {
                assert_eq!(events.len(), 1);
                assert!(events[0].starts_with(&format!(r#"{{"seq":{s4},"#)));
            }
            other => panic!("expected events, got {other:?}"),
        }
        assert_eq!(reg.seq, s4);
    }

    #[test]
    fn replay_then_live_events_leave_no_gap() {
        let hub = hub(16, 16);
        let s1 = hub.publish_local(&[1], r#"{"type":"m"}"#, Durability::Durable);
        let mut reg = hub.register(1, key("a"), Some(s1 - 1));
        let s2 = hub.publish_local(&[1], r#"{"type":"m"}"#, Durability::Durable);
        let Some(Replay::Events(replayed)) = reg.replay else {
            panic!("replay expected");
        };
        assert_eq!(replayed.len(), 1);
        let live = drain(&mut reg.connection);
        assert_eq!(live.len(), 1);
        assert!(live[0].starts_with(&format!(r#"{{"seq":{s2},"#)));
    }

    #[test]
    fn replay_is_unavailable_once_the_ring_dropped_needed_events() {
        let hub = hub(2, 16);
        let s1 = hub.publish_local(&[1], r#"{"type":"m"}"#, Durability::Durable);
        hub.publish_local(&[1], r#"{"type":"m"}"#, Durability::Durable);
        hub.publish_local(&[1], r#"{"type":"m"}"#, Durability::Durable);
        // s1 itself was evicted; since = s1 still works (it only needs s1+1..), since = s1-1 not.
        assert!(matches!(
            hub.register(1, key("a"), Some(s1)).replay,
            Some(Replay::Events(ref e)) if e.len() == 2
        ));
        assert_eq!(
            hub.register(1, key("b"), Some(s1 - 1)).replay,
            Some(Replay::Unavailable)
        );
    }

    #[test]
    fn replay_from_the_future_or_an_earlier_run_is_unavailable() {
        let hub = hub(16, 16);
        hub.publish_local(&[1], r#"{"type":"m"}"#, Durability::Durable);
        assert_eq!(
            hub.register(1, key("a"), Some(10)).replay,
            Some(Replay::Unavailable)
        );
        assert_eq!(
            hub.register(1, key("a"), Some(u64::MAX)).replay,
            Some(Replay::Unavailable)
        );
    }

    #[test]
    fn a_connection_whose_queue_fills_is_closed_as_too_slow() {
        let hub = hub(16, 2);
        let mut slow = hub.register(1, key("a"), None).connection;
        let mut fast = hub.register(2, key("b"), None).connection;
        for _ in 0..3 {
            hub.publish_local(&[1, 2], r#"{"type":"m"}"#, Durability::Durable);
            drain(&mut fast);
        }
        assert_eq!(slow.close_reason(), Some(CloseReason::TooSlow));
        assert!(!hub.is_online(1));
        assert!(hub.is_online(2));
        assert_eq!(fast.close_reason(), None);
        // Nothing more is queued for the closed connection.
        hub.publish_local(&[1], r#"{"type":"m"}"#, Durability::Durable);
        assert_eq!(drain(&mut slow).len(), 2);
    }

    #[tokio::test]
    async fn a_closed_connection_stops_yielding_events_at_once() {
        let hub = hub(16, 8);
        let mut conn = hub.register(1, key("s"), None).connection;
        hub.publish_local(&[1], r#"{"type":"m"}"#, Durability::Durable);
        assert_eq!(hub.close_session(&key("s")), 1);
        assert_eq!(conn.next_event().await, None);
        assert_eq!(conn.close_reason(), Some(CloseReason::SessionEnded));
    }

    #[test]
    fn close_session_closes_only_that_sessions_sockets() {
        let hub = hub(16, 8);
        let s1a = hub.register(1, key("s1"), None).connection;
        let s1b = hub.register(1, key("s1"), None).connection;
        let s2 = hub.register(1, key("s2"), None).connection;
        assert_eq!(hub.close_session(&key("s1")), 2);
        assert_eq!(s1a.close_reason(), Some(CloseReason::SessionEnded));
        assert_eq!(s1b.close_reason(), Some(CloseReason::SessionEnded));
        assert_eq!(s2.close_reason(), None);
        assert_eq!(hub.connection_count(), 1);
        assert_eq!(hub.close_session(&key("s1")), 0);
    }

    #[test]
    fn close_user_closes_every_socket_of_the_user() {
        let hub = hub(16, 8);
        let a = hub.register(1, key("s1"), None).connection;
        let b = hub.register(1, key("s2"), None).connection;
        let other = hub.register(2, key("s3"), None).connection;
        assert_eq!(hub.close_user(1), 2);
        assert!(a.close_reason().is_some() && b.close_reason().is_some());
        assert_eq!(other.close_reason(), None);
    }

    #[test]
    fn first_and_last_connection_of_a_user_are_reported() {
        let hub = hub(16, 8);
        let r1 = hub.register(1, key("s1"), None);
        let r2 = hub.register(1, key("s2"), None);
        assert!(r1.first_for_user);
        assert!(!r2.first_for_user);
        assert!(!hub.unregister(&r1.connection));
        assert!(hub.unregister(&r2.connection));
        assert!(!hub.unregister(&r2.connection));
        assert!(!hub.is_online(1));
    }

    #[test]
    fn presence_states_the_current_online_state() {
        let hub = hub(16, 8);
        let mut peer = hub.register(2, key("p"), None).connection;
        let reg = hub.register(1, key("s"), None);
        hub.unregister(&reg.connection);
        hub.publish_presence_local(1, &[2]);
        let got = drain(&mut peer);
        assert_eq!(got.len(), 1);
        assert!(got[0].ends_with(r#""type":"presence","user_id":1,"online":false}"#));
    }

    #[test]
    fn with_seq_handles_empty_objects() {
        assert_eq!(with_seq(7, "{}"), r#"{"seq":7}"#);
        assert_eq!(with_seq(7, r#"{"a":1}"#), r#"{"seq":7,"a":1}"#);
    }
}
