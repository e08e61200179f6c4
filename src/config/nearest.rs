//! "Did you mean": the allowed key nearest a mistyped one, so that the
//! message for a typo names the key that was meant rather than a list to
//! search.

/// The most edits a typo is taken to have.
const MAX_EDITS: usize = 2;

/// The one candidate within a typo of `word` (ASCII case ignored): at most
/// two edits — an insertion, deletion, substitution or swap of two
/// neighbours — and fewer than half of `word`. `None` when none is that
/// close, or two are equally close.
pub fn nearest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let word = word.to_ascii_lowercase();
    let most = MAX_EDITS.min(word.chars().count() / 2).max(1);
    let mut best: Option<(usize, &'c str)> = None;
    let mut tie = false;
    for &c in candidates {
        let d = distance(&word, &c.to_ascii_lowercase());
        match best {
            _ if d > most => {}
            Some((b, _)) if d > b => {}
            Some((b, _)) if d == b => tie = true,
            _ => {
                best = Some((d, c));
                tie = false;
            }
        }
    }
    best.filter(|_| !tie).map(|(_, c)| c)
}

/// Edits from `a` to `b`, a swap of neighbours counting as one (the
/// optimal string alignment distance).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows of the table: two back (for swaps), one back, this one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (last[j] + 1).min(row[j - 1] + 1).min(last[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut last, row);
    }
    last[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 6] = [
        "type",
        "tenant",
        "client_id",
        "client_secret_env",
        "client_secret_file",
        "client_secret_keyring",
    ];

    #[test]
    fn distances_count_each_kind_of_edit_once() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("evn", "env"), 1, "a swap of neighbours");
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("same", "same"), 0);
    }

    #[test]
    fn a_typo_finds_the_key_meant() {
        for (typo, meant) in [
            ("client_secret_evn", "client_secret_env"),
            ("client_secret_fil", "client_secret_file"),
            ("tennant", "tenant"),
            ("Client_ID", "client_id"),
            ("clientid", "client_id"),
            ("typ", "type"),
        ] {
            assert_eq!(nearest(typo, &KEYS), Some(meant), "{typo}");
        }
    }

    #[test]
    fn nothing_is_suggested_for_a_word_that_is_no_typo_or_is_ambiguous() {
        for word in ["certificate", "secret", "id", "x", "client_secret"] {
            assert_eq!(nearest(word, &KEYS), None, "{word}");
        }
        assert_eq!(nearest("ab", &["ax", "ay"]), None, "two equally near");
    }
}
