//! The world patients live in: who they are (demographics), who treats them (the provider
//! directory) and who pays (payers).

pub mod demographics;
pub mod payers;
pub mod providers;
