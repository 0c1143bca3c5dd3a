//! Remembers which current password a provider just refused, as a keyed hash only, so the
//! console can refuse to spend another attempt on the same text (issue 9, trap 1).

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// A random key drawn once per process: the hash means nothing outside it, and the same
/// password hashes differently in every run.
fn process_key() -> &'static Zeroizing<[u8; 32]> {
    static KEY: OnceLock<Zeroizing<[u8; 32]>> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut key = Zeroizing::new([0u8; 32]);
        if getrandom::fill(key.as_mut()).is_err() {
            // No randomness: fall back to the address space layout and the time, which is
            // still per-process; the hash only ever compares within this process.
            let seed = format!("{:p}{:?}", &key, std::time::SystemTime::now());
            let digest = <Sha256 as sha2::Digest>::digest(seed.as_bytes());
            key.copy_from_slice(&digest);
        }
        key
    })
}

/// The keyed hash (HMAC-SHA256 under the per-process key) of `secret`.
pub fn mac(secret: &str) -> [u8; 32] {
    keyed(secret).map_or([0; 32], |m| m.finalize().into_bytes().into())
}

/// The HMAC under the per-process key, fed `secret`; none only if the key were refused (a
/// 32-byte key is always a valid HMAC key).
fn keyed(secret: &str) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(process_key().as_ref()).ok()?;
    m.update(secret.as_bytes());
    Some(m)
}

/// The current password a provider refused for one profile, by keyed hash.
#[derive(Debug, Default, Clone)]
pub struct RefusedCurrent {
    refused: Option<(String, [u8; 32])>,
}

impl RefusedCurrent {
    /// Remembers that `profile`'s provider refused the current password hashed as `mac`.
    pub fn remember(&mut self, profile: &str, mac: [u8; 32]) {
        self.refused = Some((profile.to_string(), mac));
    }

    /// Forgets it (the profile's password changed, or a reload).
    pub fn forget(&mut self, profile: &str) {
        if self.refused.as_ref().is_some_and(|(p, _)| p == profile) {
            self.refused = None;
        }
    }

    /// Whether `secret` is the current password last refused for `profile`.
    pub fn is_refused(&self, profile: &str, secret: &str) -> bool {
        match &self.refused {
            Some((p, m)) if p == profile => {
                // Compare in constant time via the MAC's own verifier.
                keyed(secret).is_some_and(|check| check.verify_slice(m).is_ok())
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_only_a_hash_and_matches_the_same_text() {
        let mut r = RefusedCurrent::default();
        r.remember("p", mac("Old#Pass1"));
        assert!(r.is_refused("p", "Old#Pass1"));
        assert!(!r.is_refused("p", "Old#Pass2"));
        assert!(!r.is_refused("q", "Old#Pass1"));
        assert!(!format!("{r:?}").contains("Old#Pass1"));
        r.forget("p");
        assert!(!r.is_refused("p", "Old#Pass1"));
    }
}
