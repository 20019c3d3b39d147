//! The residual add fused into RMSNorm (`Kernels::add_rms_norm`); the case and its checks are
//! `normkern_fuzz::add_norm`'s, shared with the other fused-add target.
#![no_main]

use libfuzzer_sys::fuzz_target;
use normkern_fuzz::add_norm::{Input, run};
use normkern_fuzz::fused::AddRmsNorm;

fuzz_target!(|input: Input| run::<AddRmsNorm>(input));
