//! The residual add fused into LayerNorm and RMSNorm (`Kernels::add_layer_norm`,
//! `Kernels::add_rms_norm`) as the oracle sees it: one call in any element type, with any
//! activation and wherever the sum goes, checking the sum itself (the harness checks the rest).
//!
//! The sum is `(x + skip) + bias` in f32 (without a bias `x + skip`), rounded to the element
//! type: on success the buffer it goes to (its own, or the residual) holds exactly that, NaN
//! where that is NaN; on error that buffer is untouched. A skip that is only read is never
//! written.

use crate::common::engine::{self, Act, Elem, with_activation};
use crate::input::Len;
use arbitrary::Arbitrary;
use normkern::{
    Activation, InOut, Kernels, LayerNorm, NormError, Residual, RmsNorm, SavedStats, Shape,
};

/// Where the sum goes.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SumTo {
    /// `Residual::new`: not written.
    Nowhere,
    /// `Residual::sum_to`: a buffer of its own, of this length relative to the tensor's.
    Own(Len),
    /// `Residual::accumulate`: over the residual.
    Residual,
}

/// The activation after the norm.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ActPick {
    None,
    Relu,
    Silu,
    Gelu,
    GeluTanh,
}

impl ActPick {
    pub fn act(self) -> Act {
        match self {
            ActPick::None => Act::None,
            ActPick::Relu => Act::Relu,
            ActPick::Silu => Act::Silu,
            ActPick::Gelu => Act::Gelu,
            ActPick::GeluTanh => Act::GeluTanh,
        }
    }
}

/// The operator a fused-add target calls: each target compiles only its own.
pub trait FusedNorm {
    /// RMSNorm, else LayerNorm.
    const RMS: bool;

    /// The fused call of `f`'s parameters with `a` after the norm, the statistics in `extras`
    /// when asked for (LayerNorm's mean and inverse std, RMSNorm's inverse root mean squares).
    fn call<T: Elem, A: Activation>(
        f: &Fused<'_>,
        k: &Kernels,
        io: InOut<'_, T>,
        residual: Residual<'_, T>,
        a: A,
        extras: &mut [Vec<f32>],
    ) -> Result<(), NormError>;
}

/// `Kernels::add_layer_norm`.
pub struct AddLayerNorm;

impl FusedNorm for AddLayerNorm {
    const RMS: bool = false;

    fn call<T: Elem, A: Activation>(
        f: &Fused<'_>,
        k: &Kernels,
        io: InOut<'_, T>,
        residual: Residual<'_, T>,
        a: A,
        extras: &mut [Vec<f32>],
    ) -> Result<(), NormError> {
        let mut p = LayerNorm::new().eps(f.eps);
        if let Some(g) = f.gamma {
            p = p.gamma(g);
        }
        if let Some(b) = f.beta {
            p = p.beta(b);
        }
        let saved = match extras {
            [mean, inv_std] => Some(SavedStats::new(mean, inv_std)),
            _ => None,
        };
        k.add_layer_norm(&p.then(a), f.shape, io, residual, saved)
    }
}

/// `Kernels::add_rms_norm`.
pub struct AddRmsNorm;

impl FusedNorm for AddRmsNorm {
    const RMS: bool = true;

    fn call<T: Elem, A: Activation>(
        f: &Fused<'_>,
        k: &Kernels,
        io: InOut<'_, T>,
        residual: Residual<'_, T>,
        a: A,
        extras: &mut [Vec<f32>],
    ) -> Result<(), NormError> {
        let mut p = RmsNorm::new().eps(f.eps);
        if let Some(g) = f.gamma {
            p = p.gamma(g);
        }
        let inv_rms = extras.first_mut().map(|v| &mut v[..]);
        k.add_rms_norm(&p.then(a), f.shape, io, residual, inv_rms)
    }
}

/// One fused layer, its residual input and where the sum goes.
#[derive(Debug, Clone, Copy)]
pub struct Fused<'a> {
    /// RMSNorm (`add_rms_norm`), else LayerNorm (`add_layer_norm`).
    pub rms: bool,
    pub eps: f32,
    pub gamma: Option<&'a [f32]>,
    /// LayerNorm only.
    pub beta: Option<&'a [f32]>,
    pub bias: Option<&'a [f32]>,
    pub act: Act,
    pub shape: Shape,
    /// The skip (residual) values, already values of the element type.
    pub skip: &'a [f32],
    pub sum: SumTo,
    /// Length of the sum's own buffer (with [`SumTo::Own`]).
    pub sum_len: usize,
    /// The element type's sentinel, widened: the sum's own buffer is pre-filled with it.
    pub sentinel: f32,
}

impl Fused<'_> {
    /// The operator's name, as its errors give it.
    pub fn name(&self) -> &'static str {
        if self.rms {
            "add_rms_norm"
        } else {
            "add_layer_norm"
        }
    }

    /// The fused call of `N` on `io` (holding `x`, widened), the statistics in `extras` (LayerNorm's
    /// mean and inverse std, or RMSNorm's inverse root mean squares, when asked for); panics
    /// if the sum or the residual is not as the module docs say.
    pub fn call<N: FusedNorm, T: Elem>(
        &self,
        k: &Kernels,
        io: InOut<'_, T>,
        x: &[f32],
        extras: &mut [Vec<f32>],
    ) -> Result<(), NormError> {
        let skip: Vec<T> = engine::round_all(self.skip);
        let sentinel = T::round(self.sentinel);
        let mut own = vec![
            sentinel;
            if let SumTo::Own(_) = self.sum {
                self.sum_len
            } else {
                0
            }
        ];
        let mut accumulated = skip.clone();
        let result = {
            let mut residual = match self.sum {
                SumTo::Nowhere => Residual::new(&skip),
                SumTo::Own(_) => Residual::new(&skip).sum_to(&mut own),
                SumTo::Residual => Residual::accumulate(&mut accumulated),
            };
            if let Some(b) = self.bias {
                residual = residual.bias(b);
            }
            with_activation!(self.act, a => N::call(self, k, io, residual, a, extras))
        };
        let name = self.name();
        let written = match self.sum {
            SumTo::Nowhere => None,
            SumTo::Own(_) => Some(&own),
            SumTo::Residual => Some(&accumulated),
        };
        if self.sum != SumTo::Residual {
            assert!(
                engine::same_bits(&accumulated, &skip),
                "{name}: skip written"
            );
        }
        match (written, &result) {
            (Some(_), Err(_)) if self.sum == SumTo::Residual => assert!(
                engine::same_bits(&accumulated, &skip),
                "{name}: residual written on error"
            ),
            (Some(own), Err(_)) => assert!(
                own.iter().all(|v| v.bits() == sentinel.bits()),
                "{name}: sum written on error"
            ),
            (Some(sum), Ok(())) => self.check_sum(x, sum),
            (None, _) => {}
        }
        result
    }

    /// The sum written equals the add pass, bit for bit (NaN where it is NaN).
    fn check_sum<T: Elem>(&self, x: &[f32], sum: &[T]) {
        let want = add::<T>(x, self.skip, self.bias, self.shape.c());
        assert_eq!(sum.len(), want.len(), "{}: sum length", self.name());
        for (i, (&got, &want)) in sum.iter().zip(&want).enumerate() {
            let same = if want.widen().is_nan() {
                got.widen().is_nan()
            } else {
                got.bits() == want.bits()
            };
            assert!(
                same,
                "{}: sum[{i}] = {:e}, the add pass gives {:e} ({})",
                self.name(),
                got.widen(),
                want.widen(),
                T::NAME
            );
        }
    }
}

/// The add pass: `(x + skip) + bias[channel]` in f32 (`x + skip` without a bias), rounded to
/// `T`; the channel of value `i` is `i % c`.
pub fn add<T: Elem>(x: &[f32], skip: &[f32], bias: Option<&[f32]>, c: usize) -> Vec<T> {
    x.iter()
        .zip(skip)
        .enumerate()
        .map(|(i, (&x, &s))| {
            let sum = x + s;
            T::round(match bias {
                Some(b) => sum + b[i % c],
                None => sum,
            })
        })
        .collect()
}
