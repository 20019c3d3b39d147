//! The scalar path: the generic kernels over one `f32` lane. The fallback everywhere, and the
//! path the others are compared against in the tests (which compare all of them to float64).

super::kernel_set!(SCALAR, f32, f32);
