//! Safety: blocking a person and reporting a message.
//!
//! A block is one-sided and quiet: the blocked person is not told. They can no longer open a
//! direct conversation with the blocker or send into the one they have (403), and the blocker no
//! longer sees their messages: unread counts and search leave them out here, and the page hides
//! them (it learns whom from `GET /api/blocks`). Groups are shared spaces: a blocked person still
//! writes there, only the blocker does not see it.
//!
//! A report copies the message as it is now, so the operators (`facegate admin reports`) read
//! what was written even after the author deletes it.

use crate::storage::chat::{self as chat_store, UserSummary};
use crate::storage::safety::{self as store, NewReport};

use super::domain::{ChannelKind, ChatError};
use super::service::Chat;

/// Longest report reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// The answer a blocked person gets when they try to write to the blocker.
pub const BLOCKED: ChatError =
    ChatError::Forbidden("This person does not accept direct messages from you.");

/// A report reason: 1..=[`MAX_REASON_CHARS`] characters, not only whitespace, bidirectional and
/// invisible characters dropped.
pub fn clean_reason(reason: &str) -> Result<String, ChatError> {
    let reason = crate::text::neutralise(reason);
    let chars = reason.chars().count();
    if reason.trim().is_empty() || chars > MAX_REASON_CHARS {
        return Err(ChatError::Invalid(format!(
            "A report says why in 1 to {MAX_REASON_CHARS} characters."
        )));
    }
    Ok(reason)
}

/// Outcome of a report: its id and whether this call stored it (false: reported before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    pub id: Option<i64>,
    pub created: bool,
}

impl Chat<'_> {
    /// `me` blocks `user`. Blocking twice changes nothing.
    pub async fn block(&self, me: i64, user: i64, now: i64) -> Result<(), ChatError> {
        if me == user {
            return Err(ChatError::Invalid("You cannot block yourself.".into()));
        }
        chat_store::user_summary(self.db, user)
            .await?
            .ok_or(ChatError::UserNotFound(user))?;
        store::block(self.db, me, user, now).await?;
        Ok(())
    }

    /// `me` lifts a block (none: nothing changes).
    pub async fn unblock(&self, me: i64, user: i64) -> Result<(), ChatError> {
        store::unblock(self.db, me, user).await?;
        Ok(())
    }

    /// The people `me` blocked.
    pub async fn blocked(&self, me: i64) -> Result<Vec<UserSummary>, ChatError> {
        Ok(store::blocked_by(self.db, me).await?)
    }

    /// Refuses a direct message from `me` to `peer` when `peer` blocked `me`.
    pub async fn require_not_blocked_by(&self, me: i64, peer: i64) -> Result<(), ChatError> {
        if store::is_blocked(self.db, peer, me).await? {
            return Err(BLOCKED);
        }
        Ok(())
    }

    /// For a send into `channel_id` with these `members`: refused when it is a direct channel
    /// whose other member blocked `me`. Costs a query only for two-member channels.
    pub async fn check_direct_send(
        &self,
        me: i64,
        channel_id: i64,
        members: &[i64],
    ) -> Result<(), ChatError> {
        let [a, b] = members else { return Ok(()) };
        let peer = if *a == me { *b } else { *a };
        let direct = chat_store::membership(self.db, channel_id, me)
            .await?
            .is_some_and(|m| ChannelKind::parse(&m.kind) == Some(ChannelKind::Direct));
        if direct {
            self.require_not_blocked_by(me, peer).await?;
        }
        Ok(())
    }

    /// `me` reports a message of a channel they are a member of (404 otherwise, and for a
    /// deleted message). Reporting the same message again returns the first report.
    pub async fn report(
        &self,
        me: i64,
        channel_id: i64,
        message_id: i64,
        reason: &str,
        now: i64,
    ) -> Result<Reported, ChatError> {
        let reason = clean_reason(reason)?;
        self.role(me, channel_id).await?;
        let message = chat_store::message(self.db, channel_id, message_id)
            .await?
            .filter(|m| m.deleted_at.is_none())
            .ok_or(ChatError::MessageNotFound)?;
        let new = NewReport {
            reporter_id: me,
            message_id,
            channel_id,
            author_id: message.author_id,
            author_name: &message.author_username,
            text: &message.text,
            reason: &reason,
        };
        let id = store::report(self.db, &new, now).await?;
        Ok(Reported {
            id,
            created: id.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_1_to_500_visible_characters() {
        assert_eq!(clean_reason("spam\u{202e}"), Ok("spam".into()));
        assert!(clean_reason(" \u{200b} ").is_err());
        assert!(clean_reason(&"x".repeat(MAX_REASON_CHARS)).is_ok());
        assert!(clean_reason(&"x".repeat(MAX_REASON_CHARS + 1)).is_err());
    }
}
