//! Randomness comes in from the caller: the engine never draws it by itself.

/// A source of cryptographically secure random bytes. The server passes the operating system's
/// generator; tests pass a seeded one so that whole protocol runs are reproducible.
pub trait RandomSource {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn fill(&mut self, dest: &mut [u8]) {
        (**self).fill(dest);
    }
}
