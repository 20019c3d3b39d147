//! Each binary in `src/bin/` is a `#![no_std] #![no_main]` `_start` that calls exactly one
//! operator (or all of them) through the firmware's call file, with every input behind
//! `black_box`: its `.text` is what that operator costs in flash, and its symbols show which
//! software floating-point routines the operator pulls in. Both layouts are linked (the layout
//! is a `black_box` value), as in `ensure_no_std`.

#![no_std]

#[path = "../../../ensure_no_std/src/bare.rs"]
mod bare;
#[path = "../../../ensure_no_std/src/workload.rs"]
mod workload;

pub use bare::idle;
pub use calls;
use calls::{Extras, Io, Set};
use cases::{Axes, Dims, Layout, Momentum};
use core::hint::black_box;
use workload::{C, LEN, N, S};

fn dims() -> Dims {
    match black_box(Layout::ChannelsLast) {
        Layout::ChannelsFirst => Dims::first(N, C, S),
        Layout::ChannelsLast => Dims::last(N, S, C),
    }
}

fn input() -> [f32; LEN] {
    let mut x = [0.0f32; LEN];
    for (i, v) in x.iter_mut().enumerate() {
        *v = (i % 7) as f32 * 0.5 - 1.0;
    }
    black_box(x)
}

fn eps() -> f32 {
    black_box(1e-5)
}

/// LayerNorm over the channels at each position (`[rows, cols]` is the channels-last case).
pub fn layer_norm(set: Set) {
    let (x, mut y) = (input(), [0.0f32; LEN]);
    let (gamma, beta) = (black_box([1.5f32; C]), black_box([0.25f32; C]));
    let (mut mean, mut inv) = ([0.0f32; N * S], [0.0f32; N * S]);
    let e = Extras {
        gamma: Some(&gamma),
        beta: Some(&beta),
        saved: Some((&mut mean, &mut inv)),
        ..Extras::default()
    };
    let r = calls::layer_norm(set, dims(), eps(), Io::OutOfPlace(&x, &mut y), e);
    black_box((r.is_ok(), &y, &mean, &inv));
}

/// RMSNorm, with its inverse rms.
pub fn rms_norm(set: Set) {
    let (x, mut y) = (input(), [0.0f32; LEN]);
    let gamma = black_box([1.5f32; C]);
    let mut inv = [0.0f32; N * S];
    let e = Extras {
        gamma: Some(&gamma),
        saved: Some((&mut [], &mut inv)),
        ..Extras::default()
    };
    let r = calls::rms_norm(set, dims(), eps(), Io::OutOfPlace(&x, &mut y), e);
    black_box((r.is_ok(), &y, &inv));
}

pub fn batch_norm_inference(set: Set) {
    let (x, mut y) = (input(), [0.0f32; LEN]);
    let (gamma, beta) = (black_box([1.5f32; C]), black_box([0.25f32; C]));
    let (mean, var) = (black_box([0.1f32; C]), black_box([0.9f32; C]));
    let e = Extras {
        gamma: Some(&gamma),
        beta: Some(&beta),
        stats: Some((&mean, &var)),
        ..Extras::default()
    };
    let r = calls::batch_norm_inference(set, dims(), eps(), Io::OutOfPlace(&x, &mut y), e);
    black_box((r.is_ok(), &y));
}

pub fn batch_norm_training(set: Set) {
    let (x, mut y) = (input(), [0.0f32; LEN]);
    let (gamma, beta) = (black_box([1.5f32; C]), black_box([0.25f32; C]));
    let (mut rm, mut rv) = ([0.0f32; C], [1.0f32; C]);
    let (mut sm, mut si) = ([0.0f32; C], [0.0f32; C]);
    let e = Extras {
        gamma: Some(&gamma),
        beta: Some(&beta),
        saved: Some((&mut sm, &mut si)),
        running: Some((&mut rm, &mut rv)),
        ..Extras::default()
    };
    let m = black_box(Momentum::PyTorch(0.1));
    let io = Io::OutOfPlace(&x, &mut y);
    let r = calls::batch_norm_training(set, dims(), eps(), m, io, e);
    black_box((r.is_ok(), &y, &rm, &rv, &sm, &si));
}

pub fn instance_norm(set: Set) {
    let (x, mut y) = (input(), [0.0f32; LEN]);
    let (gamma, beta) = (black_box([1.5f32; C]), black_box([0.25f32; C]));
    let (mut mean, mut inv) = ([0.0f32; N * C], [0.0f32; N * C]);
    let e = Extras {
        gamma: Some(&gamma),
        beta: Some(&beta),
        saved: Some((&mut mean, &mut inv)),
        ..Extras::default()
    };
    let r = calls::instance_norm(set, dims(), eps(), Io::OutOfPlace(&x, &mut y), e);
    black_box((r.is_ok(), &y, &mean, &inv));
}

pub fn group_norm(set: Set) {
    let (x, mut y) = (input(), [0.0f32; LEN]);
    let (gamma, beta) = (black_box([1.5f32; C]), black_box([0.25f32; C]));
    let (mut mean, mut inv) = ([0.0f32; N * 3], [0.0f32; N * 3]);
    let e = Extras {
        gamma: Some(&gamma),
        beta: Some(&beta),
        saved: Some((&mut mean, &mut inv)),
        ..Extras::default()
    };
    let io = Io::OutOfPlace(&x, &mut y);
    let r = calls::group_norm(set, dims(), black_box(3), eps(), io, e);
    black_box((r.is_ok(), &y, &mean, &inv));
}

pub fn mvn(set: Set) {
    let (x, mut y) = (input(), [0.0f32; LEN]);
    let axes = black_box(Axes::BatchAndSpatial);
    let r = calls::mvn(set, dims(), axes, Io::OutOfPlace(&x, &mut y));
    black_box((r.is_ok(), &y));
}

pub fn moments(set: Set) {
    let x = input();
    black_box(calls::moments(set, &x));
}

/// Every operator, as `ensure_no_std` calls them.
pub fn every(set: Set) {
    layer_norm(set);
    rms_norm(set);
    batch_norm_inference(set);
    batch_norm_training(set);
    instance_norm(set);
    group_norm(set);
    mvn(set);
    moments(set);
}
