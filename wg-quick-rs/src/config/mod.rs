//! wg0.conf text ⇄ typed [`Config`] (parser, `strip`, rendering for `save`).

mod types;

pub use types::*;
