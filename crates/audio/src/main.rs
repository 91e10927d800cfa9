//! `resonance-audio`: the operator's and the tests' window on the analysis.
//!
//! - `resonance-audio analyze FILE` prints one JSON object: facts, tempo, beats, downbeats,
//!   sections, energy, loudness, warnings.
//! - `resonance-audio peaks FILE --pixels-per-second N [--format json|dat] -o OUT`
//!
//! Bad input exits 1 with one line on stderr: `error: <kind>: <message>`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use resonance_audio::{AudioError, ErrorKind, PeakPyramid};

#[derive(Parser)]
#[command(name = "resonance-audio", version, about = "Audio facts, peaks and analysis")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints the file's facts and analysis as one JSON object.
    Analyze { file: PathBuf },
    /// Writes waveform peaks.
    Peaks {
        file: PathBuf,
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=48_000))]
        pixels_per_second: u32,
        #[arg(long, value_enum, default_value_t = PeakFormat::Json)]
        format: PeakFormat,
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum PeakFormat {
    Json,
    Dat,
}

fn peaks(file: &std::path::Path, pps: u32, format: PeakFormat, output: &std::path::Path) -> Result<(), AudioError> {
    let mut pyramid = PeakPyramid::per_second(pps, 1);
    resonance_audio::decode(file, &mut [&mut pyramid])?;
    let level = pyramid.finish().into_iter().next().ok_or_else(|| AudioError::new(ErrorKind::Corrupt, "no peaks"))?;
    let bytes = match format {
        PeakFormat::Json => level.to_json().to_string().into_bytes(),
        PeakFormat::Dat => level.to_dat(),
    };
    std::fs::write(output, bytes)?;
    Ok(())
}

fn main() -> ExitCode {
    resonance_audio::quiet_decoder_panics();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Analyze { file } => resonance_audio::analyze(file).and_then(|analysis| {
            let json = serde_json::to_string(&analysis).map_err(|e| AudioError::new(ErrorKind::Io, e.to_string()))?;
            println!("{json}");
            Ok(())
        }),
        Command::Peaks { file, pixels_per_second, format, output } => peaks(file, *pixels_per_second, *format, output),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}: {}", e.kind, e.message);
            ExitCode::FAILURE
        }
    }
}
