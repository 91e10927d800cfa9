#!/usr/bin/env bash
# Makes the fuzzer's seed corpus: a fifth of a second of audio in every supported format.
set -euo pipefail
out="${1:-$(dirname "$0")/corpus/decode_analyze}"
mkdir -p "$out"
src="aevalsrc=0.5*sin(2*PI*220*t)*exp(-10*mod(t\,0.1)):s=22050:d=0.2"
gen() { ffmpeg -v error -y -f lavfi -i "$src" "$@"; }
gen -c:a pcm_s16le "$out/s16.wav"
gen -c:a pcm_f32le "$out/f32.wav"
gen -c:a pcm_s16be "$out/a.aiff"
gen -c:a flac "$out/a.flac"
gen -c:a alac "$out/alac.m4a"
gen -c:a aac -b:a 32k "$out/aac.m4a"
gen -c:a libmp3lame -b:a 32k "$out/a.mp3"
gen -c:a libvorbis "$out/a.ogg"
gen -c:a libopus "$out/a.opus"
