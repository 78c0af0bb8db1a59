//! The clinical core: the physiology, habits, mortality, immunization schedule and
//! cardiovascular risk that modules take for granted, computed from public statistics in
//! `data/clinical/` (each file cites its source).

pub mod cardio;
pub mod habits;
pub mod immunizations;
pub mod mortality;
pub mod physiology;
