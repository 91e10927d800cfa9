//! What a Matroska or WebM file says about its audio that symphonia 0.5's reader does not apply:
//! the DocType (to name the container), each track's `CodecDelay` (Opus' pre-skip, in
//! nanoseconds), how many frames its blocks hold and the last block's `DiscardPadding` (the
//! encoder's padding after the end), and any element that claims more bytes than the file holds
//! (symphonia would allocate for the claim before reading it).
//!
//! Invariant: one forward walk over element headers, never holding more than a block's first
//! bytes; a malformed structure ends the walk with what was learnt so far, never a panic.

use std::io::{BufReader, Read, Seek, SeekFrom};

const EBML: u32 = 0x1A45_DFA3;
const DOC_TYPE: u32 = 0x4282;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TITLE: u32 = 0x7BA9;
const SEEK_HEAD: u32 = 0x114D_9B74;
const SEEK: u32 = 0x4DBB;
const SEEK_ID: u32 = 0x53AB;
const SEEK_POSITION: u32 = 0x53AC;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_TYPE: u32 = 0x83;
const CODEC_ID: u32 = 0x86;
const CODEC_DELAY: u32 = 0x56AA;
const CLUSTER: u32 = 0x1F43_B675;
const SIMPLE_BLOCK: u32 = 0xA3;
const BLOCK_GROUP: u32 = 0xA0;
const BLOCK: u32 = 0xA1;
const DISCARD_PADDING: u32 = 0x75A2;

/// Elements whose children the walk reads (their size may be "unknown": they then end where the
/// next element of their level starts, which a flat walk needs no size for). Besides those it
/// reads from, the other masters a muxer writes (tags, cues, chapters, attachments, a track's
/// audio and video settings, a block's additions), so that their children's sizes are checked
/// too; an element of unknown size that is not a master is damage.
const MASTERS: [u32; 25] = [
    EBML,
    SEGMENT,
    SEEK_HEAD,
    SEEK,
    INFO,
    TRACKS,
    TRACK_ENTRY,
    CLUSTER,
    BLOCK_GROUP,
    0x1254_C367, // Tags
    0x7373,      // Tag
    0x63C0,      // Targets
    0x67C8,      // SimpleTag
    0x1C53_BB6B, // Cues
    0xBB,        // CuePoint
    0xB7,        // CueTrackPositions
    0x1043_A770, // Chapters
    0x45B9,      // EditionEntry
    0xB6,        // ChapterAtom
    0x80,        // ChapterDisplay
    0x1941_A469, // Attachments
    0x61A7,      // AttachedFile
    0xE1,        // Audio
    0xE0,        // Video
    0x75A1,      // BlockAdditions
];

/// More tracks or seek entries than any real file has are not read (a hostile file could name a
/// new track in every block).
const MAX_TRACKS: usize = 64;
const MAX_SEEKS: usize = 64;

/// An element ID that no reader knows, written over a seek entry's target (see
/// [`Matroska::seeks_past_end`]).
pub const UNKNOWN_ID: [u8; 4] = *b"\x1E\xE5\xC0\xDE";

/// A claim that large on an element that is read whole is not a download cut short.
const LARGEST_PLAUSIBLE_ELEMENT: u64 = 16 << 20;

/// One track, as its header and blocks describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Track {
    pub number: u64,
    /// `TrackType` 2.
    pub audio: bool,
    /// `CodecID`, such as `A_OPUS`.
    pub codec_id: Option<String>,
    /// `CodecDelay`: what the decoder outputs before the content starts, in nanoseconds.
    pub codec_delay_ns: Option<u64>,
    /// Frames in the track's blocks (a laced block holds several); symphonia makes each a packet.
    pub frames: u64,
    /// The last block's `DiscardPadding`, in nanoseconds (0 if it has none).
    pub last_discard_ns: i64,
    /// The largest block's size in bytes (a PCM decoder sizes its buffer from it).
    pub largest_block: u64,
}

/// What the walk learnt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matroska {
    /// The EBML header's DocType is `webm`.
    pub webm: bool,
    /// The segment's title (a tagger's or ffmpeg's `title`; the artist and album are Tags).
    pub title: Option<String>,
    pub tracks: Vec<Track>,
    /// An element read whole that claims more bytes than the file holds, and far more than any
    /// block (a cut-off download's last block only runs past the end by its own few kilobytes).
    pub oversized: Option<String>,
    /// Where the SeekHead names a 4-byte element ID (the Cues, Tags…) whose position is past the
    /// file's end: a download cut short. Symphonia's reader would seek there and fail (or panic)
    /// before reading the clusters that did arrive, so the ID is overwritten with [`UNKNOWN_ID`].
    pub seeks_past_end: Vec<u64>,
    /// An element ends past the file's end (a download cut short, whose segment or last cluster
    /// states its size).
    pub cut_off: bool,
}

impl Matroska {
    pub fn track(&self, number: u64) -> Option<&Track> {
        self.tracks.iter().find(|t| t.number == number)
    }

    /// What the first audio track holds, named for a creator, if it is a codec symphonia's
    /// Matroska reader does not map.
    pub fn unreadable_audio(&self) -> Option<String> {
        let id = self.tracks.iter().find(|t| t.audio)?.codec_id.as_deref()?;
        let known = ["A_MPEG/L3", "A_FLAC", "A_OPUS", "A_VORBIS", "A_PCM/"];
        if known.iter().any(|k| id.starts_with(k)) || id.starts_with("A_AAC") {
            return None;
        }
        Some(match id {
            "A_AC3" | "A_AC3/BSID9" | "A_AC3/BSID10" => "Dolby Digital (AC-3)".to_owned(),
            "A_EAC3" => "Dolby Digital Plus (E-AC-3)".to_owned(),
            "A_TRUEHD" => "Dolby TrueHD".to_owned(),
            "A_DTS" | "A_DTS/EXPRESS" | "A_DTS/LOSSLESS" => "DTS".to_owned(),
            "A_ALAC" => "ALAC".to_owned(),
            "A_MPEG/L2" | "A_MPEG/L1" => "MPEG Layer II or I".to_owned(),
            "A_MS/ACM" => "a Windows ACM codec".to_owned(),
            other => format!("`{other}`"),
        })
    }

    fn end_entry(
        &mut self,
        (number, audio, codec_id, codec_delay_ns): (Option<u64>, bool, Option<String>, Option<u64>),
    ) {
        let Some(number) = number else { return };
        if self.track(number).is_none() && self.tracks.len() < MAX_TRACKS {
            self.tracks.push(Track { number, audio, codec_id, codec_delay_ns, ..Track::default() });
        }
    }

    /// A track the Tracks element declared; blocks of any other are not counted.
    fn track_mut(&mut self, number: u64) -> Option<&mut Track> {
        self.tracks.iter_mut().find(|t| t.number == number)
    }
}

/// The name of an element, for messages.
fn element_name(id: u32) -> String {
    match id {
        SIMPLE_BLOCK => "SimpleBlock".into(),
        BLOCK => "Block".into(),
        0x63A2 => "CodecPrivate".into(),
        0x86 => "CodecID".into(),
        DOC_TYPE => "DocType".into(),
        0x61A7 => "AttachedFile".into(),
        0x465C => "FileData".into(),
        0x7BA9 => "Title".into(),
        0x4487 => "TagString".into(),
        other => format!("0x{other:X}"),
    }
}

/// An element ID: 1 to 4 bytes, its length marker kept (as the specification writes IDs).
fn read_id(r: &mut impl Read) -> Option<(u32, u64)> {
    let mut first = [0u8; 1];
    r.read_exact(&mut first).ok()?;
    let len = first[0].leading_zeros() + 1;
    if len > 4 {
        return None;
    }
    let mut id = u32::from(first[0]);
    for _ in 1..len {
        r.read_exact(&mut first).ok()?;
        id = (id << 8) | u32::from(first[0]);
    }
    Some((id, u64::from(len)))
}

/// A variable-length integer (a size, or a block's track number): its value with the marker
/// removed and its length; `None` as the value for the reserved "unknown" (all ones).
fn read_vint(r: &mut impl Read) -> Option<(Option<u64>, u64)> {
    let mut byte = [0u8; 1];
    r.read_exact(&mut byte).ok()?;
    let len = byte[0].leading_zeros() + 1;
    if len > 8 {
        return None;
    }
    let mut value = u64::from(byte[0]) & (0xFF >> len);
    let mut all_ones = value == 0xFF >> len;
    for _ in 1..len {
        r.read_exact(&mut byte).ok()?;
        value = (value << 8) | u64::from(byte[0]);
        all_ones &= byte[0] == 0xFF;
    }
    Some((if all_ones { None } else { Some(value) }, u64::from(len)))
}

fn read_uint(r: &mut impl Read, size: u64) -> Option<u64> {
    if size > 8 {
        return None;
    }
    let mut value = 0u64;
    let mut byte = [0u8; 1];
    for _ in 0..size {
        r.read_exact(&mut byte).ok()?;
        value = (value << 8) | u64::from(byte[0]);
    }
    Some(value)
}

fn read_int(r: &mut impl Read, size: u64) -> Option<i64> {
    let value = read_uint(r, size)?;
    if size == 0 {
        return Some(0);
    }
    let shift = 64 - 8 * size as u32;
    Some(((value << shift) as i64) >> shift)
}

/// A string element's text up to its first NUL, if it is at most `limit` bytes.
fn read_string(r: &mut impl Read, size: u64, limit: u64) -> Option<String> {
    if size > limit {
        return None;
    }
    let mut text = vec![0u8; usize::try_from(size).ok()?];
    r.read_exact(&mut text).ok()?;
    let text = text.split(|b| *b == 0).next().unwrap_or_default();
    Some(String::from_utf8_lossy(text).into_owned())
}

/// A block's track and how many frames it holds (from its lacing header).
fn read_block_head(r: &mut impl Read) -> Option<(u64, u64)> {
    let (track, _) = read_vint(r)?;
    let mut rest = [0u8; 3];
    r.read_exact(&mut rest).ok()?;
    let flags = rest[2];
    let frames = if flags & 0x06 != 0 {
        let mut count = [0u8; 1];
        r.read_exact(&mut count).ok()?;
        u64::from(count[0]) + 1
    } else {
        1
    };
    Some((track?, frames))
}

/// A buffered reader that knows where it is, so that skipping an element stays in its buffer.
struct Cursor<R> {
    inner: BufReader<R>,
    at: u64,
}

impl<R: Read> Read for Cursor<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.at += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Cursor<R> {
    fn skip_to(&mut self, to: u64) -> Option<()> {
        let delta = i64::try_from(to.checked_sub(self.at)?).ok()?;
        self.inner.seek_relative(delta).ok()?;
        self.at = to;
        Some(())
    }
}

/// Walks the file's elements in order. `None` if it does not start with an EBML header.
pub fn scan(r: &mut (impl Read + Seek)) -> Option<Matroska> {
    let len = r.seek(SeekFrom::End(0)).ok()?;
    r.seek(SeekFrom::Start(0)).ok()?;
    let mut r = Cursor { inner: BufReader::with_capacity(16 << 10, r), at: 0 };
    let mut out = Matroska::default();
    let mut at = 0u64;
    // The track entry being read: its number, type, codec and delay.
    let mut entry: (Option<u64>, bool, Option<String>, Option<u64>) = (None, false, None, None);
    // The block group being read: its block's track, and a DiscardPadding seen before the block.
    let mut group: (Option<u64>, i64) = (None, 0);
    let mut first = true;
    let mut segment_data = 0u64;
    // The seek entry being read: where its 4-byte ID is, and the position it names.
    let mut seek: (Option<u64>, Option<u64>) = (None, None);
    let mut seeks = Vec::new();
    while at < len {
        let Some((id, id_len)) = read_id(&mut r) else { break };
        if first && id != EBML {
            return None;
        }
        first = false;
        let Some((size, size_len)) = read_vint(&mut r) else { break };
        let data = at + id_len + size_len;
        if matches!(id, TRACK_ENTRY | TRACKS | CLUSTER | SIMPLE_BLOCK | BLOCK_GROUP) {
            // A track entry ends where the next element of its level begins.
            out.end_entry(std::mem::take(&mut entry));
        }
        if id == SEEK {
            // A seek entry ends where the next element of its level (or the head) begins.
            if let (Some(at), Some(position)) = std::mem::take(&mut seek) {
                if seeks.len() < MAX_SEEKS {
                    seeks.push((at, position));
                }
            }
        }
        if size.is_some_and(|size| data.saturating_add(size) > len) {
            out.cut_off = true;
        }
        if MASTERS.contains(&id) {
            match id {
                BLOCK_GROUP => group = (None, 0),
                SEGMENT => segment_data = data,
                _ => {}
            }
            at = data;
            continue;
        }
        let Some(size) = size else {
            // Only a master may leave its size unknown.
            out.oversized = Some(element_name(id));
            break;
        };
        let end = data.saturating_add(size);
        if end > len && size > LARGEST_PLAUSIBLE_ELEMENT {
            out.oversized = Some(element_name(id));
            break;
        }
        match id {
            DOC_TYPE => out.webm = read_string(&mut r, size, 64).as_deref() == Some("webm"),
            SEEK_ID if size == 4 => seek.0 = Some(data),
            SEEK_POSITION => seek.1 = read_uint(&mut r, size),
            TRACK_NUMBER => entry.0 = read_uint(&mut r, size),
            TRACK_TYPE => entry.1 = read_uint(&mut r, size) == Some(2),
            CODEC_ID => entry.2 = read_string(&mut r, size, 64),
            TITLE => {
                out.title =
                    read_string(&mut r, size, 1024).filter(|t| !t.trim().is_empty()).map(|t| t.trim().to_owned())
            }
            CODEC_DELAY => entry.3 = read_uint(&mut r, size),
            SIMPLE_BLOCK => {
                let head = read_block_head(&mut r);
                if let Some((t, frames)) = head.and_then(|(track, frames)| Some((out.track_mut(track)?, frames))) {
                    t.frames += frames;
                    t.last_discard_ns = 0;
                    t.largest_block = t.largest_block.max(size);
                }
            }
            BLOCK => {
                if let Some((track, frames)) = read_block_head(&mut r) {
                    group.0 = Some(track);
                    if let Some(t) = out.track_mut(track) {
                        t.frames += frames;
                        t.last_discard_ns = group.1;
                        t.largest_block = t.largest_block.max(size);
                    }
                }
            }
            DISCARD_PADDING => {
                if let Some(padding) = read_int(&mut r, size) {
                    group.1 = padding;
                    if let Some(t) = group.0.and_then(|track| out.track_mut(track)) {
                        t.last_discard_ns = padding;
                    }
                }
            }
            _ => {}
        }
        at = end;
        if r.skip_to(at).is_none() {
            break;
        }
    }
    out.end_entry(entry);
    if let (Some(at), Some(position)) = seek {
        if seeks.len() < MAX_SEEKS {
            seeks.push((at, position));
        }
    }
    for (id_at, position) in seeks {
        // The element there must be whole.
        let target = segment_data.saturating_add(position);
        let whole = target < len
            && r.inner.seek(SeekFrom::Start(target)).is_ok()
            && read_id(&mut r.inner).zip(read_vint(&mut r.inner)).is_some_and(|((_, id_len), (size, size_len))| {
                size.is_some_and(|size| target + id_len + size_len + size <= len)
            });
        if !whole {
            out.seeks_past_end.push(id_at);
            out.cut_off = true;
        }
    }
    Some(out)
}

/// Nanoseconds as frames at `rate`, to the nearest.
pub fn ns_to_frames(ns: u64, rate: u32) -> u64 {
    ((u128::from(ns) * u128::from(rate) + 500_000_000) / 1_000_000_000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(id: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut v = id.to_vec();
        // An 8-byte size, as some muxers write every size.
        v.push(0x01);
        v.extend_from_slice(&(payload.len() as u64).to_be_bytes()[1..]);
        v.extend_from_slice(payload);
        v
    }

    fn header(doc_type: &str) -> Vec<u8> {
        element(&[0x1A, 0x45, 0xDF, 0xA3], &element(&[0x42, 0x82], doc_type.as_bytes()))
    }

    fn simple_block(track: u8, laced: Option<u8>) -> Vec<u8> {
        let mut body = vec![0x80 | track, 0, 0, if laced.is_some() { 0x82 } else { 0x80 }];
        body.extend(laced);
        body.extend_from_slice(&[0xFC; 20]);
        element(&[0xA3], &body)
    }

    #[test]
    fn reads_the_doc_type_delays_frames_and_the_last_padding() {
        let entry = |number: u8, delay: Option<u16>| {
            let mut body = element(&[0xD7], &[number]);
            body.extend(element(&[0x83], &[2]));
            body.extend(element(&[0x86], if number == 1 { b"A_OPUS" } else { b"A_AC3" }));
            if let Some(d) = delay {
                body.extend(element(&[0x56, 0xAA], &d.to_be_bytes()));
            }
            element(&[0xAE], &body)
        };
        let tracks = element(&[0x16, 0x54, 0xAE, 0x6B], &[entry(1, Some(6500)), entry(2, None)].concat());
        let group = |discard: &[u8], padding_first: bool| {
            let block = element(&[0xA1], &[0x81, 0, 0, 0, 0xFC, 0xFC]);
            let padding = element(&[0x75, 0xA2], discard);
            let children = if padding_first { [padding, block].concat() } else { [block, padding].concat() };
            element(&[0xA0], &children)
        };
        let cluster = |blocks: Vec<u8>| {
            // Unknown size, as a live recorder writes clusters.
            [vec![0x1F, 0x43, 0xB6, 0x75, 0xFF], element(&[0xE7], &[0]), blocks].concat()
        };
        let segment_body = [
            tracks,
            cluster([simple_block(1, None), simple_block(2, None), simple_block(1, Some(2))].concat()),
            cluster([group(&[0x01, 0x00], true), simple_block(2, None), group(&[0xFF, 0x00], false)].concat()),
        ]
        .concat();
        let file = [header("webm"), element(&[0x18, 0x53, 0x80, 0x67], &segment_body)].concat();
        let m = scan(&mut std::io::Cursor::new(&file)).unwrap();
        assert!(m.webm);
        assert_eq!((m.oversized.as_deref(), m.cut_off), (None, false));
        // Track 1: one block, three laced frames, one in a group, and the last group's padding
        // (negative: a padding written before the block would be 256).
        let track = |number, codec: &str, codec_delay_ns, frames, last_discard_ns| Track {
            number,
            audio: true,
            codec_id: Some(codec.to_owned()),
            codec_delay_ns,
            frames,
            last_discard_ns,
            largest_block: 25,
        };
        assert_eq!(m.track(1), Some(&track(1, "A_OPUS", Some(6500), 6, -256)));
        assert_eq!(m.track(2), Some(&Track { largest_block: 24, ..track(2, "A_AC3", None, 2, 0) }));
        assert_eq!(m.unreadable_audio(), None, "the first audio track is Opus");
        let ac3_first = Matroska { tracks: vec![m.tracks[1].clone(), m.tracks[0].clone()], ..m };
        assert_eq!(ac3_first.unreadable_audio().as_deref(), Some("Dolby Digital (AC-3)"));

        let matroska =
            scan(&mut std::io::Cursor::new(&[header("matroska"), element(&[0x18, 0x53, 0x80, 0x67], &[])].concat()));
        assert!(!matroska.unwrap().webm);
        assert_eq!(scan(&mut std::io::Cursor::new(b"OggS\0\0\0\0")), None);
    }

    #[test]
    fn an_element_claiming_far_more_than_the_file_is_named() {
        let mut huge = vec![0x63, 0xA2, 0x08, 0x40, 0, 0, 0, 0, 0, 0];
        huge.extend_from_slice(&[0; 10]);
        let tracks = [vec![0x16, 0x54, 0xAE, 0x6B, 0xFF, 0xAE, 0xFF], huge].concat();
        let file = [header("matroska"), vec![0x18, 0x53, 0x80, 0x67, 0xFF], tracks].concat();
        assert_eq!(scan(&mut std::io::Cursor::new(&file)).unwrap().oversized.as_deref(), Some("CodecPrivate"));
        // Nor can a huge binary hide in a master of unknown size, or be one.
        let tag_binary = [vec![0x44, 0x85, 0x08, 0x40, 0, 0, 0, 0, 0, 0], vec![0; 10]].concat();
        let tags = [vec![0x12, 0x54, 0xC3, 0x67, 0xFF, 0x73, 0x73, 0xFF, 0x67, 0xC8, 0xFF], tag_binary].concat();
        let file = [header("matroska"), vec![0x18, 0x53, 0x80, 0x67, 0xFF], tags].concat();
        assert_eq!(scan(&mut std::io::Cursor::new(&file)).unwrap().oversized.as_deref(), Some("0x4485"));
        let unknown = [header("matroska"), vec![0x18, 0x53, 0x80, 0x67, 0xFF, 0x63, 0xA2, 0xFF, 1, 2, 3]].concat();
        assert_eq!(scan(&mut std::io::Cursor::new(&unknown)).unwrap().oversized.as_deref(), Some("CodecPrivate"));
        // A block cut off by a download is not.
        let tracks = element(&[0x16, 0x54, 0xAE, 0x6B], &element(&[0xAE], &element(&[0xD7], &[1])));
        let mut cut =
            [header("webm"), vec![0x18, 0x53, 0x80, 0x67, 0xFF], tracks, vec![0x1F, 0x43, 0xB6, 0x75, 0xFF]].concat();
        let block = simple_block(1, None);
        cut.extend_from_slice(&block[..block.len() - 5]);
        let m = scan(&mut std::io::Cursor::new(&cut)).unwrap();
        assert_eq!((m.oversized.as_deref(), m.cut_off, m.track(1).map(|t| t.frames)), (None, true, Some(1)));
    }

    #[test]
    fn blocks_of_tracks_never_declared_are_not_counted() {
        // A hostile file naming a new track in every block (each would have been a new entry).
        let tracks = element(&[0x16, 0x54, 0xAE, 0x6B], &element(&[0xAE], &element(&[0xD7], &[1])));
        let blocks: Vec<u8> = (2..120u8).flat_map(|t| simple_block(t, None)).collect();
        let file =
            [header("webm"), element(&[0x18, 0x53, 0x80, 0x67], &[tracks, blocks, simple_block(1, None)].concat())]
                .concat();
        let m = scan(&mut std::io::Cursor::new(&file)).unwrap();
        assert_eq!(m.tracks.len(), 1);
        assert_eq!(m.track(1).map(|t| t.frames), Some(1));
    }

    #[test]
    fn nanoseconds_become_frames() {
        assert_eq!(ns_to_frames(6_500_000, 48_000), 312);
        assert_eq!(ns_to_frames(1_000_000_000, 44_100), 44_100);
        assert_eq!(ns_to_frames(0, 48_000), 0);
    }
}
