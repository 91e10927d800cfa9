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
    Ok(FootageFacts { kind, duration, width, height, codec })
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
                codec: "h264".into()
            })
        );
        // WebM keeps the length in the container only.
        let vp9 = probe(
            r#"{"streams":[{"index":0,"codec_name":"vp9","codec_type":"video","width":320,"height":240,"disposition":{"attached_pic":0}}],"format":{"format_name":"matroska,webm","duration":"2.000000"}}"#,
        );
        assert_eq!(accept(&vp9).map(|f| (f.kind, f.duration)), Ok((FootageKind::Video, Some(2.0))));
        for (format, codec) in [("png_pipe", "png"), ("image2", "mjpeg"), ("webp_pipe", "webp")] {
            let still = probe(&format!(
                r#"{{"streams":[{{"codec_name":"{codec}","codec_type":"video","width":1080,"height":1350,"duration":"0.040000"}}],"format":{{"format_name":"{format}"}}}}"#
            ));
            let facts = accept(&still).unwrap();
            assert_eq!((facts.kind, facts.duration, facts.height), (FootageKind::Image, None, 1350), "{format}");
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
}
