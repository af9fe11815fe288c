//! Operating-system code: the only place that reads OS randomness or may use `unsafe`.

pub mod rng;
