//! Just enough of a Standard MIDI File to know where its beats and bars fall: the tempo map,
//! the time signatures and the span of its notes. Merges every track's meta events by tick.

/// What the bench needs of one file.
#[derive(Debug, Default)]
pub struct Score {
    /// Ticks per quarter note.
    pub ppq: u32,
    /// (tick, microseconds per quarter note), in order; the first at tick 0.
    pub tempos: Vec<(u64, u32)>,
    /// (tick, numerator, denominator), in order.
    pub meters: Vec<(u64, u32, u32)>,
    pub first_note: Option<u64>,
    pub last_note: Option<u64>,
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, b| acc << 8 | u64::from(*b))
}

/// A variable-length quantity at `*at`.
fn vlq(data: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for _ in 0..4 {
        let b = *data.get(*at).ok_or("a variable-length number runs past the track")?;
        *at += 1;
        value = value << 7 | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("a variable-length number longer than four bytes".into())
}

pub fn read(data: &[u8]) -> Result<Score, String> {
    if data.get(..4) != Some(b"MThd") || data.len() < 14 {
        return Err("not a Standard MIDI File".into());
    }
    let division = be(&data[12..14]) as u32;
    if division & 0x8000 != 0 {
        return Err("SMPTE time division is not supported".into());
    }
    let mut score = Score { ppq: division, ..Score::default() };
    let mut at = 8 + be(&data[4..8]) as usize;
    while at + 8 <= data.len() {
        let len = be(&data[at + 4..at + 8]) as usize;
        let body = data.get(at + 8..at + 8 + len).ok_or("a chunk runs past the file")?;
        if &data[at..at + 4] == b"MTrk" {
            track(body, &mut score)?;
        }
        at += 8 + len;
    }
    score.tempos.sort_by_key(|t| t.0);
    score.meters.sort_by_key(|m| m.0);
    if score.tempos.first().is_none_or(|t| t.0 > 0) {
        score.tempos.insert(0, (0, 500_000));
    }
    if score.meters.first().is_none_or(|m| m.0 > 0) {
        score.meters.insert(0, (0, 4, 4));
    }
    Ok(score)
}

fn track(data: &[u8], score: &mut Score) -> Result<(), String> {
    let (mut at, mut tick, mut status) = (0usize, 0u64, 0u8);
    while at < data.len() {
        tick += vlq(data, &mut at)?;
        let mut byte = *data.get(at).ok_or("an event runs past the track")?;
        if byte & 0x80 != 0 {
            at += 1;
        } else {
            // Running status: this byte is the first data byte.
            byte = status;
        }
        match byte {
            0xff => {
                let kind = *data.get(at).ok_or("a meta event runs past the track")?;
                at += 1;
                let len = vlq(data, &mut at)? as usize;
                let body = data.get(at..at + len).ok_or("a meta event runs past the track")?;
                at += len;
                match (kind, body) {
                    (0x51, [a, b, c]) => score.tempos.push((tick, be(&[*a, *b, *c]) as u32)),
                    (0x58, [n, d, ..]) => score.meters.push((tick, u32::from(*n), 1 << d)),
                    (0x2f, _) => return Ok(()),
                    _ => {}
                }
            }
            0xf0 | 0xf7 => {
                let len = vlq(data, &mut at)? as usize;
                at += len;
            }
            0x80..=0xef => {
                status = byte;
                let data_bytes = if matches!(byte & 0xf0, 0xc0 | 0xd0) { 1 } else { 2 };
                let args = data.get(at..at + data_bytes).ok_or("a note runs past the track")?;
                if byte & 0xf0 == 0x90 && args.get(1).is_some_and(|v| *v > 0) {
                    score.first_note = Some(score.first_note.map_or(tick, |f| f.min(tick)));
                    score.last_note = Some(score.last_note.map_or(tick, |l| l.max(tick)));
                }
                at += data_bytes;
            }
            _ => return Err(format!("an unknown status byte {byte:#04x}")),
        }
    }
    Ok(())
}

impl Score {
    /// Seconds at `tick`, through the tempo map.
    pub fn seconds(&self, tick: u64) -> f64 {
        let mut seconds = 0.0;
        for (i, (start, tempo)) in self.tempos.iter().enumerate() {
            let end = self.tempos.get(i + 1).map_or(u64::MAX, |t| t.0).min(tick);
            if end <= *start {
                break;
            }
            seconds += (end - start) as f64 * f64::from(*tempo) / 1e6 / f64::from(self.ppq);
        }
        seconds
    }

    /// The beats (seconds) and which of them start a bar, from tick 0 to the last note: the
    /// beat is the time signature's unit, or three of them in compound metres (6/8, 9/8, 12/8).
    pub fn beats(&self) -> Vec<(f64, bool)> {
        let end = self.last_note.unwrap_or(0);
        let mut out = Vec::new();
        let mut tick = 0u64;
        while tick <= end {
            let &(since, num, den) = self.meters.iter().rev().find(|m| m.0 <= tick).unwrap_or(&(0, 4, 4));
            let unit = u64::from(self.ppq) * 4 / u64::from(den.max(1));
            let (beat, per_bar) = if den == 8 && num % 3 == 0 && num > 3 { (unit * 3, num / 3) } else { (unit, num) };
            let bar = beat * u64::from(per_bar.max(1));
            out.push((self.seconds(tick), (tick - since).is_multiple_of(bar)));
            tick += beat.max(1);
        }
        out
    }
}
