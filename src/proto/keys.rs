//! Key newtypes (§5.4): defined once in the shared `wgrs-uapi` crate, re-exported here so the
//! protocol core names them as before.

pub use wgrs_uapi::keys::*;
