//! Reading a prompt, explainably. No model runs here: a lexicon maps words to colours (the xkcd
//! colour survey's names, CC0, plus the colours that words such as "neon" or "sunrise" call up),
//! to motifs the scene shows (rain, stars, a city…), to the light (night, dawn…), to moods that
//! grade the picture and to motion words that set its pace. Invariant: every word of the prompt is
//! accounted for: it chose something (and the reading says what), it is a small word that carries
//! nothing ("over", "the"), or it is listed as not understood.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::color::Rgb;

/// Something the scene shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Motif {
    Rain,
    Snow,
    Petals,
    Stars,
    Embers,
    Smoke,
    Clouds,
    Ocean,
    City,
    Forest,
    Desert,
    Mountains,
    Space,
    Neon,
    Chrome,
    Aurora,
    Lightning,
    Sun,
    Moon,
}

impl Motif {
    pub fn as_str(self) -> &'static str {
        match self {
            Motif::Rain => "rain",
            Motif::Snow => "snow",
            Motif::Petals => "petals",
            Motif::Stars => "stars",
            Motif::Embers => "embers",
            Motif::Smoke => "smoke",
            Motif::Clouds => "clouds",
            Motif::Ocean => "ocean",
            Motif::City => "city lights",
            Motif::Forest => "forest",
            Motif::Desert => "desert",
            Motif::Mountains => "mountains",
            Motif::Space => "space",
            Motif::Neon => "neon",
            Motif::Chrome => "chrome",
            Motif::Aurora => "aurora",
            Motif::Lightning => "lightning",
            Motif::Sun => "sun",
            Motif::Moon => "moon",
        }
    }
}

/// The light of the scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Light {
    Night,
    Dawn,
    Day,
    Golden,
    Dusk,
}

impl Light {
    pub fn as_str(self) -> &'static str {
        match self {
            Light::Night => "night",
            Light::Dawn => "dawn",
            Light::Day => "day",
            Light::Golden => "golden hour",
            Light::Dusk => "dusk",
        }
    }
}

/// A mood: how the picture is graded and how fast it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Mood {
    Calm,
    Dreamy,
    Dark,
    Bright,
    Energetic,
    Melancholy,
    Joyful,
    Romantic,
    Epic,
    Mysterious,
    Aggressive,
}

impl Mood {
    pub fn as_str(self) -> &'static str {
        match self {
            Mood::Calm => "calm",
            Mood::Dreamy => "dreamy",
            Mood::Dark => "dark",
            Mood::Bright => "bright",
            Mood::Energetic => "energetic",
            Mood::Melancholy => "melancholy",
            Mood::Joyful => "joyful",
            Mood::Romantic => "romantic",
            Mood::Epic => "epic",
            Mood::Mysterious => "mysterious",
            Mood::Aggressive => "aggressive",
        }
    }

    /// (saturation ×, brightness ×, pace ×, pastel 0..1)
    pub fn grade(self) -> (f32, f32, f32, f32) {
        match self {
            Mood::Calm => (0.8, 1.0, 0.65, 0.0),
            Mood::Dreamy => (0.8, 1.05, 0.75, 0.3),
            Mood::Dark => (0.95, 0.55, 1.0, 0.0),
            Mood::Bright => (1.05, 1.3, 1.0, 0.0),
            Mood::Energetic => (1.2, 1.1, 1.4, 0.0),
            Mood::Melancholy => (0.5, 0.8, 0.75, 0.0),
            Mood::Joyful => (1.15, 1.2, 1.2, 0.0),
            Mood::Romantic => (0.9, 1.0, 0.8, 0.15),
            Mood::Epic => (1.1, 1.0, 1.15, 0.0),
            Mood::Mysterious => (0.85, 0.7, 0.85, 0.0),
            Mood::Aggressive => (1.25, 0.9, 1.5, 0.0),
        }
    }
}

/// What a word (or a run of words) decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    Palette,
    Motif,
    Light,
    Mood,
    Motion,
    Temperature,
}

/// One decision of the reading: "palette neon magenta + cyan ← 'neon'".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Choice {
    pub aspect: Aspect,
    /// What was chosen, in words ("neon magenta + cyan", "rain", "night").
    pub value: String,
    /// The prompt's words that chose it, as written (lower-cased).
    pub words: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NamedColor {
    pub name: String,
    pub color: Rgb,
}

/// Everything the engine took from a prompt, and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PromptReading {
    pub choices: Vec<Choice>,
    /// Words the lexicon does not know: they change nothing.
    pub not_understood: Vec<String>,
    /// The colours named or called up, in the prompt's order.
    pub colors: Vec<NamedColor>,
    pub motifs: Vec<Motif>,
    pub light: Option<Light>,
    pub moods: Vec<Mood>,
    /// How fast things move: 1 is the music's own pace.
    pub pace: f32,
    /// −1 (cold) to 1 (warm): a shift of the whole grade.
    pub temperature: f32,
}

impl PromptReading {
    /// One line per decision, then the words that were not understood.
    pub fn explain(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .choices
            .iter()
            .map(|c| {
                let aspect = match c.aspect {
                    Aspect::Palette => "palette",
                    Aspect::Motif => "motif",
                    Aspect::Light => "light:",
                    Aspect::Mood => "mood:",
                    Aspect::Motion => "motion:",
                    Aspect::Temperature => "temperature:",
                };
                let words: Vec<String> = c.words.iter().map(|w| format!("'{w}'")).collect();
                format!("{aspect} {} ← {}", c.value, words.join(", "))
            })
            .collect();
        if !self.not_understood.is_empty() {
            let words: Vec<String> = self.not_understood.iter().map(|w| format!("'{w}'")).collect();
            lines.push(format!("not understood: {}", words.join(", ")));
        }
        lines
    }
}

#[derive(Debug, Clone, Copy)]
enum Effect {
    Tint(&'static str, u32),
    Show(Motif),
    Lit(Light),
    Feel(Mood),
    Pace(f32, &'static str),
    Temp(f32),
}

use Effect::{Feel, Lit, Pace, Show, Temp, Tint};
use Light::{Dawn, Day, Dusk, Golden, Night};
use Motif as M;

const NEON: [Effect; 3] = [Tint("neon magenta", 0xff1fd1), Tint("electric cyan", 0x00e5ff), Show(M::Neon)];
const FIRE: [Effect; 3] = [Tint("flame orange", 0xff6a00), Tint("ember red", 0xd62000), Show(M::Embers)];
const OCEAN: [Effect; 3] = [Tint("deep sea blue", 0x0a4f8a), Tint("sea teal", 0x14a3a3), Show(M::Ocean)];
const FOREST: [Effect; 3] = [Tint("pine green", 0x1f6b3a), Tint("moss green", 0x7da34a), Show(M::Forest)];
const DESERT: [Effect; 3] = [Tint("sand", 0xe2b86b), Tint("terracotta", 0xc8643b), Show(M::Desert)];
const SPACE: [Effect; 4] =
    [Tint("nebula violet", 0x6a2bd9), Tint("cosmic blue", 0x1b3fa8), Show(M::Space), Show(M::Stars)];
const SUNRISE: [Effect; 4] = [Tint("sunrise gold", 0xffb238), Tint("dawn pink", 0xff7a8a), Lit(Dawn), Show(M::Sun)];
const SUNSET: [Effect; 4] =
    [Tint("sunset orange", 0xff7b29), Tint("dusk magenta", 0xd83a7c), Lit(Golden), Show(M::Sun)];
const ICE: [Effect; 3] = [Tint("ice blue", 0xbfeeff), Tint("frost white", 0xf2fbff), Temp(-1.0)];
const STORM: [Effect; 4] = [Show(M::Rain), Show(M::Lightning), Show(M::Clouds), Feel(Mood::Dark)];
const CHROME: [Effect; 3] = [Tint("chrome silver", 0xc9d1d9), Tint("steel blue", 0x5a7190), Show(M::Chrome)];
const AURORA: [Effect; 4] =
    [Tint("aurora green", 0x38f59b), Tint("aurora violet", 0x8a4dff), Show(M::Aurora), Lit(Night)];
const CYBER: [Effect; 4] =
    [Tint("neon magenta", 0xff1fd1), Tint("electric cyan", 0x00e5ff), Show(M::City), Show(M::Neon)];
const SLOW: Effect = Pace(0.55, "slow");
const FAST: Effect = Pace(1.6, "fast");

/// The hand-written part of the lexicon. Checked before the colour names, except where a run of
/// two or more words is a colour name ("blood orange", "midnight blue").
const LEXICON: &[(&str, &[Effect])] = &[
    ("neon", &NEON),
    ("fluorescent", &NEON),
    ("synthwave", &[Tint("synth pink", 0xff3ea5), Tint("synth violet", 0x7b2cff), Show(M::Sun), Show(M::Mountains)]),
    ("vaporwave", &[Tint("vapor pink", 0xff71ce), Tint("vapor cyan", 0x01cdfe), Tint("vapor violet", 0xb967ff)]),
    ("cyberpunk", &CYBER),
    ("tokyo", &CYBER),
    ("rain", &[Show(M::Rain)]),
    ("rainy", &[Show(M::Rain)]),
    ("raining", &[Show(M::Rain)]),
    ("drizzle", &[Show(M::Rain), Feel(Mood::Calm)]),
    ("downpour", &[Show(M::Rain), FAST]),
    ("raindrops", &[Show(M::Rain)]),
    ("storm", &STORM),
    ("stormy", &STORM),
    ("thunder", &STORM),
    ("thunderstorm", &STORM),
    ("lightning", &[Show(M::Lightning), Show(M::Clouds)]),
    ("snow", &[Show(M::Snow), Tint("snow white", 0xf4f8ff), Temp(-0.6)]),
    ("snowy", &[Show(M::Snow), Tint("snow white", 0xf4f8ff), Temp(-0.6)]),
    ("snowfall", &[Show(M::Snow), Tint("snow white", 0xf4f8ff), Temp(-0.6)]),
    ("snowflakes", &[Show(M::Snow), Tint("snow white", 0xf4f8ff), Temp(-0.6)]),
    ("blizzard", &[Show(M::Snow), Tint("snow white", 0xf4f8ff), Temp(-0.8), FAST]),
    ("winter", &[Show(M::Snow), Tint("winter blue", 0x8fb8de), Temp(-0.8)]),
    ("ice", &ICE),
    ("icy", &ICE),
    ("frozen", &ICE),
    ("frost", &ICE),
    ("glacier", &ICE),
    ("cold", &[Temp(-1.0)]),
    ("cool", &[Temp(-0.7)]),
    ("warm", &[Temp(1.0)]),
    ("hot", &[Temp(1.0), Feel(Mood::Energetic)]),
    ("star", &[Show(M::Stars)]),
    ("stars", &[Show(M::Stars)]),
    ("starry", &[Show(M::Stars), Lit(Night)]),
    ("starlight", &[Show(M::Stars), Lit(Night)]),
    ("constellations", &[Show(M::Stars), Lit(Night)]),
    ("galaxy", &SPACE),
    ("nebula", &SPACE),
    ("cosmos", &SPACE),
    ("cosmic", &SPACE),
    ("universe", &SPACE),
    ("space", &SPACE),
    ("interstellar", &SPACE),
    ("void", &[Show(M::Space), Feel(Mood::Dark)]),
    ("planet", &[Show(M::Space), Show(M::Moon)]),
    ("moon", &[Show(M::Moon), Lit(Night)]),
    ("moonlight", &[Show(M::Moon), Lit(Night), Tint("moonlight blue", 0x9fb6d9)]),
    ("moonlit", &[Show(M::Moon), Lit(Night), Tint("moonlight blue", 0x9fb6d9)]),
    ("sun", &[Show(M::Sun), Lit(Day)]),
    ("sunny", &[Show(M::Sun), Lit(Day), Tint("sunshine yellow", 0xffd83a), Feel(Mood::Bright)]),
    ("sunshine", &[Show(M::Sun), Lit(Day), Tint("sunshine yellow", 0xffd83a), Feel(Mood::Bright)]),
    ("sunlight", &[Show(M::Sun), Lit(Day), Feel(Mood::Bright)]),
    ("sunrise", &SUNRISE),
    ("dawn", &SUNRISE),
    ("daybreak", &SUNRISE),
    ("morning", &[Lit(Dawn)]),
    ("sunset", &SUNSET),
    ("golden", &[Tint("golden", 0xf5bf03), Lit(Golden)]),
    ("dusk", &[Lit(Dusk)]),
    ("twilight", &[Lit(Dusk)]),
    ("evening", &[Lit(Dusk)]),
    ("day", &[Lit(Day)]),
    ("daylight", &[Lit(Day), Feel(Mood::Bright)]),
    ("daytime", &[Lit(Day)]),
    ("noon", &[Lit(Day), Feel(Mood::Bright)]),
    ("midday", &[Lit(Day), Feel(Mood::Bright)]),
    ("afternoon", &[Lit(Day)]),
    ("summer", &[Lit(Day), Temp(0.8), Feel(Mood::Joyful)]),
    ("spring", &[Show(M::Petals), Tint("spring green", 0x9be36b), Feel(Mood::Joyful)]),
    ("autumn", &[Tint("autumn orange", 0xd9661f), Tint("maple red", 0xa8231c), Temp(0.8)]),
    ("fall", &[Tint("autumn orange", 0xd9661f), Tint("maple red", 0xa8231c), Temp(0.8)]),
    ("night", &[Lit(Night)]),
    ("nighttime", &[Lit(Night)]),
    ("midnight", &[Lit(Night), Tint("midnight blue", 0x0b1033)]),
    ("nocturnal", &[Lit(Night)]),
    ("fire", &FIRE),
    ("fiery", &FIRE),
    ("flame", &FIRE),
    ("flames", &FIRE),
    ("blaze", &FIRE),
    ("burning", &FIRE),
    ("inferno", &FIRE),
    ("embers", &FIRE),
    ("ember", &FIRE),
    ("sparks", &FIRE),
    ("bonfire", &FIRE),
    ("campfire", &FIRE),
    ("candle", &[Tint("candle amber", 0xffa42b), Show(M::Embers), Temp(1.0), Feel(Mood::Calm)]),
    ("candlelight", &[Tint("candle amber", 0xffa42b), Show(M::Embers), Temp(1.0), Feel(Mood::Calm)]),
    ("lava", &[Tint("lava red", 0xff3300), Tint("magma orange", 0xff8c1a), Show(M::Embers)]),
    ("magma", &[Tint("lava red", 0xff3300), Tint("magma orange", 0xff8c1a), Show(M::Embers)]),
    ("volcano", &[Tint("lava red", 0xff3300), Tint("magma orange", 0xff8c1a), Show(M::Embers), Show(M::Mountains)]),
    ("smoke", &[Show(M::Smoke)]),
    ("smoky", &[Show(M::Smoke)]),
    ("fog", &[Show(M::Smoke), Feel(Mood::Mysterious)]),
    ("foggy", &[Show(M::Smoke), Feel(Mood::Mysterious)]),
    ("mist", &[Show(M::Smoke), Feel(Mood::Dreamy)]),
    ("misty", &[Show(M::Smoke), Feel(Mood::Dreamy)]),
    ("haze", &[Show(M::Smoke), Feel(Mood::Dreamy)]),
    ("hazy", &[Show(M::Smoke), Feel(Mood::Dreamy)]),
    ("steam", &[Show(M::Smoke)]),
    ("clouds", &[Show(M::Clouds)]),
    ("cloud", &[Show(M::Clouds)]),
    ("cloudy", &[Show(M::Clouds)]),
    ("overcast", &[Show(M::Clouds), Feel(Mood::Melancholy)]),
    ("sky", &[Show(M::Clouds)]),
    ("ocean", &OCEAN),
    ("sea", &OCEAN),
    ("waves", &OCEAN),
    ("wave", &OCEAN),
    ("beach", &[Show(M::Ocean), Tint("sea teal", 0x14a3a3), Tint("sand", 0xe2b86b), Lit(Day)]),
    ("shore", &OCEAN),
    ("surf", &OCEAN),
    ("tide", &OCEAN),
    ("coast", &OCEAN),
    ("lake", &OCEAN),
    ("water", &OCEAN),
    ("lagoon", &[Tint("lagoon turquoise", 0x1fc8c0), Tint("shallow teal", 0x11908a), Show(M::Ocean)]),
    ("underwater", &[Tint("underwater teal", 0x0d7f8c), Tint("abyss blue", 0x08305e), Show(M::Ocean), Temp(-0.5)]),
    ("city", &[Show(M::City)]),
    ("urban", &[Show(M::City)]),
    ("street", &[Show(M::City)]),
    ("streets", &[Show(M::City)]),
    ("skyline", &[Show(M::City)]),
    ("downtown", &[Show(M::City)]),
    ("metropolis", &[Show(M::City)]),
    ("forest", &FOREST),
    ("woods", &FOREST),
    ("trees", &FOREST),
    ("tree", &FOREST),
    ("jungle", &FOREST),
    ("woodland", &FOREST),
    ("pine", &FOREST),
    ("meadow", &[Tint("meadow green", 0x7cc24a), Show(M::Petals)]),
    ("grass", &[Tint("grass green", 0x5fa83a)]),
    ("desert", &DESERT),
    ("dunes", &DESERT),
    ("dune", &DESERT),
    ("sahara", &DESERT),
    ("canyon", &[Tint("canyon red", 0xb5502d), Tint("sand", 0xe2b86b), Show(M::Desert), Show(M::Mountains)]),
    ("mountain", &[Show(M::Mountains)]),
    ("mountains", &[Show(M::Mountains)]),
    ("peaks", &[Show(M::Mountains)]),
    ("hills", &[Show(M::Mountains)]),
    ("valley", &[Show(M::Mountains)]),
    ("chrome", &CHROME),
    ("metal", &CHROME),
    ("metallic", &CHROME),
    ("steel", &CHROME),
    ("silver", &CHROME),
    ("mirror", &CHROME),
    ("aurora", &AURORA),
    ("borealis", &AURORA),
    ("flowers", &[Show(M::Petals), Tint("petal pink", 0xff9ec7)]),
    ("blossom", &[Show(M::Petals), Tint("blossom pink", 0xffb7d5)]),
    ("blossoms", &[Show(M::Petals), Tint("blossom pink", 0xffb7d5)]),
    ("petals", &[Show(M::Petals), Tint("petal pink", 0xff9ec7)]),
    ("calm", &[Feel(Mood::Calm)]),
    ("peaceful", &[Feel(Mood::Calm)]),
    ("serene", &[Feel(Mood::Calm)]),
    ("tranquil", &[Feel(Mood::Calm)]),
    ("quiet", &[Feel(Mood::Calm)]),
    ("still", &[Feel(Mood::Calm)]),
    ("gentle", &[Feel(Mood::Calm), SLOW]),
    ("soft", &[Feel(Mood::Calm)]),
    ("chill", &[Feel(Mood::Calm)]),
    ("lofi", &[Feel(Mood::Calm)]),
    ("dreamy", &[Feel(Mood::Dreamy)]),
    ("dream", &[Feel(Mood::Dreamy)]),
    ("ethereal", &[Feel(Mood::Dreamy)]),
    ("surreal", &[Feel(Mood::Dreamy)]),
    ("magical", &[Feel(Mood::Dreamy)]),
    ("dark", &[Feel(Mood::Dark)]),
    ("moody", &[Feel(Mood::Dark)]),
    ("gloomy", &[Feel(Mood::Dark)]),
    ("shadows", &[Feel(Mood::Dark)]),
    ("noir", &[Feel(Mood::Dark), Tint("noir grey", 0x8a8f98)]),
    ("grim", &[Feel(Mood::Dark)]),
    ("bright", &[Feel(Mood::Bright)]),
    ("vivid", &[Feel(Mood::Bright)]),
    ("brilliant", &[Feel(Mood::Bright)]),
    ("radiant", &[Feel(Mood::Bright)]),
    ("luminous", &[Feel(Mood::Bright)]),
    ("shining", &[Feel(Mood::Bright)]),
    ("glowing", &[Feel(Mood::Bright)]),
    ("glow", &[Feel(Mood::Bright)]),
    ("lights", &[Feel(Mood::Bright)]),
    ("energetic", &[Feel(Mood::Energetic)]),
    ("intense", &[Feel(Mood::Energetic)]),
    ("wild", &[Feel(Mood::Energetic)]),
    ("party", &[Feel(Mood::Energetic)]),
    ("euphoric", &[Feel(Mood::Energetic)]),
    ("rave", &[Feel(Mood::Energetic)]),
    ("dance", &[Feel(Mood::Energetic)]),
    ("explosive", &[Feel(Mood::Energetic), FAST]),
    ("sad", &[Feel(Mood::Melancholy)]),
    ("melancholy", &[Feel(Mood::Melancholy)]),
    ("melancholic", &[Feel(Mood::Melancholy)]),
    ("lonely", &[Feel(Mood::Melancholy)]),
    ("nostalgic", &[Feel(Mood::Melancholy)]),
    ("somber", &[Feel(Mood::Melancholy)]),
    ("happy", &[Feel(Mood::Joyful)]),
    ("joyful", &[Feel(Mood::Joyful)]),
    ("cheerful", &[Feel(Mood::Joyful)]),
    ("playful", &[Feel(Mood::Joyful)]),
    ("fun", &[Feel(Mood::Joyful)]),
    ("romantic", &[Feel(Mood::Romantic), Tint("rose", 0xe8607f)]),
    ("love", &[Feel(Mood::Romantic), Tint("rose", 0xe8607f)]),
    ("epic", &[Feel(Mood::Epic)]),
    ("heroic", &[Feel(Mood::Epic)]),
    ("majestic", &[Feel(Mood::Epic)]),
    ("mysterious", &[Feel(Mood::Mysterious)]),
    ("mystic", &[Feel(Mood::Mysterious)]),
    ("eerie", &[Feel(Mood::Mysterious)]),
    ("haunted", &[Feel(Mood::Mysterious), Show(M::Smoke)]),
    ("ominous", &[Feel(Mood::Mysterious)]),
    ("aggressive", &[Feel(Mood::Aggressive)]),
    ("angry", &[Feel(Mood::Aggressive)]),
    ("rage", &[Feel(Mood::Aggressive)]),
    ("chaos", &[Feel(Mood::Aggressive)]),
    ("chaotic", &[Feel(Mood::Aggressive)]),
    ("heavy", &[Feel(Mood::Aggressive)]),
    ("slow", &[SLOW]),
    ("slowly", &[SLOW]),
    ("drifting", &[SLOW]),
    ("floating", &[SLOW, Feel(Mood::Dreamy)]),
    ("lazy", &[SLOW]),
    ("fast", &[FAST]),
    ("racing", &[FAST]),
    ("rushing", &[FAST]),
    ("speed", &[FAST]),
    ("frantic", &[FAST, Feel(Mood::Aggressive)]),
    ("hyper", &[FAST]),
    ("pulsing", &[Pace(1.2, "pulsing")]),
    ("bouncing", &[Pace(1.25, "bouncing")]),
];

/// Words that carry nothing for the picture.
const SMALL_WORDS: &[&str] = &[
    "a", "an", "the", "of", "in", "on", "at", "over", "under", "above", "below", "with", "and", "or", "to", "into",
    "onto", "through", "across", "by", "for", "from", "my", "our", "your", "their", "his", "her", "its", "as", "like",
    "is", "are", "was", "be", "this", "that", "these", "those", "some", "very", "so", "than", "then", "while", "where",
    "when", "who", "which", "it", "we", "you", "they", "i", "me", "us", "all", "every", "just", "only", "also", "but",
    "not", "no", "out", "up", "down", "off", "around", "between", "behind", "beyond", "near", "far", "among", "along",
    "within", "without", "upon", "toward", "towards", "full", "made", "lots", "lot", "much", "many", "few", "more",
    "most", "beneath", "inside", "outside", "against", "amid", "amidst", "feat", "ft",
];

/// The xkcd colour survey's names, by name.
fn color_names() -> &'static HashMap<&'static str, Rgb> {
    static NAMES: OnceLock<HashMap<&'static str, Rgb>> = OnceLock::new();
    NAMES.get_or_init(|| {
        include_str!("../data/xkcd-colors.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let (name, hex) = l.split_once('\t')?;
                Some((name.trim(), Rgb::parse(hex.trim())?))
            })
            .collect()
    })
}

fn lexicon(word: &str) -> Option<&'static [Effect]> {
    LEXICON.iter().find(|(w, _)| *w == word).map(|(_, e)| *e)
}

/// The prompt's words: lower-case runs of letters, digits and apostrophes.
fn words(prompt: &str) -> Vec<String> {
    prompt
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Reads `prompt`. Pure and fast (a few microseconds): the desktop calls it as the creator types.
pub fn read(prompt: &str) -> PromptReading {
    let words = words(prompt);
    let names = color_names();
    let mut reading = PromptReading { pace: 1.0, ..PromptReading::default() };
    let mut pace_words: Vec<(f32, &str, String)> = Vec::new();
    let mut temperature: Vec<(f32, String)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        // A colour name of two to four words ("blood orange", "deep sky blue") comes first.
        let run = (2..=4).rev().filter(|n| i + n <= words.len()).find_map(|n| {
            let name = words[i..i + n].join(" ");
            names.get(name.as_str()).map(|c| (n, name, *c))
        });
        if let Some((n, name, color)) = run {
            add_color(&mut reading, &name, color, &name);
            i += n;
            continue;
        }
        let word = &words[i];
        i += 1;
        let singular = word.strip_suffix('s').filter(|s| s.len() > 2);
        let effects = lexicon(word).or_else(|| singular.and_then(lexicon));
        if let Some(effects) = effects {
            for effect in effects {
                match *effect {
                    Tint(name, hex) => add_color(&mut reading, name, Rgb::hex(hex), word),
                    Show(motif) => {
                        if !reading.motifs.contains(&motif) {
                            reading.motifs.push(motif);
                        }
                        note(&mut reading, Aspect::Motif, motif.as_str(), word);
                    }
                    Lit(light) => {
                        // The first light named wins; later ones are recorded beside it.
                        let light = *reading.light.get_or_insert(light);
                        note(&mut reading, Aspect::Light, light.as_str(), word);
                    }
                    Feel(mood) => {
                        if !reading.moods.contains(&mood) {
                            reading.moods.push(mood);
                        }
                        note(&mut reading, Aspect::Mood, mood.as_str(), word);
                    }
                    Pace(k, name) => pace_words.push((k, name, word.clone())),
                    Temp(k) => temperature.push((k, word.clone())),
                }
            }
            continue;
        }
        let color = names.get(word.as_str()).or_else(|| singular.and_then(|s| names.get(s)));
        if let Some(color) = color {
            add_color(&mut reading, word, *color, word);
        } else if !SMALL_WORDS.contains(&word.as_str())
            && !word.chars().all(|c| c.is_ascii_digit())
            && !reading.not_understood.contains(word)
        {
            reading.not_understood.push(word.clone());
        }
    }
    let mood_pace: f32 = reading.moods.iter().map(|m| m.grade().2).product();
    let word_pace: f32 = pace_words.iter().map(|(k, _, _)| *k).product();
    reading.pace = (mood_pace * word_pace).clamp(0.35, 2.2);
    for (_, name, word) in &pace_words {
        note(&mut reading, Aspect::Motion, name, word);
    }
    if !temperature.is_empty() {
        reading.temperature =
            (temperature.iter().map(|(k, _)| k).sum::<f32>() / temperature.len() as f32).clamp(-1.0, 1.0);
        let value = if reading.temperature >= 0.0 { "warmer" } else { "colder" };
        for (_, word) in &temperature {
            note(&mut reading, Aspect::Temperature, value, word);
        }
    }
    reading
}

fn add_color(reading: &mut PromptReading, name: &str, color: Rgb, word: &str) {
    if !reading.colors.iter().any(|c| c.color == color) {
        reading.colors.push(NamedColor { name: name.to_owned(), color });
    }
    // Colours chosen by one word are one decision: "palette neon magenta + electric cyan ← 'neon'".
    if let Some(last) = reading.choices.last_mut().filter(|c| c.aspect == Aspect::Palette && c.words == [word]) {
        if !last.value.split(" + ").any(|v| v == name) {
            last.value = format!("{} + {name}", last.value);
        }
        return;
    }
    note(reading, Aspect::Palette, name, word);
}

fn note(reading: &mut PromptReading, aspect: Aspect, value: &str, word: &str) {
    if let Some(c) = reading.choices.iter_mut().find(|c| c.aspect == aspect && c.value == value) {
        if !c.words.iter().any(|w| w == word) {
            c.words.push(word.to_owned());
        }
        return;
    }
    reading.choices.push(Choice { aspect, value: value.to_owned(), words: vec![word.to_owned()] });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_is_read_word_by_word_and_explained() {
        let r = read("Neon rain over a night city, with glitter");
        assert_eq!(r.motifs, [Motif::Neon, Motif::Rain, Motif::City]);
        assert_eq!(r.light, Some(Light::Night));
        assert_eq!(r.not_understood, ["glitter"]);
        let lines = r.explain();
        assert!(lines.contains(&"palette neon magenta + electric cyan ← 'neon'".to_owned()), "{lines:?}");
        assert!(lines.contains(&"motif rain ← 'rain'".to_owned()), "{lines:?}");
        assert!(lines.contains(&"light: night ← 'night'".to_owned()), "{lines:?}");
        assert!(lines.contains(&"not understood: 'glitter'".to_owned()), "{lines:?}");
    }

    #[test]
    fn colour_names_of_several_words_and_plurals_are_understood() {
        let r = read("blood orange waves under a deep sky blue");
        let names: Vec<&str> = r.colors.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names[0], "blood orange");
        assert!(names.contains(&"deep sky blue"), "{names:?}");
        assert!(r.motifs.contains(&Motif::Ocean));
        assert!(r.not_understood.is_empty(), "{:?}", r.not_understood);
        assert_eq!(read("embers").motifs, [Motif::Embers]);
        assert_eq!(read("mountain peaks").motifs, [Motif::Mountains]);
    }

    #[test]
    fn moods_and_motion_set_the_pace_and_temperature() {
        assert!(read("calm slow drifting clouds").pace < 0.5);
        assert!(read("frantic fast rave").pace > 1.8);
        assert_eq!(read("nothing here").pace, 1.0);
        assert!(read("icy winter").temperature < -0.5);
        assert!(read("warm summer").temperature > 0.5);
        assert!(read("").choices.is_empty());
    }
}
