//! What a file must be to be a project's footage (issue 18, item 1), judged from what `ffprobe`
//! reads of it, the same way on the desktop (before a byte is sent) and on the server (before
//! anything is kept): clips in MP4, MOV, WebM or Matroska with H.264, HEVC, VP9 or AV1 video, and
//! still images in JPEG, PNG or WebP. Invariant: every refusal names what the file is and what
//! would do instead, and a file that passes here still has to decode (the callers check that with
//! ffmpeg, which alone knows whether this machine decodes HEVC).
//!
//! The probe is `ffprobe -v error -protocol_whitelist file -show_entries
//! format=format_name,duration:stream=index,codec_type,codec_name,width,height,duration:stream_disposition=attached_pic:stream_side_data=rotation
//! -of json FILE`, read into [`Probe`].

use serde::{Deserialize, Serialize};

/// The demuxers a file is probed with (`ffprobe -format_whitelist`): footage's, and the usual
/// others so a refusal can say what a file is. No playlist or concatenating demuxer is among them,
/// so a "clip" that is really a playlist cannot make ffmpeg open anything else.
pub const PROBE_FORMATS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,image2,png_pipe,jpeg_pipe,webp_pipe,gif,\
                                 bmp_pipe,tiff_pipe,wav,mp3,ogg,flac,aac,mpegts,avi,asf,flv,mpeg";
/// The demuxers footage is decoded with.
pub const FOOTAGE_FORMATS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,image2,png_pipe,jpeg_pipe,webp_pipe";
/// What `ffprobe -show_entries` reads for [`Probe`].
pub const PROBE_ENTRIES: &str = "format=format_name,duration:stream=index,codec_type,codec_name,width,height,duration:\
                                 stream_disposition=attached_pic:stream_side_data=rotation";

/// The arguments of the probe of `path` (after `ffprobe`), reading local files only.
pub fn probe_args(path: &std::path::Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = [
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        PROBE_FORMATS,
        "-show_entries",
        PROBE_ENTRIES,
    ]
    .into_iter()
    .chain(["-of", "json"])
    .map(Into::into)
    .collect();
    args.push(path.as_os_str().to_owned());
    args
}

/// A clip shorter than this is not footage one could cut to (a tenth of a second: three frames).
pub const MIN_CLIP_SECONDS: f64 = 0.1;
/// Thirty minutes: longer than any song a render covers.
pub const MAX_CLIP_SECONDS: f64 = MAX_CLIP_MINUTES as f64 * 60.0;
const MAX_CLIP_MINUTES: u32 = 30;
/// The smallest and largest edge of a picture, in pixels (8K is 7680 wide).
pub const MIN_EDGE: u32 = 16;
pub const MAX_EDGE: u32 = 8192;

/// A clip or a still.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum FootageKind {
    Video,
    Image,
}

/// What an upload is for: the project's track, or its footage (tus metadata `purpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum UploadPurpose {
    #[default]
    Audio,
    Footage,
}

impl UploadPurpose {
    /// As it is written in tus metadata and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Footage => "footage",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Audio, Self::Footage].into_iter().find(|p| p.as_str() == text)
    }
}

/// What a file accepted as footage is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FootageFacts {
    pub kind: FootageKind,
    /// Seconds of a clip; `None` for a still.
    pub duration: Option<f64>,
    /// As it is shown (a phone clip recorded upright is taller than wide whatever its stream says).
    pub width: u32,
    pub height: u32,
    /// ffprobe's name of the picture's codec (`h264`, `hevc`, `vp9`, `av1`, `mjpeg`, `png`, `webp`).
    pub codec: String,
    /// The extension it is stored under (`mp4`, `webm`, `mkv`, `jpg`, `png`, `webp`).
    pub extension: String,
}

/// `ffprobe -of json`'s answer, the parts footage is judged on.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Probe {
    #[serde(default)]
    pub streams: Vec<ProbeStream>,
    #[serde(default)]
    pub format: ProbeFormat,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProbeStream {
    #[serde(default)]
    pub codec_type: Option<String>,
    #[serde(default)]
    pub codec_name: Option<String>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    /// Seconds, as ffprobe writes them (a string).
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default)]
    pub disposition: ProbeDisposition,
    #[serde(default)]
    pub side_data_list: Vec<ProbeSideData>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProbeDisposition {
    /// 1 for a cover image carried in a video or audio file, not a picture stream of its own.
    #[serde(default)]
    pub attached_pic: u8,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProbeSideData {
    /// Degrees the picture is turned when shown.
    #[serde(default)]
    pub rotation: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProbeFormat {
    /// The demuxer and its aliases, comma-separated (`mov,mp4,m4a,3gp,3g2,mj2`).
    #[serde(default)]
    pub format_name: Option<String>,
    #[serde(default)]
    pub duration: Option<String>,
}

/// Why a file is not footage; its message is what the creator reads.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotFootage {
    #[error("it holds no picture ({0}): add audio as the project's track, and clips or images as footage")]
    NoPicture(String),
    #[error(
        "its video is {0}; footage clips must be H.264, HEVC, VP9 or AV1 (export it as MP4 with H.264 from any editor)"
    )]
    VideoCodec(String),
    #[error("it is {0}; footage clips must be MP4, MOV, WebM or Matroska")]
    Container(String),
    #[error("it is {0}; footage images must be JPEG, PNG or WebP")]
    ImageFormat(String),
    #[error("its picture is {width}×{height} pixels; footage is {MIN_EDGE} to {MAX_EDGE} pixels on each edge")]
    Size { width: u32, height: u32 },
    #[error("it lasts {0:.2} s; a clip lasts {MIN_CLIP_SECONDS} s to {MAX_CLIP_MINUTES} minutes")]
    Length(f64),
}

/// A codec as a creator knows it.
fn codec_name(codec: &str) -> String {
    let known = match codec {
        "mpeg4" => "MPEG-4 Part 2",
        "msmpeg4v3" | "msmpeg4v2" => "DivX (MS MPEG-4)",
        "mpeg2video" => "MPEG-2",
        "mpeg1video" => "MPEG-1",
        "prores" => "Apple ProRes",
        "dnxhd" => "Avid DNxHD",
        "theora" => "Theora",
        "vp8" => "VP8",
        "mjpeg" => "Motion JPEG",
        "gif" => "an animated GIF",
        "h263" => "H.263",
        "wmv3" | "wmv2" | "vc1" => "Windows Media Video",
        "bmp" => "a BMP image",
        "tiff" => "a TIFF image",
        "heic" | "hevc_image" => "a HEIC image",
        other => return other.to_owned(),
    };
    known.to_owned()
}

fn seconds(s: Option<&str>) -> Option<f64> {
    s.and_then(|s| s.trim().parse::<f64>().ok()).filter(|v| v.is_finite() && *v > 0.0)
}

/// Judges a probed file: its footage facts, or why it is not footage.
pub fn accept(probe: &Probe) -> Result<FootageFacts, NotFootage> {
    let format = probe.format.format_name.clone().unwrap_or_default();
    let formats: Vec<&str> = format.split(',').map(str::trim).collect();
    let Some(picture) =
        probe.streams.iter().find(|s| s.codec_type.as_deref() == Some("video") && s.disposition.attached_pic == 0)
    else {
        let found =
            probe.streams.iter().filter_map(|s| s.codec_name.as_deref()).map(codec_name).collect::<Vec<_>>().join(", ");
        return Err(NotFootage::NoPicture(if found.is_empty() { "nothing ffmpeg can read".into() } else { found }));
    };
    let codec = picture.codec_name.clone().unwrap_or_default();
    let still_container =
        formats.iter().any(|f| matches!(*f, "image2" | "png_pipe" | "jpeg_pipe" | "webp_pipe" | "mjpeg"));
    let kind = match codec.as_str() {
        "png" | "webp" | "mjpeg" if still_container => FootageKind::Image,
        "h264" | "hevc" | "vp9" | "av1" => FootageKind::Video,
        _ if still_container => return Err(NotFootage::ImageFormat(codec_name(&codec))),
        _ => return Err(NotFootage::VideoCodec(codec_name(&codec))),
    };
    if kind == FootageKind::Video && !formats.iter().any(|f| matches!(*f, "mov" | "mp4" | "matroska" | "webm")) {
        return Err(NotFootage::Container(if format.is_empty() { "an unknown container".into() } else { format }));
    }
    let (mut width, mut height) = (picture.width.unwrap_or(0), picture.height.unwrap_or(0));
    // A clip recorded upright says so in its side data: shown turned a quarter, its edges swap.
    let turned = picture.side_data_list.iter().filter_map(|d| d.rotation).any(|r| (r.abs() % 180.0 - 90.0).abs() < 1.0);
    if turned {
        std::mem::swap(&mut width, &mut height);
    }
    if !(MIN_EDGE..=MAX_EDGE).contains(&width) || !(MIN_EDGE..=MAX_EDGE).contains(&height) {
        return Err(NotFootage::Size { width, height });
    }
    let duration = match kind {
        FootageKind::Image => None,
        FootageKind::Video => {
            let d = seconds(picture.duration.as_deref())
                .or_else(|| seconds(probe.format.duration.as_deref()))
                .unwrap_or(0.0);
            if !(MIN_CLIP_SECONDS..=MAX_CLIP_SECONDS).contains(&d) {
                return Err(NotFootage::Length(d));
            }
            Some(d)
        }
    };
    let extension = match codec.as_str() {
        "png" => "png",
        "webp" => "webp",
        "mjpeg" => "jpg",
        _ if formats.contains(&"mov") => "mp4",
        "vp9" | "av1" => "webm",
        _ => "mkv",
    }
    .to_owned();
    Ok(FootageFacts { kind, duration, width, height, codec, extension })
}

/// A change to a footage item (`PATCH /v1/footage/{id}`): its place in the list, and the part of
/// a clip to use (`null` clears a point; an absent field is left as it is).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct FootagePatch {
    /// Its new place in the project's list, from 0 (past the end: last); the others move aside.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "whole_number")]
    pub position: Option<u32>,
    /// Where the part of the clip to use starts, in seconds; `null`: the clip's start.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>))]
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub in_point: Option<Option<f64>>,
    /// Where it ends, in seconds; `null`: the clip's end.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>))]
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub out_point: Option<Option<f64>>,
}

/// Why a footage change is refused: the field it is about, and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct BadPatch {
    pub field: &'static str,
    pub message: String,
}

impl FootagePatch {
    /// The points the item has after this change, checked against the item: a still has none,
    /// and a clip's part lies within it and lasts at least [`MIN_CLIP_SECONDS`].
    pub fn points(
        &self,
        kind: FootageKind,
        duration: Option<f64>,
        now: (Option<f64>, Option<f64>),
    ) -> Result<(Option<f64>, Option<f64>), BadPatch> {
        let in_point = self.in_point.unwrap_or(now.0);
        let out_point = self.out_point.unwrap_or(now.1);
        let bad = |field, message: String| Err(BadPatch { field, message });
        let Some(duration) = duration.filter(|_| kind == FootageKind::Video) else {
            if in_point.is_some() || out_point.is_some() {
                let field = if in_point.is_some() { "in_point" } else { "out_point" };
                return bad(field, "A still has no in and out points: it shows as long as its cut lasts.".into());
            }
            return Ok((None, None));
        };
        for (field, point) in [("in_point", in_point), ("out_point", out_point)] {
            if point.is_some_and(|p| !p.is_finite() || p < 0.0 || p > duration + 0.001) {
                return bad(field, format!("A point lies within the clip: 0 to {duration:.2} s."));
            }
        }
        let (start, end) = (in_point.unwrap_or(0.0), out_point.unwrap_or(duration));
        if end - start < MIN_CLIP_SECONDS {
            let field = if self.out_point.is_some() { "out_point" } else { "in_point" };
            return bad(
                field,
                format!("The part used must last at least {MIN_CLIP_SECONDS} s; this one is {start:.2}–{end:.2} s."),
            );
        }
        Ok((in_point, out_point))
    }
}

/// A place in a list: a JSON integer, written `3` or `3.0` (both are integers to JSON Schema).
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let Some(n) = Option::<f64>::deserialize(d)? else { return Ok(None) };
    if n.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&n) {
        return Err(serde::de::Error::custom(format!("a place in the list is a whole number from 0, not {n}")));
    }
    Ok(Some(n as u32))
}

/// `Option<Option<T>>` as JSON: absent is `None`, `null` is `Some(None)`.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(value: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ffprobe's answers for files made with ffmpeg 5.1 (Debian 12): `testsrc2` encoded each way.
    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn clips_and_images_in_the_accepted_formats_are_footage() {
        let h264 = probe(
            r#"{"programs":[],"streams":[{"index":0,"codec_name":"h264","codec_type":"video","width":320,"height":240,"duration":"2.000000","disposition":{"attached_pic":0}}],"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"2.000000"}}"#,
        );
        assert_eq!(
            accept(&h264),
            Ok(FootageFacts {
                kind: FootageKind::Video,
                duration: Some(2.0),
                width: 320,
                height: 240,
                codec: "h264".into(),
                extension: "mp4".into(),
            })
        );
        // WebM keeps the length in the container only.
        let vp9 = probe(
            r#"{"streams":[{"index":0,"codec_name":"vp9","codec_type":"video","width":320,"height":240,"disposition":{"attached_pic":0}}],"format":{"format_name":"matroska,webm","duration":"2.000000"}}"#,
        );
        assert_eq!(
            accept(&vp9).map(|f| (f.kind, f.duration, f.extension)),
            Ok((FootageKind::Video, Some(2.0), "webm".into()))
        );
        for (format, codec, ext) in
            [("png_pipe", "png", "png"), ("image2", "mjpeg", "jpg"), ("webp_pipe", "webp", "webp")]
        {
            let still = probe(&format!(
                r#"{{"streams":[{{"codec_name":"{codec}","codec_type":"video","width":1080,"height":1350,"duration":"0.040000"}}],"format":{{"format_name":"{format}"}}}}"#
            ));
            let facts = accept(&still).unwrap();
            assert_eq!((facts.kind, facts.duration, facts.height), (FootageKind::Image, None, 1350), "{format}");
            assert_eq!(facts.extension, ext);
        }
    }

    #[test]
    fn a_clip_recorded_upright_is_as_tall_as_it_is_shown() {
        let phone = probe(
            r#"{"streams":[{"index":0,"codec_name":"hevc","codec_type":"video","width":1920,"height":1080,"duration":"12.5","side_data_list":[{"rotation":-90}]}],"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2"}}"#,
        );
        let facts = accept(&phone).unwrap();
        assert_eq!((facts.width, facts.height, facts.duration), (1080, 1920, Some(12.5)));
        let upside_down = probe(
            r#"{"streams":[{"codec_name":"h264","codec_type":"video","width":1920,"height":1080,"duration":"3","side_data_list":[{"rotation":180}]}],"format":{"format_name":"mov,mp4"}}"#,
        );
        assert_eq!(accept(&upside_down).map(|f| (f.width, f.height)), Ok((1920, 1080)));
    }

    #[test]
    fn what_is_not_footage_is_refused_naming_what_it_is() {
        let variant = |e: &NotFootage| format!("{e:?}").split('(').next().unwrap_or_default().to_owned();
        let cases: [(&str, &str, &str); 7] = [
            (
                r#"{"streams":[{"codec_name":"pcm_s16le","codec_type":"audio","duration":"1.0"}],"format":{"format_name":"wav"}}"#,
                "NoPicture",
                "pcm_s16le",
            ),
            (
                // A song with its cover: the cover is not a picture stream of its own.
                r#"{"streams":[{"codec_name":"mp3","codec_type":"audio"},{"codec_name":"mjpeg","codec_type":"video","width":600,"height":600,"disposition":{"attached_pic":1}}],"format":{"format_name":"mp3"}}"#,
                "NoPicture",
                "mp3",
            ),
            (
                r#"{"streams":[{"codec_name":"mpeg4","codec_type":"video","width":320,"height":240,"duration":"2"}],"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2"}}"#,
                "VideoCodec",
                "MPEG-4 Part 2",
            ),
            (
                r#"{"streams":[{"codec_name":"gif","codec_type":"video","width":320,"height":240}],"format":{"format_name":"gif"}}"#,
                "VideoCodec",
                "animated GIF",
            ),
            (
                r#"{"streams":[{"codec_name":"h264","codec_type":"video","width":320,"height":240,"duration":"2"}],"format":{"format_name":"mpegts"}}"#,
                "Container",
                "mpegts",
            ),
            (
                r#"{"streams":[{"codec_name":"bmp","codec_type":"video","width":320,"height":240}],"format":{"format_name":"image2"}}"#,
                "ImageFormat",
                "BMP",
            ),
            (r#"{"streams":[],"format":{}}"#, "NoPicture", "nothing ffmpeg can read"),
        ];
        for (json, is, named) in cases {
            let e = accept(&probe(json)).unwrap_err();
            assert_eq!(variant(&e), is, "{json}: {e:?}");
            assert!(e.to_string().contains(named), "{e} names {named}");
        }
        let tiny = probe(
            r#"{"streams":[{"codec_name":"png","codec_type":"video","width":8,"height":8}],"format":{"format_name":"png_pipe"}}"#,
        );
        assert_eq!(accept(&tiny), Err(NotFootage::Size { width: 8, height: 8 }));
        let flash = probe(
            r#"{"streams":[{"codec_name":"h264","codec_type":"video","width":320,"height":240,"duration":"0.033"}],"format":{"format_name":"mov,mp4"}}"#,
        );
        assert!(matches!(accept(&flash), Err(NotFootage::Length(_))));
        let endless = probe(
            r#"{"streams":[{"codec_name":"h264","codec_type":"video","width":320,"height":240}],"format":{"format_name":"matroska,webm"}}"#,
        );
        assert_eq!(accept(&endless), Err(NotFootage::Length(0.0)), "a clip of unknown length is refused");
    }

    #[test]
    fn a_patch_reads_absent_as_unchanged_and_null_as_cleared() {
        let p: FootagePatch = serde_json::from_str(r#"{"in_point": 1.5, "out_point": null}"#).unwrap();
        assert_eq!((p.position, p.in_point, p.out_point), (None, Some(Some(1.5)), Some(None)));
        let again: FootagePatch = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(again, p);
        assert!(serde_json::from_str::<FootagePatch>(r#"{"volume": 1}"#).is_err());
        assert!(serde_json::from_str::<FootagePatch>(r#"{"position": -1}"#).is_err());
        assert!(serde_json::from_str::<FootagePatch>(r#"{"position": 1.5}"#).is_err());
        let whole: FootagePatch = serde_json::from_str(r#"{"position": 44.0}"#).unwrap();
        assert_eq!(whole.position, Some(44), "44.0 is an integer in JSON");
    }

    #[test]
    fn a_patch_keeps_a_clips_part_within_it() {
        let video = FootageKind::Video;
        let patch = |json: &str| serde_json::from_str::<FootagePatch>(json).unwrap();
        // Only the out point changes; the in point stays.
        assert_eq!(
            patch(r#"{"out_point": 4}"#).points(video, Some(10.0), (Some(1.0), None)),
            Ok((Some(1.0), Some(4.0)))
        );
        assert_eq!(
            patch(r#"{"in_point": null}"#).points(video, Some(10.0), (Some(1.0), Some(4.0))),
            Ok((None, Some(4.0)))
        );
        let field = |json: &str, now| patch(json).points(video, Some(10.0), now).map_err(|e| e.field);
        assert_eq!(field(r#"{"in_point": 11}"#, (None, None)), Err("in_point"));
        assert_eq!(field(r#"{"out_point": -1}"#, (None, None)), Err("out_point"));
        assert_eq!(field(r#"{"out_point": 2}"#, (Some(3.0), None)), Err("out_point"), "the part is reversed");
        assert_eq!(field(r#"{"in_point": 9.95}"#, (None, None)), Err("in_point"), "too short");
        let image = patch(r#"{"in_point": 1}"#).points(FootageKind::Image, None, (None, None));
        assert_eq!(image.map_err(|e| e.field), Err("in_point"));
        assert_eq!(patch(r#"{"position": 3}"#).points(FootageKind::Image, None, (None, None)), Ok((None, None)));
    }
}
