//! "Did you mean ...?": the closest known word by edit distance (`strsim`).

use strsim::osa_distance;

/// The candidate closest to `word` (case-insensitive optimal string alignment distance), if it
/// is close enough to be a likely typo: at most a third of the longer word, between 1 and 3.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for &candidate in candidates {
        let distance = osa_distance(&word, &candidate.to_lowercase());
        let longer = word.chars().count().max(candidate.chars().count());
        let limit = (longer / 3).clamp(1, 3);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(osa_distance("", ""), 0);
        assert_eq!(osa_distance("abc", ""), 3);
        assert_eq!(osa_distance("secretkey", "secret_key"), 1);
        assert_eq!(osa_distance("reigon", "region"), 1);
        assert_eq!(osa_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions() {
        let keys = ["secret_id", "secret_key", "session_token", "region"];
        assert_eq!(closest("secretkey", &keys), Some("secret_key"));
        assert_eq!(closest("SECRET_KEY", &keys), Some("secret_key"));
        assert_eq!(closest("reigon", &keys), Some("region"));
        assert_eq!(closest("colour", &keys), None);
        assert_eq!(closest("x", &keys), None);
    }
}
