//! Audio files for the command-line tool: any WAV, FLAC, MP3 or Ogg Vorbis in (through
//! symphonia) as planar `f32`; WAV (float 32, PCM 16, PCM 24; RF64 past 4 GiB) or FLAC (16 or
//! 24 bit, through flacenc) out, through a temporary file. Every failure is an error message,
//! never a panic.

mod decode;
mod dither;
mod flac;
mod pending;
pub mod riff;
pub mod wav;
mod writer;

pub use dither::Dither;
pub use decode::{decode, Audio, Decoder, SourceKind};
pub use flac::{flac_bits, FlacWriter, FLAC_BLOCK};
pub use pending::{commit, write_file, FinishError, PendingFile};
pub use writer::{encode, Encoding, WriteOptions, Writer};
