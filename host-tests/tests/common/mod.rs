pub mod vst3;
