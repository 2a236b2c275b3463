//! Counts of the outcomes the model tells apart.

/// How often each interesting outcome happened: a test asserts that random sequences reach them
/// all, so the model cannot pass by never getting anywhere.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    pub redemptions: u32,
    pub refused_redemptions: u32,
    pub code_replays: u32,
    pub concurrent_redemptions: u32,
    pub rotations: u32,
    pub benign_retries: u32,
    pub reuse_revocations: u32,
    pub refused_refreshes: u32,
    pub owner_revocations: u32,
    pub refused_revocations: u32,
    pub active_introspections: u32,
    pub inactive_introspections: u32,
    pub refused_introspections: u32,
    pub expired_access_tokens: u32,
    pub revoked_access_tokens: u32,
    pub purges: u32,
}

impl Coverage {
    /// Adds another run's counts.
    pub fn add(&mut self, other: &Self) {
        let Self {
            redemptions,
            refused_redemptions,
            code_replays,
            concurrent_redemptions,
            rotations,
            benign_retries,
            reuse_revocations,
            refused_refreshes,
            owner_revocations,
            refused_revocations,
            active_introspections,
            inactive_introspections,
            refused_introspections,
            expired_access_tokens,
            revoked_access_tokens,
            purges,
        } = other;
        self.redemptions += redemptions;
        self.refused_redemptions += refused_redemptions;
        self.code_replays += code_replays;
        self.concurrent_redemptions += concurrent_redemptions;
        self.rotations += rotations;
        self.benign_retries += benign_retries;
        self.reuse_revocations += reuse_revocations;
        self.refused_refreshes += refused_refreshes;
        self.owner_revocations += owner_revocations;
        self.refused_revocations += refused_revocations;
        self.active_introspections += active_introspections;
        self.inactive_introspections += inactive_introspections;
        self.refused_introspections += refused_introspections;
        self.expired_access_tokens += expired_access_tokens;
        self.revoked_access_tokens += revoked_access_tokens;
        self.purges += purges;
    }

    /// The outcomes that never happened.
    pub fn missing(&self) -> Vec<&'static str> {
        [
            ("redemptions", self.redemptions),
            ("refused_redemptions", self.refused_redemptions),
            ("code_replays", self.code_replays),
            ("concurrent_redemptions", self.concurrent_redemptions),
            ("rotations", self.rotations),
            ("benign_retries", self.benign_retries),
            ("reuse_revocations", self.reuse_revocations),
            ("refused_refreshes", self.refused_refreshes),
            ("owner_revocations", self.owner_revocations),
            ("refused_revocations", self.refused_revocations),
            ("active_introspections", self.active_introspections),
            ("inactive_introspections", self.inactive_introspections),
            ("refused_introspections", self.refused_introspections),
            ("expired_access_tokens", self.expired_access_tokens),
            ("revoked_access_tokens", self.revoked_access_tokens),
            ("purges", self.purges),
        ]
        .into_iter()
        .filter(|(_, count)| *count == 0)
        .map(|(name, _)| name)
        .collect()
    }
}
