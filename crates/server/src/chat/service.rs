//! The chat use cases: each applies the rules of [`super::domain`], calls storage, and publishes
//! the resulting events through the hub. Handlers call exactly one of these.
//!
//! Every change to a channel runs under that channel's order guard, from before it is stored
//! until after its event is published: a message is stored before anyone hears of it, and per
//! channel the events go out in storage order.

use std::collections::HashSet;

use crate::storage::chat::{
    self as store, MessageInsert, NewMessage, ThreadRoot, Timeline, UserSummary,
};
use crate::storage::reactions;
use crate::storage::Db;

use super::attachments::views_in_range;
use super::domain::{self, ChannelKind, ChatError, DeleteAction, NewChannel, PageRequest, Role};
use super::events::{
    reaction_views, ChannelListItem, ChannelView, Event, MemberView, MessageView, PeerView,
    ReactionView, ThreadReadView, ThreadView,
};
use super::hub::{ChatHub, Durability};

/// What the chat needs from the application: its storage and its hub.
#[derive(Clone, Copy)]
pub struct Chat<'a> {
    pub db: &'a Db,
    pub hub: &'a ChatHub,
}

/// The channels of an account about to be deleted: id, what happens to it, the other members.
#[derive(Debug)]
pub struct Departures {
    user_id: i64,
    channels: Vec<(i64, DeleteAction, Vec<i64>)>,
}

fn role_of(me: i64, row: &store::MembershipRow) -> Result<Role, ChatError> {
    Ok(Role {
        kind: parse_kind(&row.kind)?,
        is_owner: row.owner_id == Some(me),
    })
}

/// A message's text before an edit replaced it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EarlierVersion {
    pub text: String,
    /// When the edit that replaced it was made, unix ms.
    pub replaced_at: i64,
}

/// A page of history.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HistoryPage {
    pub messages: Vec<MessageView>,
    /// More messages exist beyond this page in the direction paged.
    pub has_more: bool,
    /// My read positions in the threads started by this page's messages, for those I follow.
    pub thread_reads: Vec<ThreadReadView>,
}

/// A page of a thread: its first message and replies.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ThreadPage {
    /// The message that started the thread (in the channel's timeline).
    pub root: MessageView,
    /// Replies in ascending id order.
    pub messages: Vec<MessageView>,
    /// More replies exist beyond this page in the direction paged.
    pub has_more: bool,
    /// My read position in the thread; absent when I do not follow it.
    pub last_read_id: Option<i64>,
}

/// Where a message goes: the channel's timeline or a thread, and the message it quotes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Placement {
    pub reply_to: Option<i64>,
    pub thread_root: Option<i64>,
}

/// A page of user search results.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UserPage {
    pub users: Vec<UserSummary>,
    /// Pass as `after` for the next page; absent on the last one.
    pub next: Option<String>,
}

/// Outcome of a send: the stored message and whether this call stored it (false on a retry).
#[derive(Debug)]
pub struct Sent {
    pub message: MessageView,
    pub created: bool,
}

impl Chat<'_> {
    /// `me`'s role in the channel, or 404 when it does not exist or `me` is not a member.
    pub async fn role(&self, me: i64, channel_id: i64) -> Result<Role, ChatError> {
        let row = store::membership(self.db, channel_id, me)
            .await?
            .ok_or(ChatError::ChannelNotFound)?;
        role_of(me, &row)
    }

    /// What deleting `user_id`'s account will do to each of its channels, worked out while
    /// the rows still exist (the deletion itself cascades in storage): the same rule as the
    /// user deleting or leaving each channel.
    pub async fn departures(&self, user_id: i64) -> Result<Departures, ChatError> {
        let mut channels = Vec::new();
        for (channel_id, row) in store::memberships_of(self.db, user_id).await? {
            let action = domain::delete_action(role_of(user_id, &row)?);
            let others: Vec<i64> = store::member_ids(self.db, channel_id)
                .await?
                .into_iter()
                .filter(|&m| m != user_id)
                .collect();
            channels.push((channel_id, action, others));
        }
        Ok(Departures { user_id, channels })
    }

    /// Tells the remaining members, once the account is gone: `channel.deleted` for its
    /// direct channels and the groups it owned, `member.removed` for the groups it was in.
    pub async fn announce_departures(&self, departures: Departures) {
        let user_id = departures.user_id;
        for (channel_id, action, others) in departures.channels {
            let event = match action {
                DeleteAction::DeleteChannel => Event::ChannelDeleted { channel_id },
                DeleteAction::Leave => Event::MemberRemoved {
                    channel_id,
                    user_id,
                },
            };
            self.hub
                .publish(&others, &event.to_json(), Durability::Durable)
                .await;
        }
    }

    /// The channel's member ids, or 404 when `me` is not one of them (or there is no channel).
    async fn member_ids_of(&self, me: i64, channel_id: i64) -> Result<Vec<i64>, ChatError> {
        let members = store::member_ids(self.db, channel_id).await?;
        if members.contains(&me) {
            Ok(members)
        } else {
            Err(ChatError::ChannelNotFound)
        }
    }

    /// Users whose username or full name starts with `q`, paginated by username.
    pub async fn search_users(
        &self,
        me: i64,
        q: &str,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<UserPage, ChatError> {
        let limit = domain::validate_user_search(q, limit)?;
        let after = after.map(str::to_lowercase);
        let users = store::search_users(
            self.db,
            me,
            &domain::like_prefix(q),
            after.as_deref(),
            limit,
        )
        .await?;
        let next = (users.len() == limit as usize)
            .then(|| users.last().map(|u| u.username.to_lowercase()))
            .flatten();
        Ok(UserPage { users, next })
    }

    /// Creates a group, or gets (creating if needed) the direct channel with one user.
    /// Returns the channel and whether it was created by this call.
    pub async fn create_channel(
        &self,
        me: i64,
        kind: ChannelKind,
        members: &[i64],
        name: Option<&str>,
        now: i64,
    ) -> Result<(ChannelView, bool), ChatError> {
        let request = domain::validate_new_channel(me, kind, members, name)?;
        let (id, created) = match request {
            NewChannel::Direct { peer } => self.get_or_create_direct(me, peer, now).await?,
            NewChannel::Group { name, members } => {
                self.require_users(&members).await?;
                let id = store::create_group(self.db, me, &name, &members, now).await?;
                (id, true)
            }
        };
        let _order = self.hub.order_guard(id).await;
        let view = self.channel_view(id).await?;
        if created {
            let recipients = member_ids(&view);
            self.hub
                .publish(
                    &recipients,
                    &Event::ChannelUpdated { channel: &view }.to_json(),
                    Durability::Durable,
                )
                .await;
        }
        Ok((view, created))
    }

    async fn get_or_create_direct(
        &self,
        me: i64,
        peer: i64,
        now: i64,
    ) -> Result<(i64, bool), ChatError> {
        if let Some(id) = store::find_direct(self.db, me, peer).await? {
            return Ok((id, false));
        }
        self.require_users(&[peer]).await?;
        self.require_not_blocked_by(me, peer).await?;
        if let Some(id) = store::create_direct(self.db, me, peer, now).await? {
            return Ok((id, true));
        }
        // A concurrent request created it between our lookup and insert.
        let id = store::find_direct(self.db, me, peer)
            .await?
            .ok_or_else(|| ChatError::Internal("direct channel vanished".into()))?;
        Ok((id, false))
    }

    async fn require_users(&self, ids: &[i64]) -> Result<(), ChatError> {
        let found: HashSet<i64> = store::existing_users(self.db, ids)
            .await?
            .into_iter()
            .collect();
        match ids.iter().find(|id| !found.contains(id)) {
            Some(&missing) => Err(ChatError::UserNotFound(missing)),
            None => Ok(()),
        }
    }

    /// My channels, newest activity first.
    pub async fn list_channels(&self, me: i64) -> Result<Vec<ChannelListItem>, ChatError> {
        let mut rows = store::list_channels(self.db, me).await?;
        rows.sort_by_key(|r| {
            std::cmp::Reverse((
                activity(r.channel.last_activity_at, r.channel.last_message_at),
                r.channel.id,
            ))
        });
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let last_message = match row.last_message_id {
                Some(mid) => {
                    self.with_attachments(store::message(self.db, row.channel.id, mid).await?)
                        .await?
                }
                None => None,
            };
            let kind = parse_kind(&row.channel.kind)?;
            let peer = if kind == ChannelKind::Direct {
                let other = store::members(self.db, row.channel.id)
                    .await?
                    .into_iter()
                    .map(|(user, _)| user)
                    .find(|user| user.id != me);
                match other {
                    Some(user) => Some(PeerView {
                        online: self.hub.is_online_anywhere(user.id).await,
                        user,
                    }),
                    None => None,
                }
            } else {
                None
            };
            let channel = row.channel;
            out.push(ChannelListItem {
                id: channel.id,
                kind: kind.as_str(),
                name: channel.name,
                owner_id: channel.owner_id,
                created_at: channel.created_at,
                last_activity_at: activity(channel.last_activity_at, channel.last_message_at),
                peer,
                last_message,
                last_read_id: row.last_read_id,
                unread: row.unread,
                unread_threads: row.unread_threads,
                muted: row.muted_at.is_some(),
                member_count: row.member_count,
            });
        }
        Ok(out)
    }

    /// A channel's details with its members.
    pub async fn channel(&self, me: i64, channel_id: i64) -> Result<ChannelView, ChatError> {
        self.role(me, channel_id).await?;
        self.channel_view(channel_id).await
    }

    async fn channel_view(&self, channel_id: i64) -> Result<ChannelView, ChatError> {
        let row = store::channel(self.db, channel_id)
            .await?
            .ok_or(ChatError::ChannelNotFound)?;
        let mut members = Vec::new();
        for (user, last_read_id) in store::members(self.db, channel_id).await? {
            members.push(MemberView {
                online: self.hub.is_online_anywhere(user.id).await,
                user,
                last_read_id,
            });
        }
        Ok(ChannelView {
            id: row.id,
            kind: parse_kind(&row.kind)?.as_str(),
            name: row.name,
            owner_id: row.owner_id,
            created_at: row.created_at,
            last_activity_at: activity(row.last_activity_at, row.last_message_at),
            members,
        })
    }

    /// Renames a group (owner only).
    pub async fn rename(
        &self,
        me: i64,
        channel_id: i64,
        name: &str,
        now: i64,
    ) -> Result<ChannelView, ChatError> {
        domain::can_rename(self.role(me, channel_id).await?)?;
        let name = domain::validate_name(name)?;
        let _order = self.hub.order_guard(channel_id).await;
        store::rename(self.db, channel_id, &name, now).await?;
        let view = self.channel_view(channel_id).await?;
        self.hub
            .publish(
                &member_ids(&view),
                &Event::ChannelUpdated { channel: &view }.to_json(),
                Durability::Durable,
            )
            .await;
        Ok(view)
    }

    /// Deletes the channel (group owner, either member of a direct channel) or leaves it.
    pub async fn delete_or_leave(&self, me: i64, channel_id: i64) -> Result<(), ChatError> {
        let role = self.role(me, channel_id).await?;
        match domain::delete_action(role) {
            DeleteAction::Leave => self.remove_member(me, channel_id, me).await,
            DeleteAction::DeleteChannel => {
                let _order = self.hub.order_guard(channel_id).await;
                let members = store::member_ids(self.db, channel_id).await?;
                store::delete_channel(self.db, channel_id).await?;
                self.hub
                    .publish(
                        &members,
                        &Event::ChannelDeleted { channel_id }.to_json(),
                        Durability::Durable,
                    )
                    .await;
                Ok(())
            }
        }
    }

    /// Adds a member to a group (owner only). Adding an existing member changes nothing.
    pub async fn add_member(
        &self,
        me: i64,
        channel_id: i64,
        user_id: i64,
        now: i64,
    ) -> Result<ChannelView, ChatError> {
        domain::can_add_member(self.role(me, channel_id).await?)?;
        let user = store::user_summary(self.db, user_id)
            .await?
            .ok_or(ChatError::UserNotFound(user_id))?;
        let _order = self.hub.order_guard(channel_id).await;
        let count = store::member_count(self.db, channel_id).await?;
        if count >= domain::MAX_GROUP_MEMBERS as i64 {
            return Err(ChatError::Invalid(format!(
                "A group holds at most {} members.",
                domain::MAX_GROUP_MEMBERS
            )));
        }
        if store::add_member(self.db, channel_id, user_id, now).await? {
            let members = store::member_ids(self.db, channel_id).await?;
            self.hub
                .publish(
                    &members,
                    &Event::MemberAdded {
                        channel_id,
                        user: &user,
                    }
                    .to_json(),
                    Durability::Durable,
                )
                .await;
        }
        self.channel_view(channel_id).await
    }

    /// Removes a member (owner), or leaves (anyone but the owner, on themselves).
    pub async fn remove_member(
        &self,
        me: i64,
        channel_id: i64,
        user_id: i64,
    ) -> Result<(), ChatError> {
        domain::can_remove_member(me, user_id, self.role(me, channel_id).await?)?;
        let _order = self.hub.order_guard(channel_id).await;
        // The removed user hears of it too, so their client drops the channel.
        let before = store::member_ids(self.db, channel_id).await?;
        if !store::remove_member(self.db, channel_id, user_id).await? {
            return Err(ChatError::UserNotFound(user_id));
        }
        self.hub
            .publish(
                &before,
                &Event::MemberRemoved {
                    channel_id,
                    user_id,
                }
                .to_json(),
                Durability::Durable,
            )
            .await;
        Ok(())
    }

    /// A page of the channel's timeline (ascending ids), thread replies left out.
    pub async fn history(
        &self,
        me: i64,
        channel_id: i64,
        page: PageRequest,
    ) -> Result<HistoryPage, ChatError> {
        self.role(me, channel_id).await?;
        let (messages, has_more) = self.page_of(channel_id, Timeline::Channel, page).await?;
        let thread_reads = match (messages.first(), messages.last()) {
            (Some(first), Some(last)) => store::thread_reads(self.db, me, first.id, last.id)
                .await?
                .into_iter()
                .map(|(root_id, last_read_id)| ThreadReadView {
                    root_id,
                    last_read_id,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(HistoryPage {
            messages,
            has_more,
            thread_reads,
        })
    }

    /// A page of a thread's replies, with its first message and my read position in it.
    pub async fn thread(
        &self,
        me: i64,
        channel_id: i64,
        root_id: i64,
        page: PageRequest,
    ) -> Result<ThreadPage, ChatError> {
        self.role(me, channel_id).await?;
        let root = self.message_view(channel_id, root_id).await?;
        if root.thread_root.is_some() {
            return Err(ChatError::MessageNotFound);
        }
        let (messages, has_more) = self
            .page_of(channel_id, Timeline::Thread(root_id), page)
            .await?;
        let last_read_id = store::thread_reads(self.db, me, root_id, root_id)
            .await?
            .first()
            .map(|&(_, read)| read);
        Ok(ThreadPage {
            root,
            messages,
            has_more,
            last_read_id,
        })
    }

    /// A page of messages with their reactions, attachments and (for thread roots) thread sizes.
    async fn page_of(
        &self,
        channel_id: i64,
        timeline: Timeline,
        page: PageRequest,
    ) -> Result<(Vec<MessageView>, bool), ChatError> {
        let (rows, has_more) = store::page(
            self.db,
            channel_id,
            timeline,
            page.before,
            page.after,
            page.limit,
            page.forwards(),
        )
        .await?;
        let mut messages: Vec<MessageView> = rows.into_iter().map(MessageView::from).collect();
        if let (Some(first), Some(last)) = (messages.first(), messages.last()) {
            let (first, last) = (first.id, last.id);
            let mut by_message =
                reaction_views(reactions::in_range(self.db, channel_id, first, last).await?);
            let mut files = views_in_range(self.db, channel_id, first, last).await?;
            let mut threads = self.threads_in_range(channel_id, first, last).await?;
            for m in &mut messages {
                m.reactions = by_message.remove(&m.id).unwrap_or_default();
                m.attachments = files.remove(&m.id).unwrap_or_default();
                m.thread = threads.remove(&m.id);
            }
        }
        Ok((messages, has_more))
    }

    async fn threads_in_range(
        &self,
        channel_id: i64,
        first: i64,
        last: i64,
    ) -> Result<std::collections::HashMap<i64, ThreadView>, ChatError> {
        Ok(store::thread_summaries(self.db, channel_id, first, last)
            .await?
            .into_iter()
            .map(|row| (row.root_id, ThreadView::from(row)))
            .collect())
    }

    /// Moves my read position in a thread forwards to `message_id` (one of its replies) and
    /// tells my other sockets. Returns the resulting position.
    pub async fn mark_thread_read(
        &self,
        me: i64,
        channel_id: i64,
        root_id: i64,
        message_id: i64,
    ) -> Result<i64, ChatError> {
        self.role(me, channel_id).await?;
        let reply = store::message(self.db, channel_id, message_id)
            .await?
            .ok_or(ChatError::MessageNotFound)?;
        if reply.thread_root != Some(root_id) {
            return Err(ChatError::Invalid(
                "message_id names no reply of this thread.".into(),
            ));
        }
        let position = store::mark_thread_read(self.db, root_id, me, message_id).await?;
        if position == message_id {
            self.hub
                .publish(
                    &[me],
                    &Event::ThreadRead {
                        channel_id,
                        root_id,
                        message_id,
                    }
                    .to_json(),
                    Durability::Durable,
                )
                .await;
        }
        Ok(position)
    }

    /// Mutes or unmutes a channel for me, and tells my other sockets.
    pub async fn set_muted(
        &self,
        me: i64,
        channel_id: i64,
        muted: bool,
        now: i64,
    ) -> Result<(), ChatError> {
        self.role(me, channel_id).await?;
        store::set_muted(self.db, channel_id, me, muted.then_some(now)).await?;
        self.hub
            .publish(
                &[me],
                &Event::ChannelMuted { channel_id, muted }.to_json(),
                Durability::Durable,
            )
            .await;
        Ok(())
    }

    /// One message of the channel as members see it, reactions included.
    async fn message_view(
        &self,
        channel_id: i64,
        message_id: i64,
    ) -> Result<MessageView, ChatError> {
        let row = store::message(self.db, channel_id, message_id).await?;
        let mut view = self
            .with_attachments(row)
            .await?
            .ok_or(ChatError::MessageNotFound)?;
        view.reactions = self.reactions_of(channel_id, message_id).await?;
        if view.thread_root.is_none() {
            view.thread = self
                .threads_in_range(channel_id, message_id, message_id)
                .await?
                .remove(&message_id);
        }
        Ok(view)
    }

    /// The view of a stored message with its attachments (no reactions).
    async fn with_attachments(
        &self,
        row: Option<store::MessageRow>,
    ) -> Result<Option<MessageView>, ChatError> {
        let Some(row) = row else { return Ok(None) };
        let mut view = MessageView::from(row);
        view.attachments = views_in_range(self.db, view.channel_id, view.id, view.id)
            .await?
            .remove(&view.id)
            .unwrap_or_default();
        Ok(Some(view))
    }

    async fn reactions_of(
        &self,
        channel_id: i64,
        message_id: i64,
    ) -> Result<Vec<ReactionView>, ChatError> {
        let rows = reactions::in_range(self.db, channel_id, message_id, message_id).await?;
        Ok(reaction_views(rows).remove(&message_id).unwrap_or_default())
    }

    /// Adds (`add`) or takes back my `emoji` on a message, then publishes the message's whole
    /// list of reactions as `reaction.updated` when it changed. Returns that list.
    pub async fn react(
        &self,
        me: i64,
        channel_id: i64,
        message_id: i64,
        emoji: &str,
        add: bool,
        now: i64,
    ) -> Result<Vec<ReactionView>, ChatError> {
        domain::validate_emoji(emoji)?;
        self.role(me, channel_id).await?;
        let _order = self.hub.order_guard(channel_id).await;
        let row = store::message(self.db, channel_id, message_id)
            .await?
            .ok_or(ChatError::MessageNotFound)?;
        if row.deleted_at.is_some() {
            return Err(ChatError::MessageNotFound);
        }
        let changed = if add {
            domain::can_add_reaction(
                &reactions::distinct_emoji(self.db, message_id).await?,
                emoji,
            )?;
            reactions::add(self.db, message_id, me, emoji, now).await?
        } else {
            reactions::remove(self.db, message_id, me, emoji).await?
        };
        let list = self.reactions_of(channel_id, message_id).await?;
        if changed {
            let members = store::member_ids(self.db, channel_id).await?;
            self.hub
                .publish(
                    &members,
                    &Event::ReactionUpdated {
                        channel_id,
                        message_id,
                        reactions: &list,
                    }
                    .to_json(),
                    Durability::Durable,
                )
                .await;
        }
        Ok(list)
    }

    /// Stores a message with the `attachments` `me` uploaded into this channel, then publishes
    /// `message.new` to every member. With a `client_id` already used by `me` in this channel,
    /// returns the stored message and publishes it again (see below).
    #[allow(clippy::too_many_arguments)]
    pub async fn send(
        &self,
        me: i64,
        channel_id: i64,
        text: &str,
        client_id: Option<&str>,
        place: Placement,
        attachments: &[i64],
        now: i64,
    ) -> Result<Sent, ChatError> {
        domain::validate_attachment_ids(attachments)?;
        let text = &domain::clean_text_beside(text, attachments)?;
        domain::validate_client_id(client_id)?;
        let _order = self.hub.order_guard(channel_id).await;
        // Membership changes take the same guard, so this list is both the permission check
        // and the exact set of recipients.
        let members = self.member_ids_of(me, channel_id).await?;
        self.check_direct_send(me, channel_id, &members).await?;
        let thread = match place.thread_root {
            Some(root_id) => {
                // A thread starts at a message of the channel's timeline: threads do not nest.
                let root = store::message(self.db, channel_id, root_id)
                    .await?
                    .filter(|root| root.thread_root.is_none())
                    .ok_or_else(|| {
                        ChatError::Invalid("thread_root names no message of this channel.".into())
                    })?;
                Some(ThreadRoot {
                    id: root.id,
                    author_id: root.author_id,
                })
            }
            None => None,
        };
        if let Some(answered) = place.reply_to {
            // Only a message of this very channel, and of the same thread (or the thread's
            // first message): a quote must be something its readers can jump to.
            let found = store::message(self.db, channel_id, answered).await?;
            let quotable = found.is_some_and(|m| {
                m.deleted_at.is_none()
                    && (m.thread_root == place.thread_root
                        || (place.thread_root == Some(m.id) && m.thread_root.is_none()))
            });
            if !quotable {
                return Err(ChatError::Invalid(
                    "reply_to names no message of this conversation or thread.".into(),
                ));
            }
        }
        // The unique (channel, author, client_id) key makes a retry fail to insert; only then
        // is the earlier message looked up, so a first send costs no extra query.
        let new = NewMessage {
            channel_id,
            author_id: me,
            client_id,
            text,
            reply_to: place.reply_to,
            thread,
            now,
        };
        let inserted = store::insert_message(self.db, &new, attachments).await?;
        let id = match inserted {
            MessageInsert::Stored(id) => id,
            MessageInsert::Duplicate => {
                let cid = client_id.unwrap_or_default();
                let existing = store::message_by_client_id(self.db, channel_id, me, cid)
                    .await?
                    .ok_or(ChatError::ClientIdConflict)?;
                let mut sent = retried(existing, text)?;
                sent.message = self.message_view(channel_id, sent.message.id).await?;
                // A node that died between storing the first attempt and publishing it left a
                // stored message nobody was told of; the retry (through any node) is the only
                // moment left to tell them. Clients ignore a message id they already have.
                if !sent.message.deleted {
                    self.hub
                        .publish(
                            &members,
                            &Event::MessageNew {
                                channel_id,
                                message: &sent.message,
                            }
                            .to_json(),
                            Durability::Durable,
                        )
                        .await;
                }
                return Ok(sent);
            }
            MessageInsert::AttachmentUnavailable => {
                return Err(ChatError::Invalid(
                    "An attachment is not one of your unsent uploads to this channel.".into(),
                ))
            }
        };
        let row = store::message(self.db, channel_id, id).await?;
        // A message without files costs no attachment query: sends are the hot path.
        let message = if attachments.is_empty() {
            row.map(MessageView::from)
        } else {
            self.with_attachments(row).await?
        }
        .ok_or(ChatError::MessageNotFound)?;
        self.hub
            .publish(
                &members,
                &Event::MessageNew {
                    channel_id,
                    message: &message,
                }
                .to_json(),
                Durability::Durable,
            )
            .await;
        Ok(Sent {
            message,
            created: true,
        })
    }

    /// Replaces the text of one of my messages.
    pub async fn edit(
        &self,
        me: i64,
        channel_id: i64,
        message_id: i64,
        text: &str,
        now: i64,
    ) -> Result<MessageView, ChatError> {
        let text = &domain::clean_text(text)?;
        self.role(me, channel_id).await?;
        let _order = self.hub.order_guard(channel_id).await;
        let row = store::message(self.db, channel_id, message_id)
            .await?
            .ok_or(ChatError::MessageNotFound)?;
        domain::can_change_message(me, row.author_id, row.deleted_at.is_some())?;
        store::edit_message(self.db, message_id, text, now, domain::MAX_EARLIER_VERSIONS).await?;
        let message = self.message_view(channel_id, message_id).await?;
        let members = store::member_ids(self.db, channel_id).await?;
        self.hub
            .publish(
                &members,
                &Event::MessageUpdated {
                    channel_id,
                    message: &message,
                }
                .to_json(),
                Durability::Durable,
            )
            .await;
        Ok(message)
    }

    /// The earlier versions of a message of a channel I am in, oldest first (none once it is
    /// deleted: its versions go with its text).
    pub async fn earlier_versions(
        &self,
        me: i64,
        channel_id: i64,
        message_id: i64,
    ) -> Result<Vec<EarlierVersion>, ChatError> {
        self.role(me, channel_id).await?;
        store::message(self.db, channel_id, message_id)
            .await?
            .ok_or(ChatError::MessageNotFound)?;
        Ok(store::message_edits(self.db, message_id)
            .await?
            .into_iter()
            .map(|row| EarlierVersion {
                text: row.text,
                replaced_at: row.replaced_at,
            })
            .collect())
    }

    /// Deletes one of my messages (its text is dropped, its id stays).
    pub async fn delete_message(
        &self,
        me: i64,
        channel_id: i64,
        message_id: i64,
        now: i64,
    ) -> Result<(), ChatError> {
        self.role(me, channel_id).await?;
        let _order = self.hub.order_guard(channel_id).await;
        let row = store::message(self.db, channel_id, message_id)
            .await?
            .ok_or(ChatError::MessageNotFound)?;
        domain::can_change_message(me, row.author_id, row.deleted_at.is_some())?;
        store::delete_message(self.db, message_id, now).await?;
        let message: MessageView = store::message(self.db, channel_id, message_id)
            .await?
            .ok_or(ChatError::MessageNotFound)?
            .into();
        let members = store::member_ids(self.db, channel_id).await?;
        self.hub
            .publish(
                &members,
                &Event::MessageDeleted {
                    channel_id,
                    message_id,
                    message: &message,
                }
                .to_json(),
                Durability::Durable,
            )
            .await;
        Ok(())
    }

    /// Moves my read position forwards to `message_id` (a message of this channel) and tells
    /// the other members. Returns the resulting position.
    pub async fn mark_read(
        &self,
        me: i64,
        channel_id: i64,
        message_id: i64,
    ) -> Result<i64, ChatError> {
        self.role(me, channel_id).await?;
        if store::message(self.db, channel_id, message_id)
            .await?
            .is_none()
        {
            return Err(ChatError::MessageNotFound);
        }
        let _order = self.hub.order_guard(channel_id).await;
        let position = store::mark_read(self.db, channel_id, me, message_id).await?;
        if position == message_id {
            let members = store::member_ids(self.db, channel_id).await?;
            self.hub
                .publish(
                    &members,
                    &Event::Read {
                        channel_id,
                        user_id: me,
                        message_id: position,
                    }
                    .to_json(),
                    Durability::Durable,
                )
                .await;
        }
        Ok(position)
    }

    /// Relays a typing indicator to the channel's other members (live only).
    pub async fn typing(&self, me: i64, channel_id: i64, on: bool) -> Result<(), ChatError> {
        let others: Vec<i64> = self
            .member_ids_of(me, channel_id)
            .await?
            .into_iter()
            .filter(|&id| id != me)
            .collect();
        self.hub
            .publish(
                &others,
                &Event::Typing {
                    channel_id,
                    user_id: me,
                    on,
                }
                .to_json(),
                Durability::Transient,
            )
            .await;
        Ok(())
    }

    /// Tells everyone sharing a channel with `user_id` whether the user is online now.
    pub async fn announce_presence(&self, user_id: i64) -> Result<(), ChatError> {
        let peers = store::peers(self.db, user_id).await?;
        if !peers.is_empty() {
            self.hub.publish_presence(user_id, &peers).await;
        }
        Ok(())
    }
}

fn retried(existing: store::MessageRow, text: &str) -> Result<Sent, ChatError> {
    // A deleted message has lost its text; the retry still names the same message.
    if existing.text != text && existing.deleted_at.is_none() && existing.edited_at.is_none() {
        return Err(ChatError::ClientIdConflict);
    }
    Ok(Sent {
        message: existing.into(),
        created: false,
    })
}

/// A channel's activity: its newest message, or its creation/rename if that is later.
fn activity(channel_changed: Option<i64>, last_message: Option<i64>) -> Option<i64> {
    channel_changed.max(last_message)
}

fn parse_kind(kind: &str) -> Result<ChannelKind, ChatError> {
    ChannelKind::parse(kind)
        .ok_or_else(|| ChatError::Internal(format!("bad channel kind {kind:?}").into()))
}

fn member_ids(view: &ChannelView) -> Vec<i64> {
    view.members.iter().map(|m| m.user.id).collect()
}
