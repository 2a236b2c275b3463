//! The two things the engine never does by itself: read the clock and draw randomness.

use gatehouse_engine::RandomSource;
use gatehouse_types::UnixTime;

/// Now, in whole seconds: the one reading of the clock for everything the server and its
/// command line decide (the engine and the store are given it).
pub fn now() -> UnixTime {
    UnixTime::from(std::time::SystemTime::now())
}

/// Now, in microseconds since the Unix epoch: the clock of rate limits, whose budgets run finer
/// than seconds.
pub(crate) fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        })
}

/// The operating system's randomness. `getrandom` failing means the machine cannot do
/// cryptography at all; the process stops rather than issue guessable credentials.
pub(crate) struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        if let Err(error) = getrandom::fill(dest) {
            tracing::error!(%error, "the operating system has no randomness; stopping");
            std::process::abort();
        }
    }
}

/// `n` random bytes as unpadded base64url.
pub(crate) fn random_token(n: usize) -> String {
    use base64ct::Encoding;
    let mut bytes = vec![0u8; n];
    OsRandom.fill(&mut bytes);
    base64ct::Base64UrlUnpadded::encode_string(&bytes)
}
