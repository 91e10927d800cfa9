//! Streaming decode by content (the file name is never consulted): one pass over the packets of
//! the first audio track, trimmed for gapless playback, handed to sinks as interleaved `f32`.
//! Invariant: the frame count is that of the decoded audio itself, so durations are exact even
//! when a header is missing, wrong, or the file was cut short.

use std::fs::File;
use std::io::{ErrorKind as IoKind, Read, Seek, SeekFrom};
use std::path::Path;

use symphonia::core::audio::{Layout, SampleBuffer};
use symphonia::core::codecs::{CodecRegistry, DecoderOptions, CODEC_TYPE_NULL, CODEC_TYPE_OPUS};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::{MetadataOptions, MetadataRevision, StandardTagKey};
use symphonia::core::probe::Hint;

use crate::error::{AudioError, ErrorKind, Result};

/// The highest sample rate a real recording uses (DXD is 352.8 kHz; 768 kHz exists).
pub const MAX_SAMPLE_RATE: u32 = 768_000;

/// Receives decoded audio as it is produced.
pub trait Sink {
    /// Called once, before the first samples, with the stream's actual format.
    fn start(&mut self, _format: &Format) {}
    /// `interleaved.len()` is a multiple of `channels`.
    fn push(&mut self, interleaved: &[f32], channels: usize);
}

/// What the stream is, as its container and codec describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pub sample_rate: u32,
    pub channels: usize,
    /// Bits per sample of the source, where the codec has such a thing (PCM, FLAC, ALAC).
    pub bit_depth: Option<u32>,
    pub codec: String,
    pub container: &'static str,
}

/// A file's title, artist and album, as its container's tags say.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Tags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
}

/// The outcome of decoding a whole file.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub format: Format,
    /// Frames decoded (samples per channel), after gapless trimming.
    pub frames: u64,
    pub tags: Tags,
    pub has_cover_art: bool,
    /// Problems that did not stop decoding (a cut-off file, damaged packets).
    pub warnings: Vec<String>,
}

/// Names the container from the file's first bytes.
fn sniff_container(head: &[u8]) -> &'static str {
    let at = |range: std::ops::Range<usize>| head.get(range).unwrap_or_default();
    match (at(0..4), at(8..12), at(4..8)) {
        (b"RIFF" | b"RF64", b"WAVE", _) => "wav",
        (b"FORM", b"AIFF" | b"AIFC", _) => "aiff",
        (b"fLaC", _, _) => "flac",
        (b"OggS", _, _) => "ogg",
        (b"\x1A\x45\xDF\xA3", _, _) => "matroska",
        (_, _, b"ftyp") => "mp4",
        _ if head.starts_with(b"ID3") => "mp3",
        _ if head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0 => "mp3",
        _ => "unknown",
    }
}

/// What a file that is no audio we read is told, with the formats we do read.
const NOT_AUDIO: &str =
    "not an audio file we recognise (supported: MP3, AAC and ALAC in MP4/M4A, FLAC, WAV, Ogg Vorbis, Opus in Ogg, WebM, Matroska or MP4, AIFF)";

/// Symphonia's decoders and libopus' (Opus: the pre-skip is dropped by `decode` itself, the
/// last page's end arrives as the last packet's trim, which the decoder applies).
fn codecs() -> &'static CodecRegistry {
    static CODECS: std::sync::LazyLock<CodecRegistry> = std::sync::LazyLock::new(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_all::<symphonia_adapter_libopus::OpusDecoder>();
        registry
    });
    &CODECS
}

fn read_tags(revision: &MetadataRevision, tags: &mut Tags, has_cover_art: &mut bool) {
    for tag in revision.tags() {
        // Symphonia's Matroska reader gives its SimpleTags' names (TITLE, ARTIST…) only.
        let slot = match (tag.std_key, tag.key.to_ascii_uppercase().as_str()) {
            (Some(StandardTagKey::TrackTitle), _) | (None, "TITLE") => &mut tags.title,
            (Some(StandardTagKey::Artist), _) | (None, "ARTIST") => &mut tags.artist,
            (Some(StandardTagKey::Album), _) | (None, "ALBUM") => &mut tags.album,
            _ => continue,
        };
        if slot.is_none() {
            let text = tag.value.to_string();
            if !text.trim().is_empty() {
                *slot = Some(text.trim().to_owned());
            }
        }
    }
    if !revision.visuals().is_empty() {
        *has_cover_art = true;
    }
}

fn open_error(e: SymError, container: &str) -> AudioError {
    match e {
        SymError::IoError(io) if io.kind() == IoKind::UnexpectedEof && container != "unknown" => {
            AudioError::new(ErrorKind::Truncated, format!("the {container} file ends before any audio"))
        }
        SymError::IoError(io) if io.kind() == IoKind::UnexpectedEof => {
            AudioError::new(ErrorKind::NotAudio, "the file is too short to be audio of any known format")
        }
        SymError::IoError(io) => AudioError::from(io),
        // A WAV or AIFF whose audio is in a form symphonia does not read (GSM, for instance): the
        // file is audio, its codec is what we lack. (Elsewhere "unsupported" also means a file
        // that only looks like the container, such as a HEIC photo's `ftyp`: not audio.)
        SymError::Unsupported(what) if matches!(container, "wav" | "aiff") => AudioError::new(
            ErrorKind::UnsupportedCodec,
            format!("the {container} file's audio is in a form we cannot decode ({what}); export it as FLAC, PCM WAV, MP3 or AAC"),
        ),
        SymError::Unsupported(_) => AudioError::new(
            ErrorKind::NotAudio,
            NOT_AUDIO,
        ),
        other => AudioError::new(ErrorKind::Corrupt, format!("the file's structure is damaged: {other}")),
    }
}

/// A file's bytes as symphonia sees them, with a few 4-byte fields replaced: a WAV's size
/// fields where they claim more than the file holds or are a streaming writer's placeholder (0 or
/// 0xFFFFFFFF: the data then runs to the file's end), an MP4's QuickTime-style `meta` boxes
/// renamed `free` (see `container::mp4_quicktime_metas`), a Matroska SeekHead's entries for
/// elements a cut-short download lacks made unknown (see `matroska::Matroska::seeks_past_end`).
/// It ends at `len`, which may be before the file's end: an MP3's trailing tags are not audio
/// (see `container::mp3_trailing_tags`).
struct Patched<R> {
    file: R,
    position: u64,
    len: u64,
    patches: Vec<(u64, [u8; 4])>,
}

impl<R: Read> Read for Patched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = usize::try_from(self.len.saturating_sub(self.position)).unwrap_or(usize::MAX);
        let take = buf.len().min(left);
        let n = self.file.read(&mut buf[..take])?;
        for (at, bytes) in &self.patches {
            for (i, b) in bytes.iter().enumerate() {
                let abs = at + i as u64;
                if abs >= self.position && abs < self.position + n as u64 {
                    buf[(abs - self.position) as usize] = *b;
                }
            }
        }
        self.position += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Patched<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        // The end is `len`, wherever the file's own end is.
        let to = match to {
            SeekFrom::End(offset) => SeekFrom::Start(self.len.saturating_add_signed(offset)),
            other => other,
        };
        self.position = self.file.seek(to)?;
        Ok(self.position)
    }
}

impl<R: Read + Seek + Send + Sync> MediaSource for Patched<R> {
    fn is_seekable(&self) -> bool {
        true
    }
    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// Anything seekable with a known length: a file, or bytes in memory.
pub trait Input: Read + Seek + Send + Sync + 'static {}
impl<T: Read + Seek + Send + Sync + 'static> Input for T {}

fn wav_source<R: Input>(mut file: R, len: u64, warnings: &mut Vec<String>) -> Result<Box<dyn MediaSource>> {
    let sizes = crate::container::wav_sizes(&mut file);
    file.seek(SeekFrom::Start(0))?;
    let unpatched =
        |file: R| -> Box<dyn MediaSource> { Box::new(Patched { file, position: 0, len, patches: Vec::new() }) };
    let Some(sizes) = sizes else { return Ok(unpatched(file)) };
    let placeholder = sizes.declared_data == 0 || sizes.declared_data == u32::MAX;
    if !placeholder && u64::from(sizes.declared_data) <= sizes.actual_data {
        return Ok(unpatched(file));
    }
    if !placeholder {
        warnings.push(format!(
            "truncated: the header declares {} bytes of audio, the file holds {}",
            sizes.declared_data, sizes.actual_data
        ));
    }
    let data = u32::try_from(sizes.actual_data).unwrap_or(u32::MAX - 1);
    let riff = u32::try_from(len.saturating_sub(8)).unwrap_or(u32::MAX - 1);
    let patches = vec![(sizes.riff_size_at, riff.to_le_bytes()), (sizes.data_size_at, data.to_le_bytes())];
    Ok(Box::new(Patched { file, position: 0, len, patches }))
}

thread_local! {
    static IN_DECODER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs a call into symphonia; a panic inside it (a bug of the decoder on a hostile file)
/// becomes a `corrupt` error instead of ending the process.
fn guarded<T>(doing: &str, f: impl FnOnce() -> T) -> Result<T> {
    IN_DECODER.with(|c| c.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_DECODER.with(|c| c.set(false));
    result.map_err(|_| {
        AudioError::new(ErrorKind::Corrupt, format!("the file is malformed: the decoder failed while {doing}"))
    })
}

/// Silences the panic message of a decoder panic that `guarded` turns into an error; any other
/// panic still reaches the previous hook (the default report, or a fuzzer's abort).
pub fn quiet_decoder_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_DECODER.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Decodes the file at `path`, feeding every sink, and returns what was decoded.
pub fn decode(path: &Path, sinks: &mut [&mut dyn Sink]) -> Result<Decoded> {
    decode_input(File::open(path)?, sinks)
}

/// Decodes bytes held in memory (the fuzzer's entry, and uploads already in memory).
pub fn decode_bytes(bytes: Vec<u8>, sinks: &mut [&mut dyn Sink]) -> Result<Decoded> {
    decode_input(std::io::Cursor::new(bytes), sinks)
}

/// Decodes any seekable input.
pub fn decode_input<R: Input>(mut input: R, sinks: &mut [&mut dyn Sink]) -> Result<Decoded> {
    let len = input.seek(SeekFrom::End(0))?;
    input.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 16];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    if got == 0 {
        return Err(AudioError::new(ErrorKind::Empty, "the file is empty"));
    }
    // An ID3v2 tag may precede any format: name the container from what follows it.
    let mut marker_at = 0u64;
    let mut container = sniff_container(&head[..got]);
    if head.starts_with(b"ID3") && got >= 10 {
        let size = head[6..10].iter().fold(0u64, |acc, b| (acc << 7) | u64::from(b & 0x7F));
        let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
        marker_at = 10 + size + footer;
        let mut after = [0u8; 16];
        input.seek(SeekFrom::Start(marker_at))?;
        let n = input.read(&mut after)?;
        // What follows the tag must itself be audio (an MPEG frame for an MP3).
        container = sniff_container(&after[..n]);
    }
    if container == "unknown" {
        // Symphonia would scan the bytes for a format marker anywhere in the first megabyte;
        // audio files start with theirs, and a scan through junk is where hostile input hides.
        return Err(AudioError::new(ErrorKind::NotAudio, NOT_AUDIO));
    }
    // Symphonia 0.5 reads neither Matroska's codec delay nor its discard padding.
    let matroska = if container == "matroska" { crate::matroska::scan(&mut input) } else { None };
    if matroska.as_ref().is_some_and(|m| m.webm) {
        container = "webm";
    }
    // Symphonia 0.5 leaves the MP4 edit list and AIFF's frame count to us; read them first.
    // Lengths that symphonia would allocate for before checking them against the file.
    let id3_frame = if head.starts_with(b"ID3") {
        crate::container::id3v2_oversized_frame(&mut input).map(|f| format!("its ID3 tag's {f} frame"))
    } else {
        None
    };
    if container == "mp4" {
        if let Some(crate::container::Overreach::CutShort(b)) = crate::container::mp4_overreaching_box(&mut input) {
            return Err(AudioError::new(
                ErrorKind::Truncated,
                format!("the mp4 file ends inside its `{b}` box, before its audio is described"),
            ));
        }
    }
    let oversized = id3_frame.or_else(|| match container {
        "mp4" => match crate::container::mp4_overreaching_box(&mut input) {
            Some(crate::container::Overreach::Damaged(b)) => Some(format!("its `{b}` box")),
            _ => None,
        }
        .or_else(|| crate::container::mp4_oversized_table(&mut input).map(|t| format!("its `{t}` table"))),
        "flac" => crate::container::flac_oversized_metadata(&mut input, marker_at).map(|b| format!("its {b} block")),
        "matroska" | "webm" => matroska.as_ref().and_then(|m| m.oversized.as_ref()).map(|e| format!("its {e} element")),
        _ => None,
    });
    if let Some(what) = oversized {
        return Err(AudioError::new(
            ErrorKind::Corrupt,
            format!("the {container} file is damaged: {what} claims more bytes than it holds"),
        ));
    }
    let (mp4_skip, aiff_frames) = match container {
        "mp4" => (crate::container::mp4_priming(&mut input), None),
        "aiff" => (None, crate::container::aiff_frames(&mut input)),
        _ => (None, None),
    };
    // What the file holds, to name it if nothing in it can be decoded.
    let held = match container {
        "mp4" => crate::container::mp4_sound_codec(&mut input).map(|code| match &code {
            b"ac-3" => "Dolby Digital (AC-3)".to_owned(),
            b"ec-3" => "Dolby Digital Plus (E-AC-3)".to_owned(),
            b"dtsc" | b"dtsh" | b"dtsl" => "DTS".to_owned(),
            other => format!("`{}`", crate::container::box_name(other)),
        }),
        "ogg" => crate::container::ogg_first_codec(&mut input)
            .filter(|c| !matches!(*c, "Vorbis" | "Opus" | "FLAC"))
            .map(str::to_owned),
        "matroska" | "webm" => matroska.as_ref().and_then(crate::matroska::Matroska::unreadable_audio),
        _ => None,
    };
    let unsupported = |what: &str| {
        AudioError::new(
            ErrorKind::UnsupportedCodec,
            format!(
                "the {container} file's audio is {what}, which cannot be decoded; export it as FLAC, MP3, AAC or Opus"
            ),
        )
    };
    input.seek(SeekFrom::Start(0))?;
    let mut warnings = Vec::new();
    let source: Box<dyn MediaSource> = match container {
        "wav" => wav_source(input, len, &mut warnings)?,
        "mp4" => {
            let mut patches: Vec<(u64, [u8; 4])> =
                crate::container::mp4_quicktime_metas(&mut input).into_iter().map(|at| (at, *b"free")).collect();
            if let Some(cut) = crate::container::mp4_cut_short(&mut input) {
                patches.extend(cut);
            }
            input.seek(SeekFrom::Start(0))?;
            Box::new(Patched { file: input, position: 0, len, patches })
        }
        "matroska" | "webm" => {
            let patches = matroska
                .as_ref()
                .map(|m| m.seeks_past_end.iter().map(|at| (*at, crate::matroska::UNKNOWN_ID)).collect())
                .unwrap_or_default();
            Box::new(Patched { file: input, position: 0, len, patches })
        }
        "mp3" => {
            // APEv2, Lyrics3v2 and ID3v1 tags after the last frame would otherwise be read as a
            // few frames more of noise.
            let audio_end = crate::container::mp3_trailing_tags(&mut input, len);
            input.seek(SeekFrom::Start(0))?;
            Box::new(Patched { file: input, position: 0, len: audio_end, patches: Vec::new() })
        }
        _ => Box::new(Patched { file: input, position: 0, len, patches: Vec::new() }),
    };
    let stream = MediaSourceStream::new(source, Default::default());
    let options = FormatOptions { enable_gapless: true, ..Default::default() };
    let mut probed = guarded("reading the file's structure", || {
        symphonia::default::get_probe().format(&Hint::new(), stream, &options, &MetadataOptions::default())
    })?
    .map_err(|e| match (open_error(e, container), &held) {
        (e, Some(what)) if e.kind == ErrorKind::Truncated => unsupported(what),
        (e, _) => e,
    })?;
    let mut tags = Tags::default();
    let mut has_cover_art = false;
    if let Some(meta) = probed.metadata.get() {
        if let Some(rev) = meta.current() {
            read_tags(rev, &mut tags, &mut has_cover_art);
        }
    }
    let mut reader: Box<dyn FormatReader> = probed.format;
    let track =
        reader.tracks().iter().find(|t| t.codec_params.codec != CODEC_TYPE_NULL).cloned().ok_or_else(
            || match &held {
                Some(what) => unsupported(what),
                None => AudioError::new(ErrorKind::NotAudio, "the file holds no audio track"),
            },
        )?;
    let params = &track.codec_params;
    let opus = params.codec == CODEC_TYPE_OPUS;
    // Opus' pre-skip is dropped below, across as many packets as it spans: the decoder would drop
    // it from the first packet only, so it is given a header whose pre-skip is zero. (An MP4's
    // `dOps` arrives as the header's fields in big-endian order: the pre-skip is at the same place.)
    let mut decoder_params = params.clone();
    let mut opus_pre_skip = 0u64;
    if opus {
        if let Some(pre_skip) = decoder_params.extra_data.as_mut().and_then(|head| head.get_mut(10..12)) {
            let bytes = [pre_skip[0], pre_skip[1]];
            opus_pre_skip =
                u64::from(if container == "mp4" { u16::from_be_bytes(bytes) } else { u16::from_le_bytes(bytes) });
            pre_skip.fill(0);
        }
        // libopus decodes at 48 kHz whatever rate the encoder was given (which Matroska's
        // SamplingFrequency may state), as ffmpeg does.
        decoder_params.sample_rate = Some(48_000);
        // Symphonia's MP4 reader leaves the channels to the header.
        if decoder_params.channels.is_none() {
            decoder_params.channels = match decoder_params.extra_data.as_deref().and_then(|head| head.get(9)) {
                Some(1) => Some(Layout::Mono.into_channels()),
                Some(2) => Some(Layout::Stereo.into_channels()),
                _ => None,
            };
        }
    }
    // Symphonia's PCM decoder sizes its buffer from the largest packet, which Matroska does not
    // declare: the largest block does.
    if let (None, Some(t)) =
        (decoder_params.max_frames_per_packet, matroska.as_ref().and_then(|m| m.track(u64::from(track.id))))
    {
        let bytes_per_frame = params.channels.map_or(1, |c| c.count() as u64)
            * u64::from(params.bits_per_sample.unwrap_or(8).div_ceil(8)).max(1);
        // At most 4 Mi frames (a minute and a half at 48 kHz): no real block is that long.
        decoder_params.max_frames_per_packet = Some((t.largest_block / bytes_per_frame + 1).min(1 << 22));
    }
    let registry = codecs();
    let codec = registry.get_codec(params.codec).map(|d| d.short_name.to_owned());
    let mut decoder = guarded("starting the decoder", || registry.make(&decoder_params, &DecoderOptions::default()))?
        .map_err(|e| {
        let channels = params.channels.map_or(0, |c| c.count());
        AudioError::new(
            ErrorKind::UnsupportedCodec,
            if opus && channels > 2 {
                format!(
                    "Opus with {channels} channels cannot be decoded yet (mono and stereo can); export it in stereo"
                )
            } else {
                format!(
                    "the {container} file's codec ({}) is not supported: {e}",
                    codec.as_deref().unwrap_or("unknown")
                )
            },
        )
    })?;
    // Symphonia's decoders already drop MP3 and Vorbis encoder delay and padding (gapless);
    // for MP4 we apply the edit list ourselves, and AIFF's count comes from its COMM chunk.
    let mut skip: u64 = 0;
    // Where we skip priming ourselves, output also stops at the media's length (its padding).
    let mut keep: Option<u64> = None;
    let mut declared_frames = params.n_frames;
    // Matroska's discard padding: the track's packet count and what to cut from the last one.
    let mut trim_last: Option<(u64, u64)> = None;
    let mut cut_short = false;
    match container {
        "mp4" => {
            // Without an edit list, Opus' own pre-skip.
            skip = mp4_skip.unwrap_or(if opus { opus_pre_skip } else { 0 });
            declared_frames = declared_frames.map(|n| n.saturating_sub(skip));
            keep = declared_frames;
        }
        "aiff" => declared_frames = aiff_frames.or(declared_frames),
        // Ogg Opus: the header's pre-skip (symphonia's delay) is ours to drop, and the declared
        // length (the last granule) counts it. The last page's end arrives as the last packet's trim.
        "ogg" if opus => {
            skip = u64::from(params.delay.unwrap_or(0));
            declared_frames = declared_frames.map(|n| n.saturating_sub(skip));
        }
        // Matroska: the codec's delay is dropped, and the last block's DiscardPadding cut from
        // its end.
        "matroska" | "webm" => {
            let rate = decoder_params.sample_rate.unwrap_or(0);
            let this = matroska.as_ref().and_then(|m| m.track(u64::from(track.id)));
            // Opus' own header, as ffmpeg does: its muxer writes CodecDelay at the encoder's
            // input rate (a third of the pre-skip for a 16 kHz recording).
            skip = match this.and_then(|t| t.codec_delay_ns) {
                _ if opus => opus_pre_skip,
                Some(ns) => crate::matroska::ns_to_frames(ns, rate),
                None => 0,
            };
            if let Some(t) = this.filter(|t| t.last_discard_ns > 0) {
                trim_last = Some((t.frames, crate::matroska::ns_to_frames(t.last_discard_ns.unsigned_abs(), rate)));
            }
            // The Info's duration is the longest track's (a video's, say), in coarse units: the
            // structure says better whether the file is whole.
            declared_frames = None;
            cut_short = matroska.as_ref().is_some_and(|m| m.cut_off);
        }
        _ => {}
    }
    // A Matroska track states a bit depth for lossy codecs too (the encoder's input's).
    let lossless = !matches!(codec.as_deref(), Some("opus" | "vorbis" | "aac" | "mp3" | "mp2" | "mp1"));
    let mut format = Format {
        sample_rate: params.sample_rate.unwrap_or(0),
        channels: params.channels.map(|c| c.count()).unwrap_or(0),
        bit_depth: params.bits_per_sample.filter(|_| lossless),
        codec: codec.unwrap_or_else(|| "unknown".into()),
        container,
    };

    let mut frames: u64 = 0;
    let mut started = false;
    let mut bad_packets = 0u64;
    let mut packets = 0u64;
    let mut buffer: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match guarded("reading a packet", || reader.next_packet())? {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == IoKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => {
                decoder = registry.make(&decoder_params, &DecoderOptions::default()).map_err(|e| {
                    AudioError::new(ErrorKind::Corrupt, format!("the stream changed format mid-way: {e}"))
                })?;
                continue;
            }
            Err(SymError::IoError(e)) => return Err(e.into()),
            Err(_) => {
                // A damaged container structure: keep what decoded so far.
                cut_short = true;
                break;
            }
        };
        if packet.track_id() != track.id {
            continue;
        }
        packets += 1;
        let cut_end = match trim_last {
            Some((last, padding)) if packets == last => usize::try_from(padding).unwrap_or(usize::MAX),
            _ => 0,
        };
        let decoded = match guarded("decoding a packet", || decoder.decode(&packet))? {
            Ok(d) => d,
            Err(SymError::DecodeError(_)) => {
                bad_packets += 1;
                continue;
            }
            Err(SymError::IoError(_)) => {
                cut_short = true;
                break;
            }
            Err(e) => return Err(AudioError::new(ErrorKind::Corrupt, format!("decoding failed: {e}"))),
        };
        let spec = *decoded.spec();
        let n = decoded.frames();
        if n == 0 {
            continue;
        }
        format.sample_rate = spec.rate;
        format.channels = spec.channels.count();
        let buf = match &mut buffer {
            Some(b) if b.capacity() >= n * format.channels => b,
            _ => buffer.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buf.copy_interleaved_ref(decoded);
        // Skip the priming, and stop at the kept length.
        let start = usize::try_from(skip.min(n as u64)).unwrap_or(n);
        skip -= start as u64;
        let end = match keep {
            Some(total) => n.min(start + usize::try_from(total.saturating_sub(frames)).unwrap_or(usize::MAX)),
            None => n,
        }
        .saturating_sub(cut_end);
        let samples = &buf.samples()[start * format.channels..end.max(start) * format.channels];
        if samples.is_empty() {
            continue;
        }
        if !started {
            // Sinks size their buffers from the rate: a file that lies about it must not get that far.
            if !(1..=MAX_SAMPLE_RATE).contains(&format.sample_rate) || format.channels == 0 {
                return Err(AudioError::new(
                    ErrorKind::Corrupt,
                    format!(
                        "the file declares {} Hz and {} channels, which no real audio has",
                        format.sample_rate, format.channels
                    ),
                ));
            }
            started = true;
            for sink in sinks.iter_mut() {
                sink.start(&format);
            }
        }
        for sink in sinks.iter_mut() {
            sink.push(samples, format.channels);
        }
        frames += (samples.len() / format.channels) as u64;
    }
    if let Some(rev) = reader.metadata().current() {
        read_tags(rev, &mut tags, &mut has_cover_art);
    }
    if let Some(title) = matroska.and_then(|m| m.title).filter(|_| tags.title.is_none()) {
        tags.title = Some(title);
    }
    if frames == 0 {
        return Err(if bad_packets > 0 {
            AudioError::new(
                ErrorKind::Corrupt,
                format!("none of the file's {bad_packets} audio packets could be decoded"),
            )
        } else {
            AudioError::new(ErrorKind::Truncated, "the file ends before any audio")
        });
    }
    if cut_short || declared_frames.is_some_and(|d| frames < d) {
        warnings.push(match declared_frames.filter(|d| frames < *d) {
            Some(d) => {
                format!("truncated: the file ends early; decoded {frames} of the {d} frames its header declares")
            }
            None => "truncated: the file ends early; analysed what could be decoded".to_owned(),
        });
    }
    if bad_packets > 0 {
        warnings.push(format!("corrupt: skipped {bad_packets} damaged audio packets"));
    }
    Ok(Decoded { format, frames, tags, has_cover_art, warnings })
}

#[cfg(test)]
mod tests {
    use super::sniff_container;

    #[test]
    fn containers_are_named_by_content() {
        assert_eq!(sniff_container(b"RIFF\0\0\0\0WAVEfmt "), "wav");
        assert_eq!(sniff_container(b"FORM\0\0\0\0AIFFCOMM"), "aiff");
        assert_eq!(sniff_container(b"fLaC\0\0\0\x22"), "flac");
        assert_eq!(sniff_container(b"OggS\0\x02"), "ogg");
        assert_eq!(sniff_container(b"\0\0\0\x20ftypM4A "), "mp4");
        assert_eq!(sniff_container(b"ID3\x04\0"), "mp3");
        assert_eq!(sniff_container(&[0xFF, 0xFB, 0x90, 0x64]), "mp3");
        assert_eq!(sniff_container(b"%PDF-1.7"), "unknown");
    }
}
