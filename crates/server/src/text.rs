//! Characters that change how text around them is shown without being seen themselves.
//!
//! Bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE, the isolates U+2066–2069...) reorder
//! the text that follows them, so `"Admin\u{202e}nimdA"` shows as "AdminAdmin" and a message can
//! reverse the sidebar preview it is shown in. Invisible characters (U+200B ZERO WIDTH SPACE,
//! U+FEFF, Hangul fillers...) make two different names look the same. Names are refused when
//! they hold any of them ([`is_hidden_in_name`]); messages and group names are neutralised by
//! dropping them ([`neutralise`]), keeping only the joiners that emoji and several scripts need.
//!
//! ```
//! use server::text::{neutralise, is_hidden_in_name};
//!
//! assert_eq!(neutralise("Admin\u{202e}\u{200b} nimdA"), "Admin nimdA");
//! assert_eq!(neutralise("👩\u{200d}💻"), "👩\u{200d}💻"); // a ZWJ emoji sequence stays whole
//! assert!("Admin\u{200d}".chars().any(is_hidden_in_name));
//! ```

/// Explicit bidirectional formatting: embeddings, overrides, isolates and the marks
/// (U+061C, U+200E, U+200F). Any of these can make text show in another order than it is stored.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters with no visible glyph of their own that a name has no use for: zero-width
/// space and joiners, word joiner and invisible operators, deprecated format controls, the
/// byte order mark, interlinear annotation marks, fillers that render blank, tag characters.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180E}'
        | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{206A}'..='\u{206F}'
        | '\u{3164}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}')
}

/// Joiners that do not reorder anything and that text needs: ZWNJ and ZWJ shape Persian and
/// Indic words and glue emoji sequences (👩‍💻); tag characters spell subdivision flags (🏴 of
/// England). Kept in messages and group names, refused in people's names.
fn is_needed_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}' | '\u{E0020}'..='\u{E007F}')
}

/// True for a character a person's name must not hold: it is a control character (newlines,
/// escapes), a bidirectional control, or invisible.
pub fn is_hidden_in_name(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || is_invisible(c)
}

/// `text` without bidirectional controls and invisible characters (joiners that emoji and
/// scripts need are kept). Everything else, markup included, is left exactly as sent.
pub fn neutralise(text: &str) -> String {
    text.chars()
        .filter(|&c| !(is_bidi_control(c) || (is_invisible(c) && !is_needed_joiner(c))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_bidi_and_invisible_character_is_dropped_from_text() {
        let hidden = [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200B}', '\u{200E}', '\u{200F}', '\u{FEFF}', '\u{2060}',
            '\u{061C}', '\u{3164}',
        ];
        for c in hidden {
            assert_eq!(neutralise(&format!("a{c}b")), "ab", "U+{:04X}", c as u32);
            assert!(is_hidden_in_name(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn joiners_stay_in_text_but_not_in_names() {
        let persian = "می\u{200C}خواهم";
        assert_eq!(neutralise(persian), persian);
        let england = "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        assert_eq!(neutralise(england), england);
        assert!(persian.chars().any(is_hidden_in_name));
    }

    #[test]
    fn visible_text_and_markup_are_untouched() {
        let text = "<b>**hi**</b> & \"שלום\" — 😀\n\tnext";
        assert_eq!(neutralise(text), text);
        assert!(!"Zoë O'Brien-Åkesson".chars().any(is_hidden_in_name));
    }
}
