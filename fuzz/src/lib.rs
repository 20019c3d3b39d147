//! Shared code of the normkern fuzz targets: structured input generators ([`input`]), the
//! tolerances around the float64 reference (the `normkern-reference` crate) and the numeric
//! domain where they hold ([`bounds`]), the oracle harness ([`check`]), the element types a
//! case runs in ([`elem`]), the saved statistics shared by the operators that write them
//! ([`saved`]), the fused residual add ([`fused`]) and the body of its two targets
//! ([`add_norm`]), and, from the test suite, the conversion of normkern's types to the
//! reference's ([`adapt`]) and the element types and activations as the tests handle them
//! ([`common::engine`]).

#[path = "../../tests/common/adapt.rs"]
pub mod adapt;
pub mod add_norm;
pub mod bounds;
pub mod check;
pub mod elem;
pub mod fused;
pub mod input;
pub mod saved;

#[path = "../../tests/common/engine.rs"]
pub mod engine;

/// The test suite's `tests/common` files the fuzz oracle shares, under the module path their
/// macros name.
pub mod common {
    pub use super::engine;
}
