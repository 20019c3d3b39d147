//! Optional per-channel (or per-row) gamma and beta.

/// Optional scale and shift indexed by channel; absent means 1 and 0.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ChannelAffine<'a> {
    pub gamma: Option<&'a [f32]>,
    pub beta: Option<&'a [f32]>,
}

impl ChannelAffine<'_> {
    #[inline]
    pub(crate) fn gamma(&self, c: usize) -> f32 {
        self.gamma.map_or(1.0, |g| g[c])
    }

    #[inline]
    pub(crate) fn beta(&self, c: usize) -> f32 {
        self.beta.map_or(0.0, |b| b[c])
    }
}
