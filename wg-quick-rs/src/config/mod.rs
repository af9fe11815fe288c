//! wg0.conf text ⇄ typed [`Config`] (parser, `strip`, rendering for `save`).

mod error;
mod impls;
mod lex;
mod parse;
mod render;
mod strip;
mod types;
mod values;

pub use error::ConfigError;
pub use impls::{KEY_BASE64_LEN, KEY_HEX_LEN};
pub use parse::{parse, parse_rt_tables, parse_with, ParseOptions};
pub use render::{merge_for_save, render};
pub use strip::strip;
pub use types::*;

pub(crate) use values::decimal;
