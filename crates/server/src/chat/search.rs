//! Message search: the rules for a query (length, words, page size), the snippet as plain text
//! parts, and the use case that runs it over the caller's own channels. The storage module turns
//! the words into its engine's expression.
//!
//! ```
//! use server::chat::search::search_terms;
//!
//! // Search syntax in the input is just more words to find.
//! assert_eq!(search_terms("lunch OR NEAR( -").unwrap(), ["lunch", "OR", "NEAR("]);
//! ```

use serde::Serialize;
use utoipa::ToSchema;

use crate::storage::chat::UserSummary;
use crate::storage::search::{self as store, HitRow};

use super::domain::ChatError;
use super::service::Chat;

/// Longest search query, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;
/// Most words one query holds.
pub const MAX_SEARCH_TERMS: usize = 16;
/// Most hits one search answers.
pub const MAX_SEARCH_LIMIT: u32 = 50;
/// Hits answered when the client names no limit.
pub const DEFAULT_SEARCH_LIMIT: u32 = 20;

/// Private-use characters that mark a matched term in FTS5's snippet; split out again by
/// [`snippet_parts`] so that clients get text, never markup.
const HIT_OPEN: &str = "\u{E000}";
const HIT_CLOSE: &str = "\u{E001}";

/// A piece of a snippet: plain text, or (`hit`) a term that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SnippetPart {
    pub text: String,
    pub hit: bool,
}

/// One message found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SearchHit {
    pub message_id: i64,
    pub channel_id: i64,
    /// For a reply in a thread, the thread's first message (open the thread to show it).
    pub thread_root: Option<i64>,
    pub author: UserSummary,
    pub created_at: i64,
    /// The text around the match (about 16 words, `…` where it was cut), in order.
    pub snippet: Vec<SnippetPart>,
}

/// `GET /api/search`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    /// Newest first.
    pub hits: Vec<SearchHit>,
}

/// The words of what a person typed, at most [`MAX_SEARCH_TERMS`]: all must match, the last one
/// also as a prefix, so results come while a word is still being typed. Words without a letter
/// or digit are dropped (no engine indexes them). 400 when nothing is left or the query is too
/// long.
pub fn search_terms(q: &str) -> Result<Vec<String>, ChatError> {
    let q = crate::text::neutralise(q);
    if q.chars().count() > MAX_SEARCH_CHARS {
        return Err(ChatError::Invalid(format!(
            "A search has at most {MAX_SEARCH_CHARS} characters."
        )));
    }
    let terms: Vec<String> = q
        .split_whitespace()
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .map(str::to_owned)
        .collect();
    if terms.is_empty() {
        return Err(ChatError::Invalid(
            "Type a word (letters or digits) to search for.".into(),
        ));
    }
    if terms.len() > MAX_SEARCH_TERMS {
        return Err(ChatError::Invalid(format!(
            "A search has at most {MAX_SEARCH_TERMS} words."
        )));
    }
    Ok(terms)
}

/// `limit` in 1..=[`MAX_SEARCH_LIMIT`], default [`DEFAULT_SEARCH_LIMIT`].
pub fn validate_search_limit(limit: Option<u32>) -> Result<u32, ChatError> {
    let limit = limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
    if limit == 0 || limit > MAX_SEARCH_LIMIT {
        return Err(ChatError::Invalid(format!(
            "limit is 1 to {MAX_SEARCH_LIMIT}."
        )));
    }
    Ok(limit)
}

/// Splits a snippet marked with [`HIT_OPEN`]/[`HIT_CLOSE`] into parts. The markers never reach
/// a client; a marker character the author typed only ever marks their own words.
pub fn snippet_parts(snippet: &str) -> Vec<SnippetPart> {
    let mut parts = Vec::new();
    let mut rest = snippet;
    while let Some(start) = rest.find(HIT_OPEN) {
        push_part(&mut parts, &rest[..start], false);
        rest = &rest[start + HIT_OPEN.len()..];
        let end = rest.find(HIT_CLOSE).unwrap_or(rest.len());
        push_part(&mut parts, &rest[..end], true);
        rest = rest.get(end + HIT_CLOSE.len()..).unwrap_or_default();
    }
    push_part(&mut parts, rest, false);
    parts
}

fn push_part(parts: &mut Vec<SnippetPart>, text: &str, hit: bool) {
    let text = text.replace(['\u{E000}', '\u{E001}'], "");
    if !text.is_empty() {
        parts.push(SnippetPart { text, hit });
    }
}

/// FTS5's and PostgreSQL's complaints about a full-text expression.
fn is_search_syntax_error(message: &str) -> bool {
    message.contains("fts5") || message.contains("tsquery")
}

impl From<HitRow> for SearchHit {
    fn from(row: HitRow) -> Self {
        Self {
            snippet: snippet_parts(&row.snippet),
            message_id: row.message_id,
            channel_id: row.channel_id,
            thread_root: row.thread_root,
            author: UserSummary {
                id: row.author_id,
                username: row.author_username,
                full_name: row.author_full_name,
            },
            created_at: row.created_at,
        }
    }
}

impl Chat<'_> {
    /// The newest messages matching `q` in the channels `me` belongs to (membership is part of
    /// the query), deleted ones never.
    pub async fn search_messages(
        &self,
        me: i64,
        q: &str,
        limit: Option<u32>,
    ) -> Result<SearchPage, ChatError> {
        let terms = search_terms(q)?;
        let limit = validate_search_limit(limit)?;
        let rows = store::messages(self.db, me, &terms, limit, (HIT_OPEN, HIT_CLOSE))
            .await
            .map_err(|e| match e {
                // The storage module quotes every word, so a refused expression is a bug, not
                // the user's input; still the user's request, not a server failure.
                sqlx::Error::Database(db) if is_search_syntax_error(db.message()) => {
                    tracing::warn!(error = %db, "search expression refused by the database");
                    ChatError::Invalid("This search could not be understood.".into())
                }
                other => ChatError::from(other),
            })?;
        Ok(SearchPage {
            hits: rows.into_iter().map(SearchHit::from).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_on_whitespace_and_kept_as_typed() {
        assert_eq!(search_terms("hello").unwrap(), ["hello"]);
        assert_eq!(
            search_terms("  say \"hi\"  there ").unwrap(),
            ["say", "\"hi\"", "there"]
        );
        assert_eq!(
            search_terms("a:b -c NOT d*").unwrap(),
            ["a:b", "-c", "NOT", "d*"]
        );
    }

    #[test]
    fn a_query_needs_a_word_and_stays_short() {
        assert!(search_terms("").is_err());
        assert!(search_terms(" * - \" ( ").is_err());
        assert!(search_terms("\u{202e}\u{200b}").is_err());
        assert!(search_terms(&"w".repeat(MAX_SEARCH_CHARS)).is_ok());
        assert!(search_terms(&"w".repeat(MAX_SEARCH_CHARS + 1)).is_err());
        let many = vec!["w"; MAX_SEARCH_TERMS + 1].join(" ");
        assert!(search_terms(&many).is_err());
    }

    #[test]
    fn limit_is_between_1_and_50() {
        assert_eq!(validate_search_limit(None), Ok(DEFAULT_SEARCH_LIMIT));
        assert_eq!(validate_search_limit(Some(50)), Ok(50));
        assert!(validate_search_limit(Some(0)).is_err());
        assert!(validate_search_limit(Some(51)).is_err());
    }

    #[test]
    fn a_snippet_becomes_text_parts_with_the_hits_marked() {
        let parts = snippet_parts("…we had \u{E000}lunch\u{E001} at <b>noon</b> \u{E000}x");
        let expect = [
            ("…we had ", false),
            ("lunch", true),
            (" at <b>noon</b> ", false),
            ("x", true),
        ];
        let got: Vec<(&str, bool)> = parts.iter().map(|p| (p.text.as_str(), p.hit)).collect();
        assert_eq!(got, expect);
        assert_eq!(snippet_parts(""), Vec::new());
    }
}
