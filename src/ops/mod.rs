//! Operators: validate, then walk the rows, channels or groups of a layout and call kernels.
//! No SIMD here.

/// The builder-style setters the parameter structs share: `setters!(Type: eps, gamma, beta)`.
macro_rules! setters {
    ($ty:ident: $($setter:ident),*) => {
        impl<'a> $ty<'a> {
            $(setters!(@ $ty $setter);)*
        }
    };
    ($ty:ident<A>: $($setter:ident),*) => {
        impl<'a, A: crate::Activation> $ty<'a, A> {
            $(setters!(@ $ty $setter);)*
        }
    };
    (@ $ty:ident eps) => {
        /// Sets epsilon (default 1e-5); it must be finite and non-negative.
        pub const fn eps(self, eps: f32) -> Self {
            $ty { eps, ..self }
        }
    };
    (@ $ty:ident gamma) => {
        /// Sets the scale (per channel, or per element for row norms).
        pub const fn gamma(self, gamma: &'a [f32]) -> Self {
            $ty { gamma: Some(gamma), ..self }
        }
    };
    (@ $ty:ident beta) => {
        /// Sets the shift (per channel, or per element for row norms).
        pub const fn beta(self, beta: &'a [f32]) -> Self {
            $ty { beta: Some(beta), ..self }
        }
    };
}

pub(crate) mod affine;
pub(crate) mod batch_norm;
pub(crate) mod batch_norm_training;
pub(crate) mod check;
pub(crate) mod columns;
pub(crate) mod group_norm;
pub(crate) mod grouped;
pub(crate) mod instance_norm;
pub(crate) mod layer_norm;
pub(crate) mod moments;
pub(crate) mod mvn;
mod planes;
pub(crate) mod rms_norm;
mod row_norm;
pub(crate) mod saved;
pub mod split;
mod strided;
