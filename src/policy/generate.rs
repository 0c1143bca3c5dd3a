//! Random passwords that satisfy a policy, drawn from the OS CSPRNG.
//!
//! One character is drawn from each character class first, the rest from the union of the
//! allowed classes, then the whole is Fisher–Yates shuffled. Every draw is uniform (rejection
//! sampling, no modulo bias). The password is assembled in fixed stack arrays that are zeroized
//! when the function returns, and copied into the caller's [`SecretBuf`]; no `String` is built.
//! The candidate is checked against the policy and drawn again if a rule that chance can break
//! (repeats, containing the user name, email or phone) failed.
//!
//! Look-alike characters (`l`, `I`, `O`, `0`, `1`) are left out of letters and digits, since
//! some of these passwords get typed by hand (the BM VPN client); the provider's own symbol set
//! is used as given, minus quotes, backslash, backtick and space where other symbols remain.

use zeroize::{Zeroize, Zeroizing};

use super::{Policy, Specials};
use crate::secret::{MAX_PASSWORD_CHARS, Refused, SecretBuf, Storage};

/// The length [`generate`] is usually asked for.
pub const DEFAULT_GENERATED_LENGTH: usize = 16;

/// Lowercase letters used for generating (no `l`).
const LOWER: &str = "abcdefghijkmnopqrstuvwxyz";
/// Uppercase letters used for generating (no `I`, `O`).
const UPPER: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Digits used for generating (no `0`, `1`).
const DIGITS: &str = "23456789";
/// Symbols generated when any ASCII symbol is allowed: no quotes, backslash, backtick, comma,
/// pipe or space, which are awkward in shells and config files.
const ANY_SYMBOLS: &str = "!#$%&()*+-./:;<=>?@[]^_{}~";
/// Symbols left out of a provider's or profile's set when others remain.
const AWKWARD_SYMBOLS: &str = "'\"`\\ ";

/// How many candidates to draw before giving up on a policy chance cannot satisfy.
const ATTEMPTS: usize = 1000;

/// Why no password was generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed ({0}); nothing was generated")]
    Random(#[from] getrandom::Error),
    /// No password can meet the policy (e.g. `[profile.policy]` leaves no usable characters).
    #[error(
        "no password can meet this policy; check the profile's [profile.policy] settings \
         and the email/phone it must not contain"
    )]
    Unsatisfiable,
    /// The destination field is too small.
    #[error(transparent)]
    Full(#[from] Refused),
}

/// Fill `out` (cleared first) with a random password satisfying `policy`, from the OS CSPRNG.
/// Length 16 by default, clamped to the policy's [min, max]. Never builds a String.
///
/// Rules that depend on the current password are not considered (a random password differs
/// from it with overwhelming probability); the user name is avoided even where no rule asks.
pub fn generate<S: Storage>(
    policy: &Policy,
    length: usize,
    out: &mut SecretBuf<S>,
) -> Result<(), GenerateError> {
    out.clear();
    let lengths = policy.length_range();
    let len = length.clamp(*lengths.start(), *lengths.end());
    let groups = groups(policy);
    let union: Vec<char> = groups.concat();
    if union.is_empty() {
        return Err(GenerateError::Unsatisfiable);
    }

    let mut rng = Rng::new();
    let mut chars = Zeroizing::new(['\0'; MAX_PASSWORD_CHARS]);
    let mut utf8 = Zeroizing::new([0u8; MAX_PASSWORD_CHARS * 4]);
    for _ in 0..ATTEMPTS {
        let picked = &mut chars[..len];
        for (i, slot) in picked.iter_mut().enumerate() {
            let alphabet = groups.get(i).unwrap_or(&union);
            *slot = alphabet[rng.below(alphabet.len())?];
        }
        for i in (1..len).rev() {
            let j = rng.below(i + 1)?;
            picked.swap(i, j);
        }
        let mut n = 0;
        for c in picked.iter() {
            n += c.encode_utf8(&mut utf8[n..]).len();
        }
        let Ok(text) = std::str::from_utf8(&utf8[..n]) else {
            continue;
        };
        if policy.accepts_generated(text) {
            out.insert_str(text)?;
            return Ok(());
        }
    }
    Err(GenerateError::Unsatisfiable)
}

/// The character groups to draw from, one guaranteed draw each, in this order: digits,
/// symbols, lowercase, uppercase (so a very short password still gets distinct classes under
/// either scheme). Empty groups are left out.
fn groups(policy: &Policy) -> Vec<Vec<char>> {
    let symbols: Vec<char> = match policy.specials() {
        Specials::AsciiSymbols => ANY_SYMBOLS.chars().collect(),
        Specials::Only(set) => {
            let usable: Vec<char> = set.chars().filter(|c| !c.is_whitespace()).collect();
            let friendly: Vec<char> = usable
                .iter()
                .copied()
                .filter(|c| !AWKWARD_SYMBOLS.contains(*c))
                .collect();
            if friendly.is_empty() {
                usable
            } else {
                friendly
            }
        }
    };
    // Both letter cases are drawn even where they count as one class (Tencent): it only makes
    // the password stronger.
    let mut groups = vec![
        DIGITS.chars().collect(),
        symbols,
        LOWER.chars().collect(),
        UPPER.chars().collect(),
    ];
    groups.retain(|g| !g.is_empty());
    groups
}

/// Random words from the OS CSPRNG, fetched in blocks; every byte is wiped once used and the
/// block on drop, since the bytes determine the password.
struct Rng {
    pool: [u8; 256],
    used: usize,
}

impl Rng {
    fn new() -> Self {
        Rng {
            pool: [0; 256],
            used: 256,
        }
    }

    fn next_u32(&mut self) -> Result<u32, getrandom::Error> {
        if self.used + 4 > self.pool.len() {
            getrandom::fill(&mut self.pool)?;
            self.used = 0;
        }
        let bytes = &mut self.pool[self.used..self.used + 4];
        let mut word = [0u8; 4];
        word.copy_from_slice(bytes);
        bytes.zeroize();
        self.used += 4;
        let value = u32::from_le_bytes(word);
        word.zeroize();
        Ok(value)
    }

    /// A uniform index in `0..n`.
    fn below(&mut self, n: usize) -> Result<usize, getrandom::Error> {
        uniform_below(n, || self.next_u32())
    }
}

impl Drop for Rng {
    fn drop(&mut self) {
        self.pool.zeroize();
    }
}

/// A uniform value in `0..n` from uniform 32-bit words, by rejection: words below
/// `2^32 mod n` are drawn again, so every residue has the same number of preimages.
fn uniform_below<E>(n: usize, mut next: impl FnMut() -> Result<u32, E>) -> Result<usize, E> {
    // Alphabets and shuffle ranges are tiny; `max(1)` keeps a misuse from dividing by zero.
    let n = u32::try_from(n).unwrap_or(u32::MAX).max(1);
    let threshold = n.wrapping_neg() % n;
    loop {
        let x = next()?;
        if x >= threshold {
            return Ok((x % n) as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Kind;

    #[test]
    fn rejection_sampling_redraws_the_biased_low_words() {
        // 2^32 mod 3 = 1: the word 0 must be rejected, 1 accepted.
        let mut words = [0u32, 5].into_iter();
        let r: Result<usize, ()> = uniform_below(3, || Ok(words.next().expect("enough words")));
        assert_eq!(r, Ok(2));
        assert_eq!(words.next(), None);

        // 2^32 mod 10 = 6: words 0..=5 are rejected.
        let mut words = [0u32, 3, 5, 6].into_iter();
        let r: Result<usize, ()> = uniform_below(10, || Ok(words.next().expect("enough words")));
        assert_eq!(r, Ok(6));

        // Powers of two reject nothing.
        let r: Result<usize, ()> = uniform_below(8, || Ok(0));
        assert_eq!(r, Ok(0));
        let r: Result<usize, ()> = uniform_below(8, || Ok(u32::MAX));
        assert_eq!(r, Ok(7));
    }

    #[test]
    fn draws_cover_the_range_roughly_evenly() {
        let mut rng = Rng::new();
        let mut counts = [0usize; 7];
        for _ in 0..70_000 {
            counts[rng.below(7).expect("OS RNG works")] += 1;
        }
        // Expected 10,000 each; ±1,000 is over 10 standard deviations.
        assert!(
            counts.iter().all(|&c| (9_000..=11_000).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn generated_text_lands_in_the_buffer_and_nowhere_else() {
        let mut storage = [0u8; 64];
        {
            let mut out = SecretBuf::over(&mut storage);
            generate(&Policy::for_kind(Kind::HuaweiDcs), 20, &mut out).expect("generates");
            assert_eq!(out.char_count(), 20);
            assert_eq!(out.len_bytes(), 20);
        }
        // Dropping the buffer wiped its storage.
        assert!(storage.iter().all(|&b| b == 0));
    }

    #[test]
    fn every_group_is_drawn_even_when_no_rule_asks() {
        // CIAM requires no classes; each password still has one of every group.
        let policy = Policy::for_kind(Kind::TencentCiam);
        let mut out = SecretBuf::password();
        for _ in 0..1000 {
            generate(&policy, 8, &mut out).expect("generates");
            let text = out.expose();
            for group in [LOWER, UPPER, DIGITS, ANY_SYMBOLS] {
                assert!(text.chars().any(|c| group.contains(c)));
            }
        }
    }

    #[test]
    fn groups_avoid_awkward_symbols_when_others_remain() {
        let dcs = groups(&Policy::for_kind(Kind::HuaweiDcs));
        assert!(!dcs[1].contains(&'`') && !dcs[1].contains(&'\\'));
        assert!(dcs[1].contains(&'@'));
    }
}
