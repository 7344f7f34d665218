//! Chat rules as plain functions: what a valid message, channel or page request is, and who may
//! do what. No I/O here; the service applies these before touching storage.

/// Longest message text, in characters (Unicode scalar values), as the issue states.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Largest history page.
pub const MAX_PAGE_LIMIT: u32 = 100;
/// History page size when the client gives none.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// Longest group name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest idempotency key a client may attach to a send.
pub const MAX_CLIENT_ID_CHARS: usize = 64;
/// Most members one group may hold; keeps one message's fan-out bounded.
pub const MAX_GROUP_MEMBERS: usize = 1000;
/// Longest user search query, in characters.
pub const MAX_QUERY_CHARS: usize = 100;
/// Most different emoji on one message; keeps a message's row of reactions (and its event) small.
pub const MAX_REACTIONS_PER_MESSAGE: usize = 20;
/// Longest reaction, in characters: enough for a family or a flag (ZWJ and tag sequences).
pub const MAX_EMOJI_CHARS: usize = 16;
/// How much of the answered message a reply carries, in characters.
pub const REPLY_QUOTE_CHARS: usize = 200;
/// Most earlier versions kept of one message; older ones go as it is edited again.
pub const MAX_EARLIER_VERSIONS: i64 = 20;
/// Most attachments one message carries.
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;

// The failures of the chat use cases are part of the one error model (`crate::error`).
pub use crate::error::{ChatError, InternalCause};

/// The two kinds of channel.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Exactly two members, at most one channel per pair, no owner.
    Direct,
    /// A name, an owner and any number of members up to [`MAX_GROUP_MEMBERS`].
    Group,
}

impl ChannelKind {
    /// The value stored in `chat_channels.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Direct => "direct",
            ChannelKind::Group => "group",
        }
    }

    /// Parses the stored value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "direct" => Some(ChannelKind::Direct),
            "group" => Some(ChannelKind::Group),
            _ => None,
        }
    }
}

/// What the caller is in a channel, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    pub kind: ChannelKind,
    pub is_owner: bool,
}

/// A validated request to create a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewChannel {
    Direct { peer: i64 },
    Group { name: String, members: Vec<i64> },
}

/// Checks a create request from `me`: a direct channel names exactly one other user; a group
/// needs a name and gets `me` as owner and member (duplicates and `me` are dropped from the
/// member list).
pub fn validate_new_channel(
    me: i64,
    kind: ChannelKind,
    members: &[i64],
    name: Option<&str>,
) -> Result<NewChannel, ChatError> {
    match kind {
        ChannelKind::Direct => {
            let [peer] = members else {
                return Err(invalid("A direct channel names exactly one other member."));
            };
            if *peer == me {
                return Err(invalid(
                    "A direct channel needs another user than yourself.",
                ));
            }
            if name.is_some() {
                return Err(invalid("A direct channel has no name."));
            }
            Ok(NewChannel::Direct { peer: *peer })
        }
        ChannelKind::Group => {
            let name = validate_name(name.unwrap_or_default())?;
            let mut others: Vec<i64> = members.iter().copied().filter(|&m| m != me).collect();
            others.sort_unstable();
            others.dedup();
            if others.len() + 1 > MAX_GROUP_MEMBERS {
                return Err(invalid(&format!(
                    "A group holds at most {MAX_GROUP_MEMBERS} members."
                )));
            }
            Ok(NewChannel::Group {
                name,
                members: others,
            })
        }
    }
}

/// The key that makes a direct channel unique per pair, whichever side creates it.
pub fn direct_key(a: i64, b: i64) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

/// A group name: 1..=[`MAX_NAME_CHARS`] characters, not only whitespace, no control characters.
/// Returned neutralised (bidirectional and invisible characters dropped, see
/// [`crate::text::neutralise`]) but otherwise as given (not trimmed): text is data.
pub fn validate_name(name: &str) -> Result<String, ChatError> {
    let name = &crate::text::neutralise(name);
    if name.trim().is_empty() {
        return Err(invalid("A group needs a name."));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(&format!(
            "A group name has at most {MAX_NAME_CHARS} characters."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("A group name cannot hold control characters."));
    }
    Ok(name.to_owned())
}

/// A message text as it is stored: bidirectional and invisible characters dropped (so a message
/// cannot reverse the list it is previewed in, see [`crate::text::neutralise`]), then
/// 1..=[`MAX_TEXT_CHARS`] characters and not only whitespace. Otherwise exactly as sent (no
/// trimming, no escaping): clients render it as text, never as HTML.
pub fn clean_text(text: &str) -> Result<String, ChatError> {
    let text = crate::text::neutralise(text);
    validate_text(&text)?;
    Ok(text)
}

/// The text of a message that carries attachments: cleaned like [`clean_text`], but it may be
/// empty (a photo needs no caption). Without attachments, exactly [`clean_text`].
pub fn clean_text_beside(text: &str, attachments: &[i64]) -> Result<String, ChatError> {
    if attachments.is_empty() {
        return clean_text(text);
    }
    let text = crate::text::neutralise(text);
    if text.trim().is_empty() {
        return Ok(String::new());
    }
    validate_text(&text)?;
    Ok(text)
}

/// The attachments a send names: at most [`MAX_ATTACHMENTS_PER_MESSAGE`], each once.
pub fn validate_attachment_ids(ids: &[i64]) -> Result<(), ChatError> {
    if ids.len() > MAX_ATTACHMENTS_PER_MESSAGE {
        return Err(invalid(&format!(
            "A message carries at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments."
        )));
    }
    let mut seen = ids.to_vec();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != ids.len() {
        return Err(invalid("An attachment is named twice."));
    }
    Ok(())
}

fn validate_text(text: &str) -> Result<(), ChatError> {
    if text.trim().is_empty() {
        return Err(invalid("A message needs some text."));
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(invalid(&format!(
            "A message has at most {MAX_TEXT_CHARS} characters (this one has {chars})."
        )));
    }
    Ok(())
}

/// A reaction: 1..=[`MAX_EMOJI_CHARS`] characters with at least one beyond ASCII (an emoji,
/// not a word), no whitespace, no control, bidirectional or invisible character except the
/// joiners emoji sequences need.
pub fn validate_emoji(emoji: &str) -> Result<(), ChatError> {
    let chars = emoji.chars().count();
    let ok = (1..=MAX_EMOJI_CHARS).contains(&chars)
        && !emoji.is_ascii()
        && !emoji.chars().any(|c| c.is_whitespace() || c.is_control())
        && crate::text::neutralise(emoji) == emoji;
    if ok {
        Ok(())
    } else {
        Err(invalid(&format!(
            "A reaction is one emoji (at most {MAX_EMOJI_CHARS} characters)."
        )))
    }
}

/// Adding one more emoji to a message that has `distinct` different ones already, unless it is
/// one of them.
pub fn can_add_reaction(distinct: &[String], emoji: &str) -> Result<(), ChatError> {
    if distinct.len() >= MAX_REACTIONS_PER_MESSAGE && !distinct.iter().any(|e| e == emoji) {
        return Err(invalid(&format!(
            "A message has at most {MAX_REACTIONS_PER_MESSAGE} different reactions."
        )));
    }
    Ok(())
}

/// The start of a message's text for a quote of it: at most [`REPLY_QUOTE_CHARS`] characters.
pub fn quote_of(text: &str) -> String {
    match text.char_indices().nth(REPLY_QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// An optional idempotency key: 1..=[`MAX_CLIENT_ID_CHARS`] visible ASCII characters.
pub fn validate_client_id(client_id: Option<&str>) -> Result<(), ChatError> {
    let Some(id) = client_id else {
        return Ok(());
    };
    let ok = !id.is_empty()
        && id.len() <= MAX_CLIENT_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(&format!(
            "client_id is 1 to {MAX_CLIENT_ID_CHARS} visible ASCII characters."
        )))
    }
}

/// A history page request, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Only messages with a smaller id.
    pub before: Option<i64>,
    /// Only messages with a larger id.
    pub after: Option<i64>,
    pub limit: u32,
}

impl PageRequest {
    /// With `after` only, the page starts right after it (catching up forwards); otherwise it
    /// is the newest `limit` messages below `before` (scrolling back).
    pub fn forwards(&self) -> bool {
        self.after.is_some() && self.before.is_none()
    }
}

/// `limit` in 1..=[`MAX_PAGE_LIMIT`] (default [`DEFAULT_PAGE_LIMIT`]); cursors are message ids.
pub fn validate_page(
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<u32>,
) -> Result<PageRequest, ChatError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    if limit == 0 || limit > MAX_PAGE_LIMIT {
        return Err(invalid(&format!("limit is 1 to {MAX_PAGE_LIMIT}.")));
    }
    if let (Some(b), Some(a)) = (before, after) {
        if b <= a {
            return Err(invalid("before must be greater than after."));
        }
    }
    Ok(PageRequest {
        before,
        after,
        limit,
    })
}

/// A user search page size: 1..=[`MAX_PAGE_LIMIT`], default [`DEFAULT_PAGE_LIMIT`]; the query
/// at most [`MAX_QUERY_CHARS`] characters.
pub fn validate_user_search(q: &str, limit: Option<u32>) -> Result<u32, ChatError> {
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid(&format!(
            "q has at most {MAX_QUERY_CHARS} characters."
        )));
    }
    let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    if limit == 0 || limit > MAX_PAGE_LIMIT {
        return Err(invalid(&format!("limit is 1 to {MAX_PAGE_LIMIT}.")));
    }
    Ok(limit)
}

/// Renaming: groups only, owner only.
pub fn can_rename(role: Role) -> Result<(), ChatError> {
    match (role.kind, role.is_owner) {
        (ChannelKind::Direct, _) => Err(ChatError::Forbidden("A direct channel has no name.")),
        (ChannelKind::Group, false) => Err(ChatError::Forbidden(
            "Only the owner can rename this group.",
        )),
        (ChannelKind::Group, true) => Ok(()),
    }
}

/// Adding a member: groups only, owner only.
pub fn can_add_member(role: Role) -> Result<(), ChatError> {
    match (role.kind, role.is_owner) {
        (ChannelKind::Direct, _) => Err(ChatError::Forbidden(
            "A direct channel has exactly two members.",
        )),
        (ChannelKind::Group, false) => Err(ChatError::Forbidden("Only the owner can add members.")),
        (ChannelKind::Group, true) => Ok(()),
    }
}

/// Removing `target` from a group: the owner removes others; anyone removes themselves
/// (leaving). The owner cannot leave their own group; they delete it instead.
pub fn can_remove_member(me: i64, target: i64, role: Role) -> Result<(), ChatError> {
    match (role.kind, role.is_owner, me == target) {
        (ChannelKind::Direct, _, _) => Err(ChatError::Forbidden(
            "A direct channel has exactly two members.",
        )),
        (ChannelKind::Group, true, true) => Err(ChatError::Forbidden(
            "The owner cannot leave; delete the group instead.",
        )),
        (ChannelKind::Group, true, false) | (ChannelKind::Group, false, true) => Ok(()),
        (ChannelKind::Group, false, false) => Err(ChatError::Forbidden(
            "Only the owner can remove other members.",
        )),
    }
}

/// What `DELETE /api/channels/{id}` does for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteAction {
    /// The channel and all its messages go, for everyone.
    DeleteChannel,
    /// Only the caller's membership goes.
    Leave,
}

/// The owner deletes a group, a member leaves it. A direct channel can be deleted by either of
/// its two members (it cannot be left: it would no longer have exactly two members).
pub fn delete_action(role: Role) -> DeleteAction {
    match (role.kind, role.is_owner) {
        (ChannelKind::Direct, _) | (ChannelKind::Group, true) => DeleteAction::DeleteChannel,
        (ChannelKind::Group, false) => DeleteAction::Leave,
    }
}

/// Only the author edits or deletes a message, and a deleted message stays deleted.
pub fn can_change_message(me: i64, author: i64, deleted: bool) -> Result<(), ChatError> {
    if author != me {
        return Err(ChatError::Forbidden(
            "Only the author can change this message.",
        ));
    }
    if deleted {
        return Err(ChatError::MessageNotFound);
    }
    Ok(())
}

/// The read position only moves forwards.
pub fn next_read_position(current: Option<i64>, requested: i64) -> i64 {
    current.map_or(requested, |c| c.max(requested))
}

/// A prefix pattern for SQL `LIKE ... ESCAPE '\'`, lower-cased, wildcards in `q` escaped.
pub fn like_prefix(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 1);
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn invalid(why: &str) -> ChatError {
    ChatError::Invalid(why.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP_OWNER: Role = Role {
        kind: ChannelKind::Group,
        is_owner: true,
    };
    const GROUP_MEMBER: Role = Role {
        kind: ChannelKind::Group,
        is_owner: false,
    };
    const DIRECT: Role = Role {
        kind: ChannelKind::Direct,
        is_owner: false,
    };

    #[test]
    fn every_code_is_in_the_published_list() {
        let every = [
            ChatError::ChannelNotFound,
            ChatError::MessageNotFound,
            ChatError::AttachmentNotFound,
            ChatError::UserNotFound(1),
            ChatError::Invalid(String::new()),
            ChatError::Forbidden(""),
            ChatError::ClientIdConflict,
            ChatError::FileTooLarge { limit: 1 },
            ChatError::ImageTooLarge {
                pixels: 2,
                limit: 1,
            },
            ChatError::QuotaExceeded { quota: 1, used: 1 },
            ChatError::ImageInvalid(String::new()),
            ChatError::Busy,
            ChatError::RateLimited {
                retry_after: std::time::Duration::from_secs(1),
            },
            ChatError::Internal("".into()),
        ];
        let mut codes: Vec<&str> = every.iter().map(ChatError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        let mut listed = ChatError::CODES.to_vec();
        listed.sort_unstable();
        assert_eq!(codes, listed);
    }

    #[test]
    fn text_of_exactly_4000_characters_is_accepted_and_4001_refused() {
        let ok = "é".repeat(MAX_TEXT_CHARS);
        assert!(validate_text(&ok).is_ok());
        let long = "é".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(
            validate_text(&long).map_err(|e| e.code()),
            Err("invalid_request")
        );
    }

    #[test]
    fn a_message_with_attachments_may_have_no_text_and_names_each_at_most_once() {
        assert_eq!(clean_text_beside(" \u{200b}", &[4]), Ok(String::new()));
        assert!(clean_text_beside(" ", &[]).is_err());
        assert_eq!(clean_text_beside("look", &[4]), Ok("look".into()));
        assert!(clean_text_beside(&"x".repeat(MAX_TEXT_CHARS + 1), &[4]).is_err());
        assert!(validate_attachment_ids(&[1, 2, 1]).is_err());
        let ten: Vec<i64> = (1..=10).collect();
        assert!(validate_attachment_ids(&ten).is_ok());
        let eleven: Vec<i64> = (1..=11).collect();
        assert!(validate_attachment_ids(&eleven).is_err());
    }

    #[test]
    fn file_limits_read_in_megabytes() {
        let e = ChatError::FileTooLarge {
            limit: 10 * 1024 * 1024,
        };
        assert_eq!(e.code(), "payload_too_large");
        assert_eq!(e.message(), "A file is at most 10 MB.");
        let q = ChatError::QuotaExceeded {
            quota: 200 * 1024 * 1024,
            used: 3 * 512 * 1024,
        };
        assert_eq!(q.code(), "attachment_quota_exceeded");
        assert!(
            q.message()
                .starts_with("Your files take 1.5 MB of your 200 MB"),
            "{}",
            q.message()
        );
    }

    #[test]
    fn blank_text_is_refused_but_markup_is_plain_data() {
        assert!(validate_text("  \n\t").is_err());
        assert!(validate_text("").is_err());
        assert!(validate_text("<script>alert(1)</script>").is_ok());
    }

    #[test]
    fn text_and_names_lose_bidi_and_invisible_characters_before_the_checks() {
        assert_eq!(
            clean_text("Admin\u{202e}\u{200b} nimdA").as_deref(),
            Ok("Admin nimdA")
        );
        // Nothing left once the invisible characters are gone: as empty as "".
        assert!(clean_text("\u{200b}\u{2066}\u{feff}").is_err());
        assert_eq!(validate_name("\u{202e}team").as_deref(), Ok("team"));
        assert!(validate_name("\u{200b}").is_err());
        // The length limit counts what is stored.
        let padded = format!("{}{}", "a".repeat(MAX_TEXT_CHARS), "\u{200b}".repeat(10));
        assert!(clean_text(&padded).is_ok());
    }

    #[test]
    fn a_reaction_is_one_short_emoji() {
        for ok in ["👍", "❤\u{fe0f}", "👩\u{200d}💻", "1\u{fe0f}\u{20e3}", "🇫🇷"] {
            assert!(validate_emoji(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", "lol", "👍 ", "👍\n", "\u{202e}👍", &"👍".repeat(17)] {
            assert!(validate_emoji(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reactions_stop_at_20_different_emoji_but_existing_ones_can_be_added_to() {
        let full: Vec<String> = (0..MAX_REACTIONS_PER_MESSAGE)
            .map(|i| {
                char::from_u32(0x1F600 + i as u32)
                    .expect("emoji")
                    .to_string()
            })
            .collect();
        assert!(can_add_reaction(&full[..19], "🚀").is_ok());
        assert!(can_add_reaction(&full, "🚀").is_err());
        assert!(can_add_reaction(&full, &full[3]).is_ok());
    }

    #[test]
    fn a_quote_keeps_200_characters() {
        assert_eq!(quote_of("short"), "short");
        let long = "é".repeat(250);
        assert_eq!(quote_of(&long).chars().count(), REPLY_QUOTE_CHARS + 1);
    }

    #[test]
    fn page_limit_is_between_1_and_100() {
        assert_eq!(validate_page(None, None, None).map(|p| p.limit), Ok(50));
        assert!(validate_page(None, None, Some(100)).is_ok());
        assert!(validate_page(None, None, Some(101)).is_err());
        assert!(validate_page(None, None, Some(0)).is_err());
        assert!(validate_page(Some(5), Some(5), None).is_err());
        assert!(validate_page(Some(6), Some(5), None).is_ok());
    }

    #[test]
    fn forwards_only_with_after_alone() {
        let p = |b, a| validate_page(b, a, None).map(|p| p.forwards());
        assert_eq!(p(None, Some(3)), Ok(true));
        assert_eq!(p(Some(9), Some(3)), Ok(false));
        assert_eq!(p(None, None), Ok(false));
    }

    #[test]
    fn direct_channel_needs_exactly_one_other_member() {
        assert_eq!(
            validate_new_channel(1, ChannelKind::Direct, &[2], None),
            Ok(NewChannel::Direct { peer: 2 })
        );
        assert!(validate_new_channel(1, ChannelKind::Direct, &[1], None).is_err());
        assert!(validate_new_channel(1, ChannelKind::Direct, &[2, 3], None).is_err());
        assert!(validate_new_channel(1, ChannelKind::Direct, &[], None).is_err());
        assert!(validate_new_channel(1, ChannelKind::Direct, &[2], Some("x")).is_err());
    }

    #[test]
    fn direct_key_is_the_same_from_both_sides() {
        assert_eq!(direct_key(7, 3), direct_key(3, 7));
        assert_ne!(direct_key(1, 23), direct_key(12, 3));
    }

    #[test]
    fn group_needs_a_name_and_drops_self_and_duplicates() {
        assert!(validate_new_channel(1, ChannelKind::Group, &[2], None).is_err());
        assert!(validate_new_channel(1, ChannelKind::Group, &[2], Some("  ")).is_err());
        assert_eq!(
            validate_new_channel(1, ChannelKind::Group, &[3, 1, 2, 3], Some(" team ")),
            Ok(NewChannel::Group {
                name: " team ".into(),
                members: vec![2, 3]
            })
        );
        let too_many: Vec<i64> = (2..=MAX_GROUP_MEMBERS as i64 + 1).collect();
        assert!(validate_new_channel(1, ChannelKind::Group, &too_many, Some("big")).is_err());
    }

    #[test]
    fn only_the_owner_renames_or_adds_and_never_in_a_direct_channel() {
        assert!(can_rename(GROUP_OWNER).is_ok());
        assert!(can_rename(GROUP_MEMBER).is_err());
        assert!(can_rename(DIRECT).is_err());
        assert!(can_add_member(GROUP_OWNER).is_ok());
        assert!(can_add_member(GROUP_MEMBER).is_err());
        assert!(can_add_member(DIRECT).is_err());
    }

    #[test]
    fn members_leave_themselves_owner_removes_others_but_cannot_leave() {
        assert!(can_remove_member(2, 2, GROUP_MEMBER).is_ok());
        assert!(can_remove_member(2, 3, GROUP_MEMBER).is_err());
        assert!(can_remove_member(1, 3, GROUP_OWNER).is_ok());
        assert!(can_remove_member(1, 1, GROUP_OWNER).is_err());
        assert!(can_remove_member(1, 2, DIRECT).is_err());
    }

    #[test]
    fn delete_removes_a_group_for_its_owner_and_leaves_it_for_others() {
        assert_eq!(delete_action(GROUP_OWNER), DeleteAction::DeleteChannel);
        assert_eq!(delete_action(GROUP_MEMBER), DeleteAction::Leave);
        assert_eq!(delete_action(DIRECT), DeleteAction::DeleteChannel);
    }

    #[test]
    fn only_the_author_changes_a_message_that_still_exists() {
        assert!(can_change_message(1, 1, false).is_ok());
        assert!(matches!(
            can_change_message(1, 2, false),
            Err(ChatError::Forbidden(_))
        ));
        assert_eq!(
            can_change_message(1, 1, true),
            Err(ChatError::MessageNotFound)
        );
    }

    #[test]
    fn read_position_never_moves_back() {
        assert_eq!(next_read_position(None, 5), 5);
        assert_eq!(next_read_position(Some(9), 5), 9);
        assert_eq!(next_read_position(Some(3), 5), 5);
    }

    #[test]
    fn client_id_is_short_visible_ascii() {
        assert!(validate_client_id(None).is_ok());
        assert!(validate_client_id(Some("3f1c-42")).is_ok());
        assert!(validate_client_id(Some("")).is_err());
        assert!(validate_client_id(Some("has space")).is_err());
        assert!(validate_client_id(Some(&"x".repeat(65))).is_err());
    }

    #[test]
    fn like_prefix_escapes_wildcards() {
        assert_eq!(like_prefix("Ab%_\\"), "ab\\%\\_\\\\%");
    }

    #[test]
    fn an_internal_error_keeps_its_cause_for_the_log_and_tells_the_client_nothing() {
        let err = ChatError::from(sqlx::Error::RowNotFound);
        assert_eq!(err.message(), "Internal error.");
        let ChatError::Internal(cause) = &err else {
            panic!("{err:?}")
        };
        let chain: Vec<String> = cause.error().chain().map(ToString::to_string).collect();
        assert_eq!(chain[0], "database");
        assert!(chain[1].contains("no rows"), "{chain:?}");
        assert_ne!(
            err,
            ChatError::from(sqlx::Error::RowNotFound),
            "causes are compared by identity"
        );
        assert_eq!(err.clone(), err);
    }
}
