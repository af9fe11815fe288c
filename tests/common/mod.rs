pub mod netns;
pub mod sim;
pub mod tunnel;
pub mod wg_daemon;
