//! Shared code of the normkern fuzz targets: structured input generators ([`input`]), the float64
//! reference and its tolerances ([`reference`]), and the oracle harness ([`check`]).

pub mod check;
pub mod input;
pub mod reference;
