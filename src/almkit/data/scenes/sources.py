"""The real recorded sources a Debian machine can install, named in plain words, with their split.

Every source unit (a GM instrument, a Hydrogen kit, a TTS voice, an FSDD speaker, an event-sound file) is
assigned to one split here, once, so scenes and suites agree and test scenes use recordings (and for
instruments, kits, voices and speakers: whole sources) never heard in training.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SOUNDFONT_LICENSE = "MIT (FluidR3 GM soundfont, Frank Wen)"
DRUMKITS = Path("/usr/share/hydrogen/data/drumkits")
SOUNDS = Path("/usr/share/sounds")

# --- FluidR3 GM instruments: program -> (plain name, lowest MIDI pitch, highest MIDI pitch) -------------------
GM_FAMILIES = [
    "piano",
    "chromatic percussion",
    "organ",
    "guitar",
    "bass",
    "strings",
    "ensemble",
    "brass",
    "reed",
    "pipe",
    "synth lead",
    "synth pad",
    "synth effects",
    "ethnic",
    "percussive",
    "sound effects",
]
INSTRUMENTS: dict[int, tuple[str, int, int]] = {
    0: ("piano", 36, 96),
    4: ("electric piano", 36, 96),
    6: ("harpsichord", 41, 89),
    8: ("celesta", 60, 108),
    9: ("glockenspiel", 79, 108),
    11: ("vibraphone", 53, 89),
    12: ("marimba", 45, 96),
    13: ("xylophone", 65, 108),
    14: ("tubular bells", 60, 77),
    16: ("organ", 36, 96),
    19: ("pipe organ", 36, 96),
    21: ("accordion", 53, 89),
    22: ("harmonica", 60, 84),
    24: ("nylon-string guitar", 40, 84),
    25: ("steel-string guitar", 40, 84),
    26: ("electric guitar", 40, 86),
    30: ("distorted electric guitar", 40, 86),
    32: ("double bass", 28, 55),
    33: ("bass guitar", 28, 60),
    38: ("synth bass", 28, 60),
    40: ("violin", 55, 96),
    41: ("viola", 48, 84),
    42: ("cello", 36, 72),
    45: ("pizzicato strings", 36, 84),
    46: ("harp", 36, 96),
    47: ("timpani", 36, 57),
    48: ("string ensemble", 36, 96),
    52: ("choir", 48, 79),
    56: ("trumpet", 55, 82),
    57: ("trombone", 40, 72),
    58: ("tuba", 28, 58),
    60: ("french horn", 41, 77),
    65: ("alto saxophone", 49, 81),
    66: ("tenor saxophone", 44, 75),
    68: ("oboe", 58, 91),
    70: ("bassoon", 34, 72),
    71: ("clarinet", 50, 91),
    72: ("piccolo", 74, 102),
    73: ("flute", 60, 96),
    74: ("recorder", 60, 96),
    75: ("pan flute", 60, 96),
    80: ("square wave synth lead", 48, 84),
    88: ("synth pad", 36, 84),
    104: ("sitar", 48, 77),
    105: ("banjo", 48, 84),
    108: ("kalimba", 60, 84),
    109: ("bagpipe", 60, 77),
    114: ("steel drums", 52, 76),
}
INSTRUMENT_SPLIT = {
    "viola": "test",
    "clarinet": "test",
    "marimba": "test",
    "banjo": "test",
    "tuba": "test",
    "synth pad": "test",
    "trombone": "validation",
    "recorder": "validation",
    "harpsichord": "validation",
    "bass guitar": "validation",
}
PITCH_STEPS = 6
VELOCITIES = {"soft": 45, "medium": 80, "loud": 115}


def gm_family(program: int) -> str:
    return GM_FAMILIES[program // 8]


# --- Hydrogen drum kits -------------------------------------------------------------------------------------
DRUM_TYPES: list[tuple[str, str]] = [  # (regex on the lower-cased instrument name, plain drum type); first wins
    (r"djembe", "djembe"),
    (r"cajon", "cajon"),
    (r"bongo", "bongo"),
    (r"conga", "conga"),
    (r"tambourine", "tambourine"),
    (r"maraca", "maracas"),
    (r"cowbell", "cowbell"),
    (r"agogo", "agogo bell"),
    (r"clave", "claves"),
    (r"woodblock", "woodblock"),
    (r"snap", "finger snap"),
    (r"clap", "hand clap"),
    (r"hi.?hat|\bhh\b|\bhat\b|ohh", "hi-hat"),
    (r"kick|bass ?drum|bassdrum", "kick drum"),
    (r"side ?stick|rim ?click|^stick$|- stick", "side stick"),
    (r"snare", "snare drum"),
    (r"tom", "tom drum"),
    (r"crash", "crash cymbal"),
    (r"ride", "ride cymbal"),
    (r"splash|china|cymbal", "cymbal"),
]
KIT_SPLIT = {
    "The Black Pearl 1.0": "test",
    "VariBreaks": "test",
    "HardElectro1": "validation",
    "Millo_MultiLayered3": "validation",
}


def drum_type(instrument_name: str) -> str | None:
    """Normalise a drumkit.xml instrument name to a plain drum type (``None`` for effects, numbers, chords)."""
    name = re.sub(r"\(.*?\)", "", instrument_name.lower()).strip()
    for pattern, kind in DRUM_TYPES:
        if re.search(pattern, name):
            return kind
    return None


@dataclass(frozen=True)
class DrumSample:
    kit: str
    instrument: str
    drum: str
    path: Path
    license: str


def kit_split(kit: str) -> str:
    return KIT_SPLIT.get(kit, "train")


def drum_samples(root: Path = DRUMKITS) -> list[DrumSample]:
    """Every one-shot named in every kit's ``drumkit.xml`` whose instrument maps to a drum type."""
    out: list[DrumSample] = []
    for xml in sorted(root.glob("*/drumkit.xml")):
        tree = ET.parse(xml).getroot()
        ns = tree.tag.split("}")[0] + "}" if tree.tag.startswith("{") else ""
        kit = (tree.findtext(f"{ns}name") or xml.parent.name).strip()
        license_ = (tree.findtext(f"{ns}license") or "").strip() or "see the hydrogen-drumkits Debian package"
        seen: set[Path] = set()
        for inst in tree.iter(f"{ns}instrument"):
            kind = drum_type(inst.findtext(f"{ns}name") or "")
            if kind is None:
                continue
            for fn in inst.iter(f"{ns}filename"):
                path = xml.parent / (fn.text or "").strip()
                if fn.text and path.is_file() and path not in seen:
                    seen.add(path)
                    out.append(DrumSample(kit, (inst.findtext(f"{ns}name") or "").strip(), kind, path, license_))
    return out


# --- speech: flite and espeak-ng voices, short phrases with known text -------------------------------------
VOICES: dict[str, tuple[str, str]] = {  # voice id -> (engine voice, gender)
    "flite:kal": ("kal", "man"),
    "flite:kal16": ("kal16", "man"),
    "flite:awb": ("awb", "man"),
    "flite:rms": ("rms", "man"),
    "flite:slt": ("slt", "woman"),
    "espeak:en-us": ("en-us", "man"),
    "espeak:en-us+f3": ("en-us+f3", "woman"),
    "espeak:en-gb": ("en-gb", "man"),
    "espeak:en-gb+f2": ("en-gb+f2", "woman"),
    "espeak:en-gb-scotland": ("en-gb-scotland", "man"),
    "espeak:en-029": ("en-029", "man"),
    "espeak:en-gb-x-rp+f4": ("en-gb-x-rp+f4", "woman"),
    "espeak:en-us+m3": ("en-us+m3", "man"),
    "espeak:en-us+f5": ("en-us+f5", "woman"),
}
VOICE_SPLIT = {
    "flite:rms": "test",
    "espeak:en-gb+f2": "test",
    "espeak:en-029": "test",
    "flite:kal16": "validation",
    "espeak:en-us+m3": "validation",
}
VOICE_LICENSE = {"flite": "flite voices: BSD-style (CMU / Edinburgh)", "espeak": "espeak-ng: GPL-3.0+"}
PHRASES = [
    "open the door",
    "turn left",
    "turn right",
    "good morning",
    "the train is late",
    "call me later",
    "it is raining",
    "stop here",
    "thank you",
    "where are you",
    "close the window",
    "the bus is coming",
    "see you tomorrow",
    "please sit down",
    "time to go",
    "what is that",
    "hello there",
    "the light is red",
    "wake up",
    "listen carefully",
    "the music is loud",
    "bring the keys",
    "dinner is ready",
    "look outside",
    "the phone is ringing",
    "watch out",
    "not today",
    "pick it up",
    "keep going",
    "happy birthday",
]

# --- FSDD speakers ------------------------------------------------------------------------------------------
FSDD_SPEAKER_SPLIT = {"yweweler": "test", "lucas": "validation"}
FSDD_LICENSE = "CC BY-SA 4.0 (Free Spoken Digit Dataset)"

# --- named Debian event sounds: label -> (noun phrase, clause, files) ---------------------------------------
_FD = "freedesktop/stereo/"
EVENTS: dict[str, tuple[str, str, list[str]]] = {
    "alarm clock": ("an alarm clock ringing", "an alarm clock rings", [_FD + "alarm-clock-elapsed.oga"]),
    "bell": ("a bell", "a bell rings", [_FD + "bell.oga"]),
    "camera shutter": (
        "a camera shutter",
        "a camera shutter clicks",
        [_FD + "camera-shutter.oga", _FD + "screen-capture.oga"],
    ),
    "phone ringing": (
        "a phone ringing",
        "a phone rings",
        [_FD + "phone-incoming-call.oga", "phone.wav", "Oxygen-Im-Phone-Ring.ogg", _FD + "phone-outgoing-calling.oga"],
    ),
    "busy signal": ("a telephone busy signal", "a busy signal beeps", [_FD + "phone-outgoing-busy.oga"]),
    "shuffling cards": ("cards being shuffled", "someone shuffles cards", ["card_shuffle.wav"]),
    "chime": (
        "a chime",
        "a chime sounds",
        [
            _FD + "complete.oga",
            _FD + "message-new-instant.oga",
            _FD + "service-login.oga",
            "Oxygen-Sys-Log-In.ogg",
            "Oxygen-K3B-Finish-Success.ogg",
            "Oxygen-Im-Message-In.ogg",
        ],
    ),
    "alert beep": (
        "an alert beep",
        "an alert beeps",
        [
            _FD + "dialog-warning.oga",
            _FD + "dialog-error.oga",
            "warning.wav",
            "error.wav",
            "Oxygen-Sys-Warning.ogg",
            "Oxygen-Sys-App-Error.ogg",
        ],
    ),
}
EVENT_LICENSE = {
    "freedesktop": "sound-theme-freedesktop: GPL-2+/CC BY(-SA) (see Debian copyright)",
    "Oxygen": "oxygen-sounds: LGPL-3+/CC BY-SA (see Debian copyright)",
    "gnome": "gnome-audio: GPL-2+ (see Debian copyright)",
}


def event_split(label: str, index: int) -> str:
    """Held-out files per event label: with >= 3 files the first is test and the second validation."""
    n = len(EVENTS[label][2])
    if n >= 3:
        return {0: "test", 1: "validation"}.get(index, "train")
    return "test" if (n == 2 and index == 0) else "train"


def event_license(rel: str) -> str:
    if rel.startswith("freedesktop"):
        return EVENT_LICENSE["freedesktop"]
    return EVENT_LICENSE["Oxygen"] if rel.startswith("Oxygen") else EVENT_LICENSE["gnome"]
