//! Shared code of the normkern fuzz targets: structured input generators ([`input`]), the float64
//! reference and its tolerances ([`reference`]), the oracle harness ([`check`]), and the saved
//! statistics shared by the operators that write them ([`saved`]).

pub mod check;
pub mod input;
pub mod reference;
pub mod saved;
