//! The engine behind the plain C plugin ABIs of Linux live chains (LADSPA: `crn-ladspa`, LV2:
//! `crn-lv2`). Both expose the same plugins with the same ports, so both are made from here:
//! [`ports`] says which plugins exist and what their ports are (the one table the LADSPA
//! descriptors and the LV2 Turtle are written from), [`instance`] runs one of them, waiting
//! for every model frame where the host runs faster than real time (`pace`), and [`handle`]
//! is what both C ABIs' entry points do with it.

pub mod handle;
pub mod instance;
mod pace;
pub mod ports;

pub use instance::Instance;
pub use ports::{Port, PortKind, Role, Variant, VARIANTS};
