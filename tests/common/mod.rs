pub mod mem_daemon;
pub mod netns;
pub mod quick;
pub mod sim;
pub mod tunnel;
pub mod wg_daemon;
