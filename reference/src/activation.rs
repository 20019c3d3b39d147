//! The activations engines apply after a normalization, in float64, written in the forms that
//! do not cancel (so their tails are exact too).

/// An activation applied to a normalized value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Relu,
    /// `x * sigmoid(x)`.
    Silu,
    /// `x * Φ(x) = 0.5 x erfc(-x / √2)` (ONNX Gelu, `approximate = "none"`).
    Gelu,
    /// `0.5 x (1 + tanh(u)) = x * sigmoid(2u)`, `u = √(2/π) (x + 0.044715 x³)` (ONNX Gelu,
    /// `approximate = "tanh"`).
    GeluTanh,
}

impl Activation {
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Activation::Relu => {
                if x.is_nan() {
                    x
                } else {
                    x.max(0.0)
                }
            }
            Activation::Silu => x / (1.0 + (-x).exp()),
            Activation::Gelu => 0.5 * x * libm::erfc(-x / core::f64::consts::SQRT_2),
            Activation::GeluTanh => {
                let u = (2.0 / core::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
                x / (1.0 + (-2.0 * u).exp())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Activation;

    #[test]
    fn tails_do_not_cancel() {
        assert!(Activation::Gelu.apply(-10.0) < 0.0);
        assert!(Activation::GeluTanh.apply(-10.0) < 0.0);
        assert_eq!(Activation::Silu.apply(-1000.0), -0.0);
        assert_eq!(Activation::Relu.apply(-2.0), 0.0);
        assert!((Activation::Gelu.apply(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
    }
}
