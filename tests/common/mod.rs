pub mod netns;
pub mod sim;
