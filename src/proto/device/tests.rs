//! Device unit tests are in tests/simulation.rs (two devices on a virtual clock).
