//! The residual add fused into LayerNorm (`Kernels::add_layer_norm`); the case and its checks are
//! `normkern_fuzz::add_norm`'s, shared with the other fused-add target.
#![no_main]

use libfuzzer_sys::fuzz_target;
use normkern_fuzz::add_norm::{Input, run};
use normkern_fuzz::fused::AddLayerNorm;

fuzz_target!(|input: Input| run::<AddLayerNorm>(input));
