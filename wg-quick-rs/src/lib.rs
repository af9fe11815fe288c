//! wg-quick-rs: plan and execute `up`, `down`, `save`, `strip` (skeleton; see issue 4).
