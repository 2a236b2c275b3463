//! Strict base64url: no padding, no whitespace, canonical trailing bits
//! ([RFC 7515 §2](https://www.rfc-editor.org/rfc/rfc7515#section-2): "with all trailing '='
//! characters omitted ... and without the inclusion of any line breaks, whitespace, or other
//! additional characters").
//!
//! Two decoders, chosen by what they decode. Key material (JWK members) goes through `base64ct`,
//! which runs in constant time, so decoding a private key leaks nothing through timing. Token
//! segments go through the `base64` crate, whose table-driven decoder is about ten times faster:
//! they are on the path of every request, and what they hold is either public (header,
//! signature) or only decoded after the signature verified (payload). Both are configured to
//! refuse padding and non-canonical trailing bits; the tests below hold each to that.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64ct::{Base64UrlUnpadded, Encoding};

/// Encodes without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes key material strictly and in constant time. base64ct refuses padding, characters
/// outside the URL-safe alphabet and non-canonical encodings (set unused bits in the last
/// character), so each byte string has exactly one encoding.
pub(crate) fn decode_key_material(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).ok()
}

/// Decodes a token segment: the same strictness as [`decode_key_material`], not constant-time.
/// (`URL_SAFE_NO_PAD` requires no padding and refuses non-zero trailing bits.) A token cannot be
/// altered without its signing input changing.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Decodes key material into exactly `N` bytes.
pub(crate) fn decode_key_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    decode_key_material(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7515_section_2_strict_base64url() {
        for decode in [decode, decode_key_material] {
            assert_eq!(decode("AQAB"), Some(vec![1, 0, 1]));
            assert_eq!(decode("AQ"), Some(vec![1]));
            assert_eq!(decode("AQ=="), None, "padding");
            assert_eq!(decode("AR"), None, "non-canonical trailing bits");
            assert_eq!(decode("AQF"), None, "non-canonical trailing bits");
            assert_eq!(decode("AQE"), Some(vec![1, 1]));
            assert_eq!(decode("A+/B"), None, "standard alphabet");
            assert_eq!(decode("AQ AB"), None, "whitespace");
            assert_eq!(decode("A"), None, "impossible length");
            assert_eq!(decode(""), Some(vec![]));
        }
    }

    #[test]
    fn both_decoders_agree_on_every_short_input() {
        let alphabet = b"AQgw_-=+/ .9z";
        let mut inputs = vec![String::new()];
        for _ in 0..4 {
            inputs = inputs
                .iter()
                .flat_map(|s| alphabet.iter().map(move |&c| format!("{s}{}", c as char)))
                .collect();
            for input in &inputs {
                assert_eq!(decode(input), decode_key_material(input), "{input:?}");
            }
        }
    }
}
