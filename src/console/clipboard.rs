//! Copying a password to the terminal's clipboard with OSC 52 (`ESC ] 52 ; c ; BASE64 BEL`),
//! and clearing it again. The sequence is built in a zeroizing buffer: it holds the password.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// How long a copied password stays on the clipboard.
pub const CLEAR_AFTER: Duration = Duration::from_secs(45);

const START: &[u8] = b"\x1b]52;c;";
const END: &[u8] = b"\x07";

/// The OSC 52 sequence that puts `secret` on the clipboard, in a buffer sized once and
/// zeroized on drop.
pub fn copy_sequence(secret: &str) -> Zeroizing<Vec<u8>> {
    let encoded = base64::encoded_len(secret.len(), true).unwrap_or(0);
    let mut out = Zeroizing::new(vec![0u8; START.len() + encoded + END.len()]);
    out[..START.len()].copy_from_slice(START);
    let written = STANDARD
        .encode_slice(
            secret.as_bytes(),
            &mut out[START.len()..START.len() + encoded],
        )
        .unwrap_or(0);
    let end = START.len() + written;
    out[end..end + END.len()].copy_from_slice(END);
    out.truncate(end + END.len());
    out
}

/// The OSC 52 sequence with an empty payload: clears the clipboard.
pub fn clear_sequence() -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(START.len() + END.len()));
    out.extend_from_slice(START);
    out.extend_from_slice(END);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_are_osc_52() {
        let copy = copy_sequence("Cq9!zKanary#71");
        assert_eq!(copy.as_slice(), b"\x1b]52;c;Q3E5IXpLYW5hcnkjNzE=\x07");
        assert_eq!(copy.capacity(), copy.len(), "sized once");
        assert_eq!(clear_sequence().as_slice(), b"\x1b]52;c;\x07");
    }
}
