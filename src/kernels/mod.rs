//! Kernel layer: the hot loops over contiguous activations, written once over
//! [`Vector`](crate::simd::Vector) and run on the instruction set a [`Kernels`] handle names.
//! Kernels know nothing of layouts or operators.
//!
//! A kernel is a struct holding its arguments that implements [`Kernel`]: its `run::<A>()` is
//! always inlined, and [`Kernels::run`] calls it through one `#[target_feature]` trampoline per
//! instruction set. So each call site instantiates only its own kernels, for the sets this
//! build holds: a program that calls one operator links that operator's loops and nothing else.
//! Where a kernel picks between variants at run time (the row kernels' paths and affine kinds),
//! each variant is a function of its own (`Vector::outline`, with the same instruction set):
//! inlined whole, one row kernel was a function of 110k-125k LLVM lines, and the test build
//! took 27 minutes and 10+ GB.
//!
//! Where things are:
//! - [`dispatch`]: [`Kernels`], the handle, and the trampolines;
//! - [`seam`]: where every activation is read ([`seam::Source`]) and written
//!   ([`seam::Sink`]), and what is applied to each normalized value on the way out
//!   ([`seam::Epilogue`]): element types ([`elements`]), residual inputs ([`residual`]) and
//!   activations (`seam::Activate`, over `simd::math`) each implement one of them;
//! - [`lanes`]: loads of partial vectors, masks, lane sums;
//! - [`walk`]: the loop over a group's runs of values with independent accumulators;
//! - [`welford`]: one-pass moments of a slice ([`crate::Moments`]);
//! - [`pivot`]: the value a group's sums are taken around;
//! - [`group`]: a group's one-pass sums and its statistics (a second pass where they fall
//!   short);
//! - [`map`]: the normalize engine, one op per vector from input to output;
//! - [`runs`]: the planes of a channels-first group, each with its own scale and shift;
//! - [`rows`], [`short_rows`] and [`row_blocks`]: LayerNorm and RMSNorm rows (and
//!   InstanceNorm's channels-first planes, as rows), sharing [`row_parts`];
//! - [`columns`]: channels-last statistics and normalize, down the columns of a block, with
//!   [`periodic`] for blocks only a few vectors wide;
//! - [`calls`]: the bounds-checked entry points the operators call.

mod calls;
pub(crate) mod columns;
mod dispatch;
mod elements;
mod group;
mod lanes;
mod map;
mod periodic;
mod pivot;
mod residual;
mod row_blocks;
mod row_parts;
pub(crate) mod rows;
mod runs;
pub(crate) mod seam;
mod short_rows;
mod walk;
mod welford;

pub(crate) use calls::Strided;
pub(crate) use columns::{ColumnGeometry, ColumnParams, ColumnState, ColumnTotals};
pub use dispatch::Kernels;
pub(crate) use row_parts::{Report, RowAffine, Rows};
pub(crate) use runs::Affine;
pub(crate) use seam::{Activate, Epilogue, Identity};
pub(crate) use walk::{MeanSquare, Runs, Statistic, Variance};

use crate::simd::Arch;

/// One kernel call: an algorithm with its arguments, run on one instruction set.
pub(crate) trait Kernel {
    type Output;

    /// Whether the kernel rounds values to bfloat16 (it stores bf16 outputs, or sums a bf16
    /// residual): only such kernels are also built for [`Isa::Avx512Bf16`]'s registers.
    ///
    /// [`Isa::Avx512Bf16`]: crate::Isa::Avx512Bf16
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // read by the x86 dispatch only
    const ROUNDS_BF16: bool;

    /// Whether the kernel stores non-temporally (its `Io::nontemporal`): such stores are
    /// weakly ordered, and the x86 dispatch fences them once, as the kernel returns.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // read by the x86 dispatch only
    fn streams(&self) -> bool {
        false
    }

    /// Runs the kernel with `A`'s vector types. Implementations are `#[inline(always)]`, so
    /// the whole algorithm compiles inside the caller's `#[target_feature]` trampoline.
    ///
    /// # Safety
    /// `A`'s instruction set is available on this CPU, and every pointer the kernel holds is
    /// valid for the reads and writes its type documents.
    unsafe fn run<A: Arch>(self) -> Self::Output;
}
