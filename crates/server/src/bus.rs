//! The bus between nodes: one Redis shared by every node of a deployment.
//!
//! Redis rather than NATS because one service gives all three things the nodes share: a stream
//! (an ordered, bounded log every node reads and any node can replay from, for chat events and
//! session revocations), short locks (per-channel publish order across nodes) and atomic
//! counters with expiry (per-IP limits summed over the nodes). With NATS the counters would need
//! a second service.
//!
//! Layering: the bus knows nothing of chat or auth; it moves opaque entries and counts. Every
//! key starts with the configured prefix, so deployments (and test runs) can share one Redis.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::{StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, Script};

/// How long a reader waits on the stream before asking again (bounds the shutdown of a reader).
const READ_BLOCK_MS: usize = 1000;
/// A per-channel order lock expires on its own after this long, should its node die holding it.
const ORDER_LOCK_TTL_MS: u64 = 2000;
/// Bounds on one attempt to reach Redis and on one command's answer (the blocking read has a
/// connection of its own).
const BUS_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const BUS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Errors of the bus: the Redis cause is kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    #[error("bus (redis): {0}")]
    Redis(#[from] redis::RedisError),
    #[error("bus entry {id} is malformed")]
    Malformed { id: String },
}

/// What an entry of the stream carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A chat event kept for replay.
    Durable,
    /// A chat event delivered live only (typing).
    Transient,
    /// Close every socket of the session whose stored id hash is in `body`.
    EndSession,
    /// Close every socket of the user whose id is in `body`.
    EndUser,
    /// Tell the sockets of `recipients` (every socket when there are none) to reconnect: an
    /// event for them never reached the stream, and a reconnecting client catches up.
    Reconnect,
}

impl EntryKind {
    fn code(&self) -> &'static str {
        match self {
            EntryKind::Durable => "d",
            EntryKind::Transient => "t",
            EntryKind::EndSession => "s",
            EntryKind::EndUser => "u",
            EntryKind::Reconnect => "r",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "d" => EntryKind::Durable,
            "t" => EntryKind::Transient,
            "s" => EntryKind::EndSession,
            "u" => EntryKind::EndUser,
            "r" => EntryKind::Reconnect,
            _ => return None,
        })
    }
}

/// One entry of the stream. Its `seq` is the stream id's first part, handed out by one counter,
/// so it strictly increases across every node.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub kind: EntryKind,
    /// Sorted, deduplicated user ids (empty for control entries).
    pub recipients: Vec<i64>,
    pub body: String,
    /// When the appending node put it in the stream, unix ms (the nodes' clocks are assumed
    /// to agree, as NTP keeps them); `None` for entries of a version that did not record it.
    pub appended_at_ms: Option<i64>,
}

impl fmt::Debug for Entry {
    // A control entry's body is a session id hash: not for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("seq", &self.seq)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The entries after a `since`, or the news that some are gone.
#[derive(Debug)]
pub enum Range {
    /// Every entry in `(since, through]`, oldest first.
    Entries(Vec<Entry>),
    /// The stream no longer holds (or never held) every entry after `since`.
    Unavailable,
}

/// A connection to the bus. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    client: redis::Client,
    conn: ConnectionManager,
    keys: Keys,
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bus")
            .field("prefix", &self.keys.prefix)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Keys {
    prefix: String,
    stream: String,
    seq: String,
}

/// Appends an entry under the next sequence number. The counter starts at the current time in
/// microseconds, so a `since` from a wiped bus is (almost always) recognised as stale. The
/// number travels as a string: Lua numbers are doubles and would print it in exponent form.
const APPEND: &str = r"
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], ARGV[1]) end
redis.call('INCR', KEYS[2])
local seq = redis.call('GET', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'k', ARGV[3], 'r', ARGV[4], 'b', ARGV[5], 't', ARGV[6])
return seq
";

/// Deletes a lock only if this holder still owns it (it may have expired and been retaken).
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Whether any node that beat its heart recently holds a socket of the user.
const ONLINE: &str = r"
local nodes = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
for _, node in ipairs(nodes) do
  if redis.call('SISMEMBER', ARGV[3] .. node, ARGV[2]) == 1 then return 1 end
end
return 0
";

/// Counts one hit in the current window; the first hit starts the window's expiry.
const HIT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
";

impl Bus {
    /// Connects to `url` (`redis://host:port[/db]`); every key starts with `prefix`. Errors
    /// never contain the URL (it may hold a password).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, BusError> {
        let client = redis::Client::open(url)?;
        // While Redis is down every command fails fast instead of waiting out the manager's
        // default reconnection (6 attempts with doubling delays, no timeouts): a send makes
        // several bus calls (per-IP limit, order lock, publish), and with the defaults one send
        // took over a minute, holding its channel's order lock and every send queued behind it.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(BUS_CONNECT_TIMEOUT)
            .set_response_timeout(BUS_RESPONSE_TIMEOUT);
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(Self {
            client,
            conn,
            keys: Keys {
                prefix: prefix.to_owned(),
                stream: format!("{prefix}:events"),
                seq: format!("{prefix}:seq"),
            },
        })
    }

    /// Whether the bus answers (readiness).
    pub async fn ping(&self) -> Result<(), BusError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Appends an entry and returns its sequence number. The stream keeps about `keep` entries.
    pub async fn append(
        &self,
        kind: EntryKind,
        recipients: &[i64],
        body: &str,
        keep: usize,
    ) -> Result<u64, BusError> {
        let recipients = recipients
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut conn = self.conn.clone();
        let seq: String = Script::new(APPEND)
            .key(&self.keys.stream)
            .key(&self.keys.seq)
            .arg(now_micros())
            .arg(keep)
            .arg(kind.code())
            .arg(recipients)
            .arg(body)
            .arg(now_millis())
            .invoke_async(&mut conn)
            .await?;
        seq.parse().map_err(|_| BusError::Malformed { id: seq })
    }

    /// The last sequence number handed out (0 before the first entry).
    pub async fn current_seq(&self) -> Result<u64, BusError> {
        let mut conn = self.conn.clone();
        let seq: Option<u64> = conn.get(&self.keys.seq).await?;
        Ok(seq.unwrap_or(0))
    }

    /// The entries in `(since, through]`, or [`Range::Unavailable`] when the stream lost some
    /// of them (trimmed) or `since` is not one of its numbers.
    pub async fn range(&self, since: u64, through: u64) -> Result<Range, BusError> {
        if since > through {
            return Ok(Range::Unavailable);
        }
        if since == through {
            return Ok(Range::Entries(Vec::new()));
        }
        let mut conn = self.conn.clone();
        let first: StreamRangeReply = conn.xrange_count(&self.keys.stream, "-", "+", 1).await?;
        let first_seq = match first.ids.first() {
            Some(id) => parse_entry(id)?.seq,
            None => return Ok(Range::Unavailable),
        };
        if since.saturating_add(1) < first_seq {
            return Ok(Range::Unavailable);
        }
        let reply: StreamRangeReply = conn
            .xrange(
                &self.keys.stream,
                format!("{}-0", since + 1),
                format!("{through}-0"),
            )
            .await?;
        let entries = reply
            .ids
            .iter()
            .map(parse_entry)
            .collect::<Result<_, _>>()?;
        Ok(Range::Entries(entries))
    }

    /// A reader of the stream that starts after the entries present now.
    pub async fn reader(&self) -> Result<Reader, BusError> {
        let after = self.current_seq().await?;
        Ok(Reader {
            bus: self.clone(),
            conn: None,
            after,
        })
    }

    /// Takes the order lock `name` across nodes, waiting while another node holds it. The lock
    /// expires by itself after a short time should this node die holding it.
    pub async fn lock(&self, name: &str) -> Result<BusLock, BusError> {
        let key = format!("{}:lock:{name}", self.keys.prefix);
        let token = format!("{:x}", rand::random::<u64>());
        let mut conn = self.conn.clone();
        let mut wait = Duration::from_micros(200);
        loop {
            let taken: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(ORDER_LOCK_TTL_MS)
                .query_async(&mut conn)
                .await?;
            if taken.is_some() {
                return Ok(BusLock {
                    bus: self.clone(),
                    key,
                    token,
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(5));
        }
    }

    /// Counts one hit on `key` in a fixed window of `window`, summed over every node. Returns
    /// the count so far in this window and the time left in it.
    pub async fn hit(&self, key: &str, window: Duration) -> Result<(u64, Duration), BusError> {
        let mut conn = self.conn.clone();
        let (count, ttl_ms): (u64, i64) = Script::new(HIT)
            .key(format!("{}:limit:{key}", self.keys.prefix))
            .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1))
            .invoke_async(&mut conn)
            .await?;
        Ok((count, Duration::from_millis(ttl_ms.max(0) as u64)))
    }
}

/// Presence: each node keeps the set of users it holds sockets of, under a key that expires
/// unless the node's heartbeat renews it, so a crashed node stops counting after
/// [`PRESENCE_TTL`].
pub const PRESENCE_TTL: Duration = Duration::from_secs(30);

impl Bus {
    fn presence_key(&self, node: &str) -> String {
        format!("{}:presence:{node}", self.keys.prefix)
    }

    fn nodes_key(&self) -> String {
        format!("{}:nodes", self.keys.prefix)
    }

    /// Records that `node` holds a socket of `user_id` (or no longer does).
    pub async fn set_present(
        &self,
        node: &str,
        user_id: i64,
        present: bool,
    ) -> Result<(), BusError> {
        let mut conn = self.conn.clone();
        let key = self.presence_key(node);
        if present {
            redis::pipe()
                .sadd(&key, user_id)
                .pexpire(&key, PRESENCE_TTL.as_millis() as i64)
                .zadd(self.nodes_key(), node, now_millis())
                .query_async::<()>(&mut conn)
                .await?;
        } else {
            conn.srem::<_, _, ()>(&key, user_id).await?;
        }
        Ok(())
    }

    /// Replaces `node`'s whole set with `users` and renews its expiry (the heartbeat).
    pub async fn heartbeat(&self, node: &str, users: &[i64]) -> Result<(), BusError> {
        let mut conn = self.conn.clone();
        let key = self.presence_key(node);
        let mut pipe = redis::pipe();
        pipe.atomic().del(&key);
        if !users.is_empty() {
            pipe.sadd(&key, users)
                .pexpire(&key, PRESENCE_TTL.as_millis() as i64);
        }
        pipe.zadd(self.nodes_key(), node, now_millis())
            .zrembyscore(
                self.nodes_key(),
                0,
                now_millis() - PRESENCE_TTL.as_millis() as i64,
            )
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Whether a live node holds a socket of `user_id`.
    pub async fn is_present(&self, user_id: i64) -> Result<bool, BusError> {
        let mut conn = self.conn.clone();
        let online: i64 = Script::new(ONLINE)
            .key(self.nodes_key())
            .arg(now_millis() - PRESENCE_TTL.as_millis() as i64)
            .arg(user_id)
            .arg(format!("{}:presence:", self.keys.prefix))
            .invoke_async(&mut conn)
            .await?;
        Ok(online == 1)
    }
}

/// A held order lock; [`BusLock::release`] gives it back (dropping it lets it expire).
pub struct BusLock {
    bus: Bus,
    key: String,
    token: String,
}

impl BusLock {
    pub async fn release(self) -> Result<(), BusError> {
        let mut conn = self.bus.conn.clone();
        Script::new(UNLOCK)
            .key(&self.key)
            .arg(&self.token)
            .invoke_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }
}

/// Follows the stream in order. Its own connection, because a blocking read would hold up every
/// other command sharing a multiplexed one.
pub struct Reader {
    bus: Bus,
    conn: Option<MultiplexedConnection>,
    after: u64,
}

impl Reader {
    /// The next entries, oldest first; empty after a quiet second. After an error the next
    /// call reconnects and resumes after the last entry returned, so nothing is skipped while
    /// the stream still holds it.
    pub async fn next(&mut self) -> Result<Vec<Entry>, BusError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self
                .conn
                .insert(self.bus.client.get_multiplexed_async_connection().await?),
        };
        let options = StreamReadOptions::default()
            .block(READ_BLOCK_MS)
            .count(1000);
        let reply: Result<Option<StreamReadReply>, _> = conn
            .xread_options(
                &[&self.bus.keys.stream],
                &[format!("{}-0", self.after)],
                &options,
            )
            .await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(err) => {
                self.conn = None;
                return Err(err.into());
            }
        };
        let mut entries = Vec::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for id in &key.ids {
                let entry = parse_entry(id)?;
                self.after = entry.seq;
                entries.push(entry);
            }
        }
        Ok(entries)
    }
}

fn parse_entry(id: &redis::streams::StreamId) -> Result<Entry, BusError> {
    let malformed = || BusError::Malformed { id: id.id.clone() };
    let seq = id
        .id
        .split('-')
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(malformed)?;
    let field = |name: &str| id.get::<String>(name).ok_or_else(malformed);
    let kind = EntryKind::from_code(&field("k")?).ok_or_else(malformed)?;
    let recipients = field("r")?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| malformed()))
        .collect::<Result<_, _>>()?;
    Ok(Entry {
        seq,
        kind,
        recipients,
        body: field("b")?,
        appended_at_ms: id.get::<String>("t").and_then(|t| t.parse().ok()),
    })
}

/// The current time in unix milliseconds.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Microseconds since the epoch: where sequence numbers start, so a stale one reads as old.
pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2))
        .unwrap_or(0)
}
