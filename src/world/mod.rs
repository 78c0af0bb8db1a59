//! The population a run draws from: demographic tables and the sampler of people.

pub mod demographics;
