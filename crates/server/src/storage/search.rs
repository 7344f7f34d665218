//! SQL of message search, read with membership in the query itself, so a message of a channel
//! the caller is not in is never even a candidate: SQLite's FTS5 index or PostgreSQL's GIN index
//! over `to_tsvector` (each engine's migration 0008).

use sqlx::FromRow;

use super::{Backend, Db};

/// One message that matched, with its author and the engine's snippet of its text.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct HitRow {
    pub message_id: i64,
    pub channel_id: i64,
    /// The thread the message is a reply in, if any.
    pub thread_root: Option<i64>,
    pub author_id: i64,
    pub author_username: String,
    pub author_full_name: String,
    pub created_at: i64,
    /// The text around the match, each matched term between `open` and `close`.
    pub snippet: String,
}

/// The newest `limit` messages of `user_id`'s channels containing every word of `terms` (the
/// last one also as a prefix, as a word still being typed), deleted ones left out, and so are
/// those of people `user_id` blocked. `terms` are what a person typed, split on whitespace and
/// checked by `crate::chat::search`; each engine gets them as an expression that cannot fail to
/// parse. `open`/`close` mark the matched terms in the snippet.
pub async fn messages(
    db: &Db,
    user_id: i64,
    terms: &[String],
    limit: u32,
    (open, close): (&str, &str),
) -> Result<Vec<HitRow>, sqlx::Error> {
    match db.backend() {
        Backend::Sqlite => {
            sqlx::query_as(
                "SELECT m.id AS message_id, m.channel_id, m.thread_root, m.author_id, \
                   u.username AS author_username, u.full_name AS author_full_name, m.created_at, \
                   snippet(chat_messages_fts, 0, $1, $2, '…', 16) AS snippet \
                 FROM chat_messages_fts \
                 JOIN chat_messages m ON m.id = chat_messages_fts.rowid \
                 JOIN chat_members cm ON cm.channel_id = m.channel_id AND cm.user_id = $3 \
                 JOIN users u ON u.id = m.author_id \
                 WHERE chat_messages_fts MATCH $4 AND m.deleted_at IS NULL \
                   AND NOT EXISTS (SELECT 1 FROM chat_blocks b \
                     WHERE b.blocker_id = cm.user_id AND b.blocked_id = m.author_id) \
                 ORDER BY m.id DESC LIMIT $5",
            )
            .bind(open)
            .bind(close)
            .bind(user_id)
            .bind(fts5_expression(terms))
            .bind(i64::from(limit))
            .fetch_all(db.pool())
            .await
        }
        Backend::Postgres => {
            let mut rows: Vec<HitRow> = sqlx::query_as(
                "SELECT m.id AS message_id, m.channel_id, m.thread_root, m.author_id, \
                   u.username AS author_username, u.full_name AS author_full_name, m.created_at, \
                   m.text AS snippet \
                 FROM chat_messages m \
                 JOIN chat_members cm ON cm.channel_id = m.channel_id AND cm.user_id = $1 \
                 JOIN users u ON u.id = m.author_id \
                 WHERE to_tsvector('facegate_search', m.text) @@ to_tsquery('facegate_search', $2) \
                   AND m.deleted_at IS NULL \
                   AND NOT EXISTS (SELECT 1 FROM chat_blocks b \
                     WHERE b.blocker_id = cm.user_id AND b.blocked_id = m.author_id) \
                 ORDER BY m.id DESC LIMIT $3",
            )
            .bind(user_id)
            .bind(tsquery_expression(terms))
            .bind(i64::from(limit))
            .fetch_all(db.pool())
            .await?;
            // ts_headline drops what its parser takes for HTML tags, and people type `<b>` as
            // text: the snippet is made here instead, the way FTS5 makes its own.
            for row in &mut rows {
                row.snippet = snippet(&row.snippet, terms, (open, close));
            }
            Ok(rows)
        }
    }
}

/// Words shown around the first match, as FTS5's `snippet(..., 16)`.
const SNIPPET_WORDS: usize = 16;

/// `text` with each word that matches a term between `open` and `close` (case and accents
/// ignored, the last term's last word also as a prefix), cut to [`SNIPPET_WORDS`] words from
/// just before the first match, `…` where cut.
fn snippet(text: &str, terms: &[String], (open, close): (&str, &str)) -> String {
    let term_words: Vec<String> = terms
        .iter()
        .flat_map(|t| word_spans(t).map(move |(a, b)| fold(&t[a..b])))
        .collect();
    let Some((prefix, whole)) = term_words.split_last() else {
        return text.to_owned();
    };
    let is_hit = |word: &str| {
        let word = fold(word);
        word.starts_with(prefix.as_str()) || whole.contains(&word)
    };
    let words: Vec<(usize, usize)> = word_spans(text).collect();
    let first_hit = words
        .iter()
        .position(|&(a, b)| is_hit(&text[a..b]))
        .unwrap_or(0);
    let start = if words.len() <= SNIPPET_WORDS {
        0
    } else {
        first_hit.saturating_sub(2).min(words.len() - SNIPPET_WORDS)
    };
    let end = (start + SNIPPET_WORDS).min(words.len());
    let mut out = String::new();
    let mut at = if start == 0 {
        0
    } else {
        out.push('…');
        words[start].0
    };
    for &(a, b) in &words[start..end] {
        out.push_str(&text[at..a]);
        if is_hit(&text[a..b]) {
            out.push_str(open);
            out.push_str(&text[a..b]);
            out.push_str(close);
        } else {
            out.push_str(&text[a..b]);
        }
        at = b;
    }
    if end == words.len() {
        out.push_str(&text[at..]);
    } else {
        out.push('…');
    }
    out
}

/// Byte ranges of the runs of letters and digits in `text`: the words an index keeps.
fn word_spans(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, _) = chars.find(|(_, c)| c.is_alphanumeric())?;
        let mut end = text.len();
        while let Some(&(i, c)) = chars.peek() {
            if !c.is_alphanumeric() {
                end = i;
                break;
            }
            chars.next();
        }
        Some((start, end))
    })
}

/// Lower case without accents: "Café" and "cafe" are one word, as both engines index them.
fn fold(word: &str) -> String {
    use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// FTS5: each word as a quoted string (so `OR`, `NEAR(`, `-`, `*` and quotes are text, never
/// syntax), all required, the last one also as a prefix.
fn fts5_expression(terms: &[String]) -> String {
    let quoted: Vec<String> = terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    format!("{}*", quoted.join(" "))
}

/// PostgreSQL's `to_tsquery`: a word's runs of letters and digits (what the parser would keep)
/// as quoted lexemes that must follow each other, all words required (`&`), the last run also
/// as a prefix (`:*`). Nothing but letters, digits and these operators reaches the parser.
fn tsquery_expression(terms: &[String]) -> String {
    let words: Vec<Vec<&str>> = terms
        .iter()
        .map(|t| {
            t.split(|c: char| !c.is_alphanumeric())
                .filter(|r| !r.is_empty())
                .collect()
        })
        .filter(|runs: &Vec<&str>| !runs.is_empty())
        .collect();
    let last = words.len().saturating_sub(1);
    let phrases: Vec<String> = (words.iter().enumerate())
        .map(|(i, runs)| {
            let lexemes: Vec<String> = runs.iter().map(|r| format!("'{r}'")).collect();
            let phrase = lexemes.join(" <-> ");
            if i == last {
                format!("{phrase}:*")
            } else {
                phrase
            }
        })
        .collect();
    phrases.join(" & ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn fts5_quotes_every_word_and_prefixes_the_last() {
        assert_eq!(
            fts5_expression(&terms(&["lunch", "OR", "NEAR(", "say\"hi"])),
            r#""lunch" "OR" "NEAR(" "say""hi"*"#
        );
    }

    #[test]
    fn tsquery_keeps_letters_and_digits_only_and_prefixes_the_last_run() {
        assert_eq!(
            tsquery_expression(&terms(&["Café", "it's", "a&b|!c:*", "fri"])),
            "'Café' & 'it' <-> 's' & 'a' <-> 'b' <-> 'c' & 'fri':*"
        );
        assert_eq!(tsquery_expression(&terms(&["x-ray"])), "'x' <-> 'ray':*");
    }

    #[test]
    fn snippet_marks_words_without_regard_to_case_or_accents_and_keeps_markup_as_text() {
        let text = "Shall we have <b>lunch</b> at the Café on Friday?";
        assert_eq!(
            snippet(text, &terms(&["cafe", "fri"]), ("[", "]")),
            "Shall we have <b>lunch</b> at the [Café] on [Friday]?"
        );
        // Only the last term is a prefix.
        assert_eq!(
            snippet("fridge friday", &terms(&["fri", "day"]), ("[", "]")),
            "fridge friday"
        );
    }

    #[test]
    fn a_long_snippet_is_cut_around_the_first_match() {
        let words: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
        let cut = snippet(&words.join(" "), &terms(&["w20"]), ("[", "]"));
        assert_eq!(
            cut,
            "…w18 w19 [w20] w21 w22 w23 w24 w25 w26 w27 w28 w29 w30 w31 w32 w33…"
        );
        let start = snippet(&words.join(" "), &terms(&["w0"]), ("[", "]"));
        assert!(
            start.starts_with("[w0] w1") && start.ends_with("w15…"),
            "{start}"
        );
    }
}
