//! The `crn-denoise` command-line tool: file decoding and encoding (kept out of the plugin
//! binary), streamed through the engine of `crn-engine` in offline mode.

pub mod audio_io;
pub mod cli;
pub mod interrupt;
