//! wg-quick-rs: wg-quick semantics for wgrs (`up`, `down`, `save`, `strip`): parse the
//! config, plan the steps (pure), then execute them with rollback.

pub mod config;
pub mod exec;
pub mod plan;
pub mod resolve;
pub mod state;
pub mod uapi_text;
