//! Keyword filters: banned words and phrases, matched case-insensitively, optionally
//! only as whole words. Content is refused at save, at submit and on transactional sends.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeywordParams {
    /// Banned words or phrases.
    #[validate(length(min = 1, max = 10000))]
    pub words: Vec<String>,
    /// Match only whole words (`ass` does not match `class`).
    #[serde(default = "default_true")]
    pub whole_word: bool,
}

fn default_true() -> bool {
    true
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `needle` (already lower-cased) occurs in `haystack` (lower-cased).
fn occurs(haystack: &str, needle: &str, whole_word: bool) -> bool {
    if needle.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(found) = haystack[from..].find(needle) {
        let start = from + found;
        let end = start + needle.len();
        if !whole_word {
            return true;
        }
        let before_ok = haystack[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !is_word_char(c));
        let after_ok = haystack[end..]
            .chars()
            .next()
            .is_none_or(|c| !is_word_char(c));
        if before_ok && after_ok {
            return true;
        }
        // Step past this occurrence's first character (a char boundary).
        from = start + haystack[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// The banned words of `params` found in any of `texts`, in list order, each once.
pub fn find_banned<'a>(params: &'a KeywordParams, texts: &[&str]) -> Vec<&'a str> {
    let lowered: Vec<String> = texts.iter().map(|t| t.to_lowercase()).collect();
    params
        .words
        .iter()
        .filter(|word| {
            let needle = word.trim().to_lowercase();
            lowered
                .iter()
                .any(|text| occurs(text, &needle, params.whole_word))
        })
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(words: &[&str], whole_word: bool) -> KeywordParams {
        KeywordParams {
            words: words.iter().map(|w| (*w).to_owned()).collect(),
            whole_word,
        }
    }

    #[test]
    fn whole_words_do_not_match_inside_other_words() {
        let p = params(&["ass", "free money"], true);
        assert!(find_banned(&p, &["A class act", "passage"]).is_empty());
        assert_eq!(find_banned(&p, &["You ASS!"]), ["ass"]);
        assert_eq!(
            find_banned(&p, &["get FREE   money"]),
            Vec::<&str>::new(),
            "phrases match as written"
        );
        assert_eq!(find_banned(&p, &["get free money now"]), ["free money"]);
        assert_eq!(
            find_banned(&p, &["ass-hat", "(ass)"]),
            ["ass"],
            "punctuation is a boundary"
        );
        assert!(
            find_banned(&p, &["ass_hat"]).is_empty(),
            "underscore joins words"
        );
    }

    #[test]
    fn substring_mode_matches_anywhere() {
        let p = params(&["ass"], false);
        assert_eq!(find_banned(&p, &["A class act"]), ["ass"]);
    }

    #[test]
    fn matching_is_case_insensitive_beyond_ascii() {
        let p = params(&["Straße", "ÉTÉ"], true);
        assert_eq!(
            find_banned(&p, &["die STRASSE", "die straße", "un été chaud"]),
            ["Straße", "ÉTÉ"]
        );
    }

    #[test]
    fn a_later_whole_word_occurrence_is_found_after_a_partial_one() {
        let p = params(&["cat"], true);
        assert_eq!(find_banned(&p, &["concatenate the cat"]), ["cat"]);
    }
}
