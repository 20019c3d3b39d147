//! Shared code of the normkern fuzz targets: structured input generators ([`input`]), the
//! tolerances around the float64 reference (the `normkern-reference` crate) and the numeric
//! domain where they hold ([`bounds`]), the oracle harness ([`check`]), the saved statistics
//! shared by the operators that write them ([`saved`]), and the conversion of normkern's types
//! to the reference's ([`adapt`], the test suite's own file).

#[path = "../../tests/common/adapt.rs"]
pub mod adapt;
pub mod bounds;
pub mod check;
pub mod input;
pub mod saved;
