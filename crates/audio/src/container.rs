//! What a few containers say about themselves that symphonia 0.5 does not apply: the MP4 edit
//! list (the AAC encoder's priming samples to skip) and AIFF's frame count (symphonia counts the
//! SSND chunk's 8-byte header as audio). Invariant: read-only, bounded reads of box and chunk
//! headers; a malformed structure yields `None`, never a panic.

use std::io::{Read, Seek, SeekFrom};

fn read_u32(r: &mut impl Read) -> Option<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).ok()?;
    Some(u32::from_be_bytes(b))
}

fn read_u64(r: &mut impl Read) -> Option<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b).ok()?;
    Some(u64::from_be_bytes(b))
}

/// The box header at `at`: its kind, the header's length and the whole box's size (a size of 0
/// means "to `end`"; 1 means a 64-bit size follows).
fn box_header(r: &mut (impl Read + Seek), at: u64, end: u64) -> Option<([u8; 4], u64, u64)> {
    r.seek(SeekFrom::Start(at)).ok()?;
    let size32 = read_u32(r)?;
    let mut kind = [0u8; 4];
    r.read_exact(&mut kind).ok()?;
    let (header, size) = match size32 {
        1 => (16, read_u64(r)?),
        0 => (8, end - at),
        n => (8, u64::from(n)),
    };
    Some((kind, header, size))
}

/// Finds the first box named `name` among the boxes in `[start, end)`; returns its payload range.
fn find_box(r: &mut (impl Read + Seek), start: u64, end: u64, name: &[u8; 4]) -> Option<(u64, u64)> {
    let mut at = start;
    while at + 8 <= end {
        let (kind, header, size) = box_header(r, at, end)?;
        if size < header || at.checked_add(size)? > end {
            return None;
        }
        if &kind == name {
            return Some((at + header, at + size));
        }
        at += size;
    }
    None
}

/// The first edit's `media_time` of the first track that has an edit list: the number of
/// samples (in the media's timescale, the sample rate for audio) to skip at the start.
/// The payload spans of an MP4's `trak` boxes, in order (none without a `moov`).
fn mp4_traks(r: &mut (impl Read + Seek)) -> Vec<(u64, u64)> {
    let Ok(len) = r.seek(SeekFrom::End(0)) else { return Vec::new() };
    let Some((moov_start, moov_end)) = find_box(r, 0, len, b"moov") else { return Vec::new() };
    let mut traks = Vec::new();
    let mut at = moov_start;
    while let Some(trak) = find_box(r, at, moov_end, b"trak") {
        at = trak.1;
        traks.push(trak);
    }
    traks
}

pub fn mp4_priming(r: &mut (impl Read + Seek)) -> Option<u64> {
    for (trak_start, trak_end) in mp4_traks(r) {
        let Some((edts_start, edts_end)) = find_box(r, trak_start, trak_end, b"edts") else { continue };
        let Some((elst_start, _)) = find_box(r, edts_start, edts_end, b"elst") else { continue };
        r.seek(SeekFrom::Start(elst_start)).ok()?;
        let version = read_u32(r)? >> 24;
        let entries = read_u32(r)?;
        for _ in 0..entries.min(16) {
            let media_time = if version == 1 {
                let _duration = read_u64(r)?;
                read_u64(r)? as i64
            } else {
                let _duration = read_u32(r)?;
                i64::from(read_u32(r)? as i32)
            };
            let _rate = read_u32(r)?;
            // -1 is an empty edit (a delay before the track starts), not a skip.
            if media_time >= 0 {
                return u64::try_from(media_time).ok();
            }
        }
    }
    None
}

/// A WAV header repair: where the `data` chunk's size field is, what it says, and what the file
/// actually holds after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavSizes {
    pub riff_size_at: u64,
    pub data_size_at: u64,
    pub declared_data: u32,
    pub actual_data: u64,
}

/// Reads a WAV's chunk headers up to `data`. `None` if it is not a RIFF/WAVE file.
pub fn wav_sizes(r: &mut (impl Read + Seek)) -> Option<WavSizes> {
    let len = r.seek(SeekFrom::End(0)).ok()?;
    r.seek(SeekFrom::Start(0)).ok()?;
    let mut head = [0u8; 12];
    r.read_exact(&mut head).ok()?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12u64;
    while at + 8 <= len {
        r.seek(SeekFrom::Start(at)).ok()?;
        let mut kind = [0u8; 4];
        r.read_exact(&mut kind).ok()?;
        let mut size = [0u8; 4];
        r.read_exact(&mut size).ok()?;
        let size = u32::from_le_bytes(size);
        if &kind == b"data" {
            return Some(WavSizes {
                riff_size_at: 4,
                data_size_at: at + 4,
                declared_data: size,
                actual_data: len - (at + 8),
            });
        }
        at += 8 + u64::from(size) + u64::from(size & 1);
    }
    None
}

/// Boxes that hold only boxes (with the bytes of header to skip first, for full boxes), for a
/// box whose payload starts at `payload`.
fn children_offset(r: &mut (impl Read + Seek), kind: &[u8; 4], parent: &[u8; 4], payload: u64) -> Option<u64> {
    match kind {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"edts" | b"dinf" | b"udta" | b"ilst" | b"mvex" => Some(0),
        // ISO's `meta` is a full box (4 bytes of version and flags before its children);
        // QuickTime's, which phones write, is not: its first child, `hdlr`, starts at once.
        b"meta" => {
            let mut head = [0u8; 8];
            let quicktime =
                r.seek(SeekFrom::Start(payload)).is_ok() && r.read_exact(&mut head).is_ok() && &head[4..] == b"hdlr";
            Some(if quicktime { 0 } else { 4 })
        }
        // Each tag inside `ilst` is a box of `data` / `mean` / `name` boxes.
        _ if parent == b"ilst" => Some(0),
        _ => None,
    }
}

/// Where the QuickTime-style `meta` boxes are (those without ISO's version and flags, which
/// phones write in `moov/udta`, `moov` and at the top): the offsets of their names. Symphonia 0.5
/// reads every `meta` as ISO's and loses its place in the file; renamed `free`, they are skipped
/// (they hold a phone's make and model, not a song's tags).
pub fn mp4_quicktime_metas(r: &mut (impl Read + Seek)) -> Vec<u64> {
    fn scan(r: &mut (impl Read + Seek), start: u64, end: u64, depth: u32, out: &mut Vec<u64>) {
        let mut at = start;
        while depth < 3 && at + 8 <= end {
            let Some((kind, header, size)) = box_header(r, at, end) else { return };
            if size < header {
                return;
            }
            let inner = (at + header, at.saturating_add(size).min(end));
            match &kind {
                b"meta" if children_offset(r, &kind, b"moov", inner.0) == Some(0) => out.push(at + 4),
                b"moov" | b"udta" | b"trak" => scan(r, inner.0, inner.1, depth + 1, out),
                _ => {}
            }
            at = at.saturating_add(size);
        }
    }
    let mut out = Vec::new();
    if let Ok(len) = r.seek(SeekFrom::End(0)) {
        scan(r, 0, len, 0, &mut out);
    }
    out
}

/// A download cut short: the last top-level box (the `mdat` of a fast-start file, after a whole
/// `moov`) claims more bytes than the file has left. Symphonia looks for the next box past the
/// claimed end and gives up on the file; with the size made what is there (the patches, as
/// `(offset, bytes)`), it reads the file and the decode stops, with a warning, where the audio
/// does. `None` when no box runs past the end or no whole `moov` came before it.
pub fn mp4_cut_short(r: &mut (impl Read + Seek)) -> Option<Vec<(u64, [u8; 4])>> {
    let len = r.seek(SeekFrom::End(0)).ok()?;
    let (mut at, mut moov) = (0u64, false);
    while at + 8 <= len {
        let (kind, header, size) = box_header(r, at, len)?;
        if size < header {
            return None;
        }
        match at.checked_add(size) {
            Some(end) if end <= len => {
                moov |= &kind == b"moov";
                at = end;
            }
            _ if !moov => return None,
            _ => {
                let actual = len - at;
                return Some(if header == 16 {
                    let bytes = actual.to_be_bytes();
                    vec![
                        (at + 8, [bytes[0], bytes[1], bytes[2], bytes[3]]),
                        (at + 12, [bytes[4], bytes[5], bytes[6], bytes[7]]),
                    ]
                } else {
                    vec![(at, u32::try_from(actual).ok()?.to_be_bytes())]
                });
            }
        }
    }
    None
}

/// A box's four-character code as a reader can see it: printable ASCII as it is (`©` for
/// Apple's 0xA9), anything else (QuickTime's numbered tags, damage) in hex.
pub fn box_name(kind: &[u8; 4]) -> String {
    if kind.iter().all(|b| b.is_ascii_graphic() || *b == b' ' || *b == 0xA9) && kind.iter().any(|b| *b != b' ') {
        kind.iter().map(|b| if *b == 0xA9 { '©' } else { char::from(*b) }).collect()
    } else {
        format!("0x{}", kind.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }
}

/// Walks the boxes in `[start, end)` and their children: `Err(name)` for the first box that
/// claims to reach past its parent. Symphonia allocates a box's declared size before reading it.
fn boxes_fit(r: &mut (impl Read + Seek), start: u64, end: u64, parent: &[u8; 4], depth: u32) -> Result<(), String> {
    if depth > 16 {
        return Err("nesting".into());
    }
    let mut at = start;
    while at + 8 <= end {
        // A header that cannot be read: the file ends here (named by the empty string).
        let (kind, header, size) = box_header(r, at, end).ok_or(String::new())?;
        if size < header || at.checked_add(size).is_none_or(|e| e > end) {
            return Err(box_name(&kind));
        }
        if let Some(skip) = children_offset(r, &kind, parent, at + header) {
            boxes_fit(r, at + header + skip, at + size, &kind, depth + 1)?;
        }
        at += size;
    }
    Ok(())
}

/// What is wrong with an MP4's box tree, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overreach {
    /// A box inside a top-level container (`moov`, or a `meta` or `udta` beside it, which
    /// symphonia reads too) whose size reaches past its parent: this box.
    Damaged(String),
    /// A top-level container that the file ends inside, whole as far as it goes: a download cut
    /// short before its audio could be described.
    CutShort(String),
}

/// Checks the boxes inside the top-level containers against what holds them (their parent, or
/// the file's end). A top-level box that is consistent but runs past the file's end is
/// `CutShort`: the file is truncated.
pub fn mp4_overreaching_box(r: &mut (impl Read + Seek)) -> Option<Overreach> {
    let len = r.seek(SeekFrom::End(0)).ok()?;
    let mut at = 0;
    while at + 8 <= len {
        let (kind, header, size) = box_header(r, at, len)?;
        if size < header {
            return None;
        }
        if let Some(skip) = children_offset(r, &kind, b"file", at + header) {
            let declared = at.saturating_add(size);
            if let Err(name) = boxes_fit(r, at + header + skip, declared.min(len), &kind, 0) {
                // Held to the box's own size instead of the file's end, does it fit?
                let cut =
                    declared > len && boxes_fit(r, at + header + skip, declared, &kind, 0).is_err_and(|n| n.is_empty());
                return Some(if cut { Overreach::CutShort(box_name(&kind)) } else { Overreach::Damaged(name) });
            }
        }
        at = at.checked_add(size)?;
    }
    None
}

/// The first frame of a leading ID3v2 tag whose declared size reaches past the tag: symphonia
/// allocates a frame's declared size before reading it (up to 4 GB). `Some(frame id)`.
pub fn id3v2_oversized_frame(r: &mut (impl Read + Seek)) -> Option<String> {
    let mut header = [0u8; 10];
    r.seek(SeekFrom::Start(0)).ok()?;
    r.read_exact(&mut header).ok()?;
    if &header[..3] != b"ID3" {
        return None;
    }
    let (major, flags) = (header[3], header[5]);
    let syncsafe = |b: &[u8]| b.iter().fold(0u64, |acc, b| (acc << 7) | u64::from(b & 0x7F));
    let end = 10 + syncsafe(&header[6..10]);
    let mut at = 10u64;
    if flags & 0x40 != 0 {
        // An extended header: v2.3 counts its size without the size field, v2.4 with it.
        let mut size = [0u8; 4];
        r.seek(SeekFrom::Start(at)).ok()?;
        r.read_exact(&mut size).ok()?;
        at += match major {
            4 => syncsafe(&size),
            _ => u64::from(u32::from_be_bytes(size)) + 4,
        };
    }
    let header_len = if major == 2 { 6 } else { 10 };
    while at + header_len <= end {
        let mut frame = [0u8; 10];
        r.seek(SeekFrom::Start(at)).ok()?;
        r.read_exact(&mut frame[..header_len as usize]).ok()?;
        if frame[0] == 0 {
            return None; // padding
        }
        let (id, size) = match major {
            2 => (&frame[..3], u64::from(frame[3]) << 16 | u64::from(frame[4]) << 8 | u64::from(frame[5])),
            4 => (&frame[..4], syncsafe(&frame[4..8])),
            _ => (&frame[..4], u64::from(u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]))),
        };
        if at + header_len + size > end {
            return Some(String::from_utf8_lossy(id).into_owned());
        }
        at += header_len + size;
    }
    None
}

/// Bytes per entry of the sample tables whose entry counts decoders allocate for.
const TABLES: [(&[u8; 4], u64); 7] =
    [(b"stts", 8), (b"ctts", 8), (b"stsc", 12), (b"stsz", 4), (b"stco", 4), (b"co64", 8), (b"stss", 4)];

/// Finds sample tables in an MP4 whose declared entry count cannot fit in their box: symphonia
/// would try to allocate for it (up to 64 GB) and the process would abort. `Some(name)` names
/// the first such table.
pub fn mp4_oversized_table(r: &mut (impl Read + Seek)) -> Option<String> {
    let len = r.seek(SeekFrom::End(0)).ok()?;
    let (moov_start, moov_end) = find_box(r, 0, len, b"moov")?;
    let mut at = moov_start;
    while let Some((trak_start, trak_end)) = find_box(r, at, moov_end, b"trak") {
        at = trak_end;
        let path = [b"mdia", b"minf", b"stbl"];
        let mut range = Some((trak_start, trak_end));
        for name in path {
            range = range.and_then(|(a, b)| find_box(r, a, b, name));
        }
        let Some((stbl_start, stbl_end)) = range else { continue };
        for (name, entry) in TABLES {
            let Some((start, end)) = find_box(r, stbl_start, stbl_end, name) else { continue };
            if r.seek(SeekFrom::Start(start)).is_err() {
                return Some(String::from_utf8_lossy(name).into_owned());
            }
            let (Some(_version), Some(first)) = (read_u32(r), read_u32(r)) else {
                return Some(String::from_utf8_lossy(name).into_owned());
            };
            // stsz: a non-zero sample size means no table follows; the count is the next field.
            // Decoders allocate each sample's declared size too: none can exceed the file.
            let (count, header) = if name == b"stsz" {
                if u64::from(first) > len {
                    return Some("stsz".into());
                }
                if first != 0 {
                    continue;
                }
                (read_u32(r).unwrap_or(u32::MAX), 12)
            } else {
                (first, 8)
            };
            if u64::from(count) * entry > (end - start).saturating_sub(header) {
                return Some(String::from_utf8_lossy(name).into_owned());
            }
            if name == b"stsz" {
                let mut sizes = vec![0u8; usize::try_from(u64::from(count) * 4).ok()?];
                r.read_exact(&mut sizes).ok()?;
                if sizes.chunks_exact(4).any(|b| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])) > len) {
                    return Some("stsz".into());
                }
            }
        }
    }
    None
}

/// Checks the lengths inside a FLAC's Vorbis comment and picture blocks against the block that
/// holds them: symphonia allocates what they declare (up to 4 GB) before reading. `Some(what)`
/// names the first length that cannot be right.
pub fn flac_oversized_metadata(r: &mut (impl Read + Seek), marker_at: u64) -> Option<String> {
    let len = r.seek(SeekFrom::End(0)).ok()?;
    let mut at = marker_at + 4;
    r.seek(SeekFrom::Start(at)).ok()?;
    loop {
        let mut header = [0u8; 4];
        r.read_exact(&mut header).ok()?;
        let last = header[0] & 0x80 != 0;
        let kind = header[0] & 0x7F;
        let block_len = u64::from(u32::from_be_bytes([0, header[1], header[2], header[3]]));
        at += 4;
        if kind == 4 || kind == 6 {
            // A block cut off by the end of the file is judged on what is there.
            let available = block_len.min(len.saturating_sub(at));
            let mut block = vec![0u8; usize::try_from(available).ok()?];
            r.read_exact(&mut block).ok()?;
            let declared = usize::try_from(block_len).ok()?;
            let ok = if kind == 4 { vorbis_comment_fits(&block, declared) } else { picture_fits(&block, declared) };
            if !ok {
                return Some(if kind == 4 { "Vorbis comment" } else { "picture" }.to_owned());
            }
        } else {
            r.seek(SeekFrom::Current(i64::try_from(block_len).ok()?)).ok()?;
        }
        at += block_len;
        if last || at >= len {
            return None;
        }
    }
}

/// Reads a length field at `*at` of a block declared `declared` bytes long, of which `block`
/// holds the first part (the file may end inside it). `Some(false)`: the length reaches past
/// the declared block (hostile); `None`: the rest is cut off (truncated, symphonia says so, and
/// allocates at most the block's 16 MB); `Some(true)`: it fits, and `*at` moves past it.
fn take(block: &[u8], declared: usize, at: &mut usize, little_endian: bool) -> Option<bool> {
    let bytes = block.get(*at..*at + 4)?;
    let raw = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let n = if little_endian { u32::from_le_bytes(raw) } else { u32::from_be_bytes(raw) } as usize;
    *at += 4;
    if n > declared.saturating_sub(*at) {
        return Some(false);
    }
    *at += n;
    Some(true)
}

fn vorbis_comment_fits(block: &[u8], declared: usize) -> bool {
    let mut at = 0;
    match take(block, declared, &mut at, true) {
        Some(false) => return false,
        None => return true,
        Some(true) => {}
    }
    let Some(count) = block.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])) else { return true };
    at += 4;
    for _ in 0..count {
        match take(block, declared, &mut at, true) {
            Some(false) => return false,
            None => return true,
            Some(true) => {}
        }
    }
    true
}

fn picture_fits(block: &[u8], declared: usize) -> bool {
    let mut at = 4; // picture type
    for _ in 0..2 {
        match take(block, declared, &mut at, false) {
            Some(false) => return false,
            None => return true,
            Some(true) => {}
        }
    }
    at += 16; // width, height, depth, colours
    take(block, declared, &mut at, false) != Some(false)
}

/// `numSampleFrames` from an AIFF's COMM chunk.
pub fn aiff_frames(r: &mut (impl Read + Seek)) -> Option<u64> {
    let len = r.seek(SeekFrom::End(0)).ok()?;
    let mut at = 12u64; // after FORM, size, AIFF
    while at + 8 <= len {
        r.seek(SeekFrom::Start(at)).ok()?;
        let mut kind = [0u8; 4];
        r.read_exact(&mut kind).ok()?;
        let size = u64::from(read_u32(r)?);
        if &kind == b"COMM" {
            let mut channels = [0u8; 2];
            r.read_exact(&mut channels).ok()?;
            return read_u32(r).map(u64::from);
        }
        at += 8 + size + (size & 1);
    }
    None
}

/// Where an MP3's audio ends: before the tags players append (in this order, each optional): an
/// APEv2 tag (a 32-byte footer `APETAGEX`, its size and, if flagged, a 32-byte header), a
/// Lyrics3v2 block (`LYRICSBEGIN` … six size digits and `LYRICS200`) and an ID3v1 tag (the last
/// 128 bytes, from `TAG`). Tags that do not add up are left as they are.
pub fn mp3_trailing_tags<R: Read + Seek>(file: &mut R, len: u64) -> u64 {
    let mut end = len;
    let mut read_at = |at: u64, n: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0u8; n];
        file.seek(SeekFrom::Start(at)).ok()?;
        file.read_exact(&mut buf).ok()?;
        Some(buf)
    };
    if end >= 128 && read_at(end - 128, 3).is_some_and(|t| t == b"TAG") {
        end -= 128;
    }
    loop {
        // APEv2: the footer's size counts the items and the footer, not the header.
        if let Some(footer) = end.checked_sub(32).and_then(|at| read_at(at, 32)).filter(|f| f.starts_with(b"APETAGEX"))
        {
            let size = u64::from(u32::from_le_bytes([footer[12], footer[13], footer[14], footer[15]]));
            let flags = u32::from_le_bytes([footer[20], footer[21], footer[22], footer[23]]);
            let header = if flags & (1 << 31) != 0 { 32 } else { 0 };
            match end.checked_sub(size + header) {
                Some(start) if size >= 32 => {
                    end = start;
                    continue;
                }
                _ => break,
            }
        }
        // Lyrics3v2: the six digits give the block's size from `LYRICSBEGIN`, without themselves
        // and `LYRICS200`.
        if let Some(trailer) = end.checked_sub(15).and_then(|at| read_at(at, 15)).filter(|t| t.ends_with(b"LYRICS200"))
        {
            let size = std::str::from_utf8(&trailer[..6]).ok().and_then(|d| d.parse::<u64>().ok());
            let start = size.and_then(|s| end.checked_sub(15 + s));
            if let Some(start) = start.filter(|s| read_at(*s, 11).is_some_and(|b| b == b"LYRICSBEGIN")) {
                end = start;
                continue;
            }
        }
        break;
    }
    end
}

/// The sample-entry code of an MP4's first sound track (`mp4a`, `alac`, `ac-3`, `ec-3`, …), when
/// it has one: what the file holds when no track can be decoded.
pub fn mp4_sound_codec(r: &mut (impl Read + Seek)) -> Option<[u8; 4]> {
    for (trak_start, trak_end) in mp4_traks(r) {
        let Some((mdia_start, mdia_end)) = find_box(r, trak_start, trak_end, b"mdia") else { continue };
        let Some((hdlr_start, _)) = find_box(r, mdia_start, mdia_end, b"hdlr") else { continue };
        // Version and flags, pre_defined, then the handler type.
        r.seek(SeekFrom::Start(hdlr_start + 8)).ok()?;
        if read_u32(r)?.to_be_bytes() != *b"soun" {
            continue;
        }
        let (minf_start, minf_end) = find_box(r, mdia_start, mdia_end, b"minf")?;
        let (stbl_start, stbl_end) = find_box(r, minf_start, minf_end, b"stbl")?;
        let (stsd_start, _) = find_box(r, stbl_start, stbl_end, b"stsd")?;
        // Version and flags, the entry count, then the first entry's size and code.
        r.seek(SeekFrom::Start(stsd_start + 12)).ok()?;
        return Some(read_u32(r)?.to_be_bytes());
    }
    None
}

/// The codec of an Ogg file's first logical stream, from its first packet's signature.
pub fn ogg_first_codec(r: &mut (impl Read + Seek)) -> Option<&'static str> {
    let mut page = [0u8; 27 + 255 + 8];
    r.seek(SeekFrom::Start(0)).ok()?;
    let mut got = 0;
    while got < page.len() {
        match r.read(&mut page[got..]).ok()? {
            0 => break,
            n => got += n,
        }
    }
    if got < 27 || &page[..4] != b"OggS" {
        return None;
    }
    let packet = 27 + usize::from(page[26]);
    let head = page.get(packet..(packet + 8).min(got))?;
    [
        (&b"\x01vorbis"[..], "Vorbis"),
        (b"OpusHead", "Opus"),
        (b"\x7fFLAC", "FLAC"),
        (b"Speex   ", "Speex"),
        (b"CELT    ", "CELT"),
        (b"\x80theora", "Theora"),
        (b"PCM     ", "PCM"),
    ]
    .into_iter()
    .find(|(signature, _)| head.starts_with(signature))
    .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_names_are_printed_readably() {
        assert_eq!(box_name(b"moov"), "moov");
        assert_eq!(box_name(b"\xa9too"), "©too");
        assert_eq!(box_name(&[0, 0, 0, 1]), "0x00000001");
        assert_eq!(box_name(&[0; 4]), "0x00000000");
        assert_eq!(box_name(b"    "), "0x20202020");
    }
    use std::io::Cursor;

    fn boxed(name: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(name);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn reads_the_priming_of_an_edit_list() {
        let mut elst = vec![0, 0, 0, 0, 0, 0, 0, 2];
        for (duration, media_time) in [(1000u32, -1i32), (2799, 1024)] {
            elst.extend_from_slice(&duration.to_be_bytes());
            elst.extend_from_slice(&media_time.to_be_bytes());
            elst.extend_from_slice(&0x0001_0000u32.to_be_bytes());
        }
        let trak = boxed(b"trak", &[boxed(b"tkhd", &[0; 8]), boxed(b"edts", &boxed(b"elst", &elst))].concat());
        let file =
            [boxed(b"ftyp", b"M4A \0\0\0\0"), boxed(b"moov", &[boxed(b"mvhd", &[0; 4]), trak].concat())].concat();
        assert_eq!(mp4_priming(&mut Cursor::new(file)), Some(1024));
    }

    #[test]
    fn sample_tables_that_cannot_fit_are_named() {
        let table = |count: u32, entries: usize| {
            let mut v = vec![0, 0, 0, 0];
            v.extend_from_slice(&count.to_be_bytes());
            v.extend(std::iter::repeat_n(0u8, entries * 12));
            boxed(b"stsc", &v)
        };
        let file = |stsc: Vec<u8>| {
            let stbl = boxed(b"stbl", &stsc);
            let trak = boxed(b"trak", &boxed(b"mdia", &boxed(b"minf", &stbl)));
            [boxed(b"ftyp", b"M4A \0\0\0\0"), boxed(b"moov", &trak)].concat()
        };
        assert_eq!(mp4_oversized_table(&mut Cursor::new(file(table(2, 2)))), None);
        assert_eq!(mp4_oversized_table(&mut Cursor::new(file(table(u32::MAX, 2)))), Some("stsc".into()));
        // A sample size table whose one entry is larger than the whole file.
        let mut stsz = vec![0u8; 8];
        stsz.extend_from_slice(&1u32.to_be_bytes());
        stsz.extend_from_slice(&0xFFFF_0000u32.to_be_bytes());
        assert_eq!(mp4_oversized_table(&mut Cursor::new(file(boxed(b"stsz", &stsz)))), Some("stsz".into()));
    }

    #[test]
    fn flac_comment_lengths_must_fit_their_block() {
        let flac = |comment: Vec<u8>| {
            let mut f = b"fLaC".to_vec();
            f.extend_from_slice(&[0x84, 0, 0, comment.len() as u8]); // last block, type 4
            f.extend(comment);
            f
        };
        let mut good = 3u32.to_le_bytes().to_vec();
        good.extend_from_slice(b"abc");
        good.extend_from_slice(&1u32.to_le_bytes());
        good.extend_from_slice(&5u32.to_le_bytes());
        good.extend_from_slice(b"A=bcd");
        assert_eq!(flac_oversized_metadata(&mut Cursor::new(flac(good)), 0), None);
        let mut bad = 0xF789_0000u32.to_le_bytes().to_vec();
        bad.extend_from_slice(b"abc");
        assert_eq!(flac_oversized_metadata(&mut Cursor::new(flac(bad.clone())), 0), Some("Vorbis comment".into()));
        // A block the file ends inside: its lengths are judged against the block's declared size,
        // so a cut-off file is not called damaged, and a hostile length still is.
        let mut cut = flac(bad);
        cut[7] = 200;
        assert_eq!(flac_oversized_metadata(&mut Cursor::new(cut.clone()), 0), Some("Vorbis comment".into()));
        cut[8..12].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(flac_oversized_metadata(&mut Cursor::new(cut), 0), None);
    }

    #[test]
    fn boxes_reaching_past_their_parent_are_named() {
        let data = |claimed: u32| {
            let mut d = claimed.to_be_bytes().to_vec();
            d.extend_from_slice(b"data");
            d.extend_from_slice(&[0; 12]);
            d
        };
        let file = |data: Vec<u8>| {
            let tag = boxed(b"\xa9nam", &data);
            let ilst = boxed(b"ilst", &tag);
            let mut meta_payload = vec![0u8; 4];
            meta_payload.extend(ilst);
            let udta = boxed(b"udta", &boxed(b"meta", &meta_payload));
            [boxed(b"ftyp", b"M4A \0\0\0\0"), boxed(b"moov", &udta)].concat()
        };
        assert_eq!(mp4_overreaching_box(&mut Cursor::new(file(data(20)))), None);
        assert_eq!(
            mp4_overreaching_box(&mut Cursor::new(file(data(0xAC00_0000)))),
            Some(Overreach::Damaged("data".into()))
        );
        // A `meta` at the top level, beside `moov` rather than in it (a fuzz find).
        let top_meta = |size: u32| {
            let mut tag = Vec::new();
            tag.extend_from_slice(&16u32.to_be_bytes());
            tag.extend_from_slice(b"\xa9too");
            tag.extend_from_slice(&size.to_be_bytes());
            tag.extend_from_slice(b"data");
            let mut ilst = (8 + tag.len() as u32).to_be_bytes().to_vec();
            ilst.extend_from_slice(b"ilst");
            ilst.extend_from_slice(&tag);
            let mut meta = (12 + ilst.len() as u32).to_be_bytes().to_vec();
            meta.extend_from_slice(b"meta");
            meta.extend_from_slice(&[0; 4]);
            meta.extend_from_slice(&ilst);
            let mut f = vec![0, 0, 0, 8];
            f.extend_from_slice(b"free");
            f.extend_from_slice(&meta);
            f
        };
        assert_eq!(mp4_overreaching_box(&mut Cursor::new(top_meta(8))), None);
        // An ID3v2.3 frame claiming 4 GB inside a 35-byte tag (a fuzz find), and one that fits.
        let tag = |frame_size: u32| {
            let mut t = b"ID3\x03\0\0\0\0\0\x23TSSE".to_vec();
            t.extend_from_slice(&frame_size.to_be_bytes());
            t.extend_from_slice(&[0, 0]);
            t.extend_from_slice(&[0; 25]);
            t
        };
        assert_eq!(id3v2_oversized_frame(&mut Cursor::new(tag(0xFF0F_000F))), Some("TSSE".into()));
        assert_eq!(id3v2_oversized_frame(&mut Cursor::new(tag(25))), None);
        assert_eq!(
            mp4_overreaching_box(&mut Cursor::new(top_meta(0xFFFC_FF0D))),
            Some(Overreach::Damaged("data".into()))
        );
    }

    #[test]
    fn malformed_boxes_give_nothing() {
        let mut bad = boxed(b"moov", &[0; 16]);
        bad[3] = 200; // a size past the end
        assert_eq!(mp4_priming(&mut Cursor::new(bad)), None);
        assert_eq!(mp4_priming(&mut Cursor::new(Vec::new())), None);
        assert_eq!(aiff_frames(&mut Cursor::new(b"FORM\0\0\0\x04AIFF".to_vec())), None);
    }

    #[test]
    fn reads_aiff_frame_counts() {
        let mut comm = 2u16.to_be_bytes().to_vec();
        comm.extend_from_slice(&123_457u32.to_be_bytes());
        comm.extend_from_slice(&[0; 12]);
        let mut file = b"FORM\0\0\0\0AIFF".to_vec();
        file.extend_from_slice(b"COMM");
        file.extend_from_slice(&(comm.len() as u32).to_be_bytes());
        file.extend_from_slice(&comm);
        assert_eq!(aiff_frames(&mut Cursor::new(file)), Some(123_457));
    }
}
