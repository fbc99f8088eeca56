//! Binary fixtures the conformance contract asks for, as base64 (the crate has no base64
//! dependency, and these never change).

/// A 1×1 RGBA PNG: the image of `test_image_content`, `test_prompt_with_image` and
/// `test://static-binary` (conformance 0.1.16, "Fixture contract").
pub const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// 2 ms of 8 kHz 8-bit mono silence as a RIFF WAVE file: the audio of `test_audio_content`.
pub const WAV_SILENCE: &str =
    "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YRAAAACAgICAgICAgICAgICAgICA";

#[cfg(test)]
mod tests {
    use super::*;

    /// Standard base64 (RFC 4648 section 4) with padding; enough to check the fixtures.
    fn decode(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0);
        for byte in text.bytes().filter(|b| *b != b'=') {
            let sextet = ALPHABET
                .iter()
                .position(|a| *a == byte)
                .expect("base64 digit");
            acc = (acc << 6) | sextet as u32;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        out
    }

    #[test]
    fn png_fixture_is_a_one_pixel_png() {
        let png = decode(PNG_1X1);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(&png[16..24], &[0, 0, 0, 1, 0, 0, 0, 1]);
        assert!(png.ends_with(b"IEND\xaeB`\x82"));
    }

    #[test]
    fn wav_fixture_is_a_complete_riff_wave() {
        let wav = decode(WAV_SILENCE);
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        let riff_len = u32::from_le_bytes([wav[4], wav[5], wav[6], wav[7]]) as usize;
        assert_eq!(riff_len + 8, wav.len());
    }
}
