//! A small RIFF/RF64 chunk scanner: where each top-level chunk of a WAV file lies, so that the
//! metadata chunks post-production relies on (`bext`, `iXML`, `LIST`-`INFO`) can be copied from
//! an input into its output as they are (symphonia reads the samples, not these).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::wav::RawChunk;

/// One top-level chunk: its id and where its body lies in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub id: [u8; 4],
    pub offset: u64,
    pub len: u64,
}

/// The chunks of a RIFF or RF64 WAVE file in order, or `None` if it is not one. RF64's
/// 0xFFFFFFFF sizes are taken from its `ds64` chunk. A chunk running past the end of the file
/// (a truncated file) ends the list.
pub fn chunks<R: Read + Seek>(r: &mut R) -> std::io::Result<Option<Vec<Chunk>>> {
    let mut head = [0u8; 12];
    r.seek(SeekFrom::Start(0))?;
    if r.read_exact(&mut head).is_err() {
        return Ok(None);
    }
    let rf64 = match &head[..4] {
        b"RIFF" => false,
        b"RF64" => true,
        _ => return Ok(None),
    };
    if &head[8..] != b"WAVE" {
        return Ok(None);
    }
    let file_len = r.seek(SeekFrom::End(0))?;
    let mut data_len_64 = None;
    let mut out = Vec::new();
    let mut pos = 12u64;
    while pos + 8 <= file_len {
        let mut h = [0u8; 8];
        r.seek(SeekFrom::Start(pos))?;
        r.read_exact(&mut h)?;
        let id: [u8; 4] = [h[0], h[1], h[2], h[3]];
        let mut len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as u64;
        if rf64 && &id == b"ds64" && len >= 16 {
            let mut b = [0u8; 16];
            r.read_exact(&mut b)?;
            data_len_64 = Some(u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]));
        }
        if rf64 && &id == b"data" && len == u32::MAX as u64 {
            len = data_len_64.unwrap_or(file_len - pos - 8);
        }
        let offset = pos + 8;
        if offset + len > file_len {
            break;
        }
        out.push(Chunk { id, offset, len });
        pos = offset + len + len % 2;
    }
    Ok(Some(out))
}

/// Chunks copied from a WAV input to a WAV output: the Broadcast WAV description (`bext`, whose
/// time reference stays true because the output keeps the input's timing), `iXML`, and `LIST`
/// chunks of type `INFO` (title, artist, comments). Larger than this, a chunk is not metadata.
const MAX_COPIED: u64 = 16 << 20;

/// The metadata chunks of the WAV file at `path`, in file order; none for other formats.
pub fn metadata_chunks(path: &Path) -> Result<Vec<RawChunk>, String> {
    let err = |e: std::io::Error| format!("cannot read metadata: {e}");
    let mut r = BufReader::new(File::open(path).map_err(err)?);
    let Some(list) = chunks(&mut r).map_err(err)? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for c in list {
        let wanted = match &c.id {
            b"bext" | b"iXML" => true,
            b"LIST" => {
                let mut kind = [0u8; 4];
                r.seek(SeekFrom::Start(c.offset)).map_err(err)?;
                c.len >= 4 && r.read_exact(&mut kind).is_ok() && &kind == b"INFO"
            }
            _ => false,
        };
        if !wanted {
            continue;
        }
        if c.len > MAX_COPIED {
            return Err(format!("{} chunk of {} bytes is too large to copy", String::from_utf8_lossy(&c.id), c.len));
        }
        let mut body = vec![0u8; c.len as usize];
        r.seek(SeekFrom::Start(c.offset)).map_err(err)?;
        r.read_exact(&mut body).map_err(err)?;
        out.push(RawChunk { id: c.id, body });
    }
    Ok(out)
}
