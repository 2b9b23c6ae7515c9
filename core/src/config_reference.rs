//! `docs/CONFIGURATION.md`, generated from the commented defaults file. That file is
//! the configuration's single description: [`crate::config::Config`] has no field
//! defaults of its own and refuses unknown keys, so loading it proves that it names
//! every key and only real ones; this turns its comments into the reference table.

use crate::config::DEFAULTS_TOML;

/// One key: its dotted name, its default as TOML (`None`: unset), and what it means.
#[derive(Debug, PartialEq, Eq)]
struct Key {
    name: String,
    default: Option<String>,
    meaning: String,
}

/// The reference as Markdown.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated from [`core/config.default.toml`](../core/config.default.toml) (also printed\n\
         by `herald config`); a test fails when the two differ. Every key can be set in a\n\
         TOML file (`--config` or `HERALD_CONFIG`) and then by an environment variable:\n\
         `HERALD_<KEY>` for a top-level key, `HERALD_<SECTION>__<KEY>` in a section (e.g.\n\
         `HERALD_DELIVERY__PACING__FLOOR_PER_SEC`).\n\n\
         | key | environment variable | default | meaning |\n|---|---|---|---|\n",
    );
    for key in keys(DEFAULTS_TOML) {
        let variable = format!("HERALD_{}", key.name.replace('.', "__").to_uppercase());
        let default = key
            .default
            .map_or_else(|| "unset".to_owned(), |value| format!("`{value}`"));
        let meaning = key.meaning.replace('|', "\\|").replace('<', "&lt;");
        out.push_str(&format!(
            "| `{}` | `{variable}` | {default} | {meaning} |\n",
            key.name
        ));
    }
    out
}

/// The keys of a defaults file in order, each with the comment lines right above it
/// (keys right below one another share the comment above the first). A comment line
/// `# key = value` is a key left unset, with that example value.
fn keys(toml: &str) -> Vec<Key> {
    let mut section = String::new();
    let mut comment: Vec<&str> = Vec::new();
    // The last line was a key: a comment that follows starts a new key's description.
    let mut after_key = false;
    let mut keys = Vec::new();
    let mut push = |section: &str, name: &str, default: Option<String>, comment: &[&str]| {
        let name = if section.is_empty() {
            name.to_owned()
        } else {
            format!("{section}.{name}")
        };
        keys.push(Key {
            name,
            default,
            meaning: comment.join(" "),
        });
    };
    for line in toml.lines().map(str::trim) {
        if line.is_empty() {
            comment.clear();
            after_key = false;
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            comment.clear();
            after_key = false;
        } else if let Some(text) = line.strip_prefix('#') {
            let text = text.trim();
            match assignment(text) {
                Some((name, _example)) => {
                    push(&section, name, None, &comment);
                    comment.clear();
                    after_key = false;
                }
                None => {
                    if std::mem::take(&mut after_key) {
                        comment.clear();
                    }
                    comment.push(text);
                }
            }
        } else if let Some((name, value)) = assignment(line) {
            push(&section, name, Some(value.to_owned()), &comment);
            after_key = true;
        }
    }
    keys
}

/// `name = value` where `name` is a bare TOML key.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(" = ")?;
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    bare.then_some((name, value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_take_the_comment_above_them_and_commented_keys_are_unset() {
        let toml = "# Top.\nlisten = \"x\"\n\n[a]\n# First\n# line.\none = 1\nalso = 3\n# Unset; e.g.:\n# two = 2\n";
        assert_eq!(
            keys(toml),
            [
                Key {
                    name: "listen".into(),
                    default: Some("\"x\"".into()),
                    meaning: "Top.".into()
                },
                Key {
                    name: "a.one".into(),
                    default: Some("1".into()),
                    meaning: "First line.".into()
                },
                Key {
                    name: "a.also".into(),
                    default: Some("3".into()),
                    meaning: "First line.".into()
                },
                Key {
                    name: "a.two".into(),
                    default: None,
                    meaning: "Unset; e.g.:".into()
                },
            ]
        );
    }

    #[test]
    fn every_key_of_the_defaults_is_described() {
        let keys = keys(DEFAULTS_TOML);
        assert!(keys.len() > 40, "{keys:?}");
        for key in &keys {
            assert!(!key.meaning.is_empty(), "{} has no comment", key.name);
        }
        assert!(
            keys.iter()
                .any(|k| k.name == "delivery.pacing.floor_per_sec")
        );
        assert!(
            keys.iter()
                .any(|k| k.name == "metrics.listen" && k.default.is_none())
        );
    }

    /// `docs/CONFIGURATION.md` is what [`markdown`] makes; `UPDATE_SNAPSHOTS=1`
    /// rewrites it.
    #[test]
    fn the_configuration_reference_matches_the_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/CONFIGURATION.md");
        let generated = markdown();
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/CONFIGURATION.md is out of date: run UPDATE_SNAPSHOTS=1 cargo test -p herald-core --lib config_reference"
        );
    }
}
