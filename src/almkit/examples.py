"""The example audio folder used by ``almkit demo``: real recordings from Debian packages.

Drum one-shots (hydrogen-drumkits), desktop event sounds (sound-theme-freedesktop) and synthetic speech
with known text (flite). Nothing is downloaded; the files are copied or rendered locally.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from almkit.errors import AlmkitError

KIT = Path("/usr/share/hydrogen/data/drumkits/ColomboAcousticDrumkit")
FREEDESKTOP = Path("/usr/share/sounds/freedesktop/stereo")
EXAMPLES = {
    "kick.flac": KIT / "bassdrum-4mics-br-stereo-normal3.flac",
    "snare.flac": KIT / "snare-opaque-2mics_normal-shot1.flac",
    "hihat.flac": KIT / "hihat-closed-1.flac",
    "bell.oga": FREEDESKTOP / "bell.oga",
    "phone-ringing.oga": FREEDESKTOP / "phone-incoming-call.oga",
    "camera-shutter.oga": FREEDESKTOP / "camera-shutter.oga",
}
SPEECH = {"speech.wav": "Good morning. The train to the city leaves from platform four."}
LABELS = ["kick drum", "snare drum", "hi-hat", "bell", "telephone ringing", "camera shutter", "speech"]


def build_examples(out: Path) -> list[Path]:
    """Copy/render the example clips into ``out`` (skips files already there)."""
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for name, src in EXAMPLES.items():
        dst = out / name
        if not dst.exists():
            if not src.exists():
                raise AlmkitError("example source missing", source=src, hint="run `make setup` (Debian packages)")
            shutil.copyfile(src, dst)
        made.append(dst)
    for name, text in SPEECH.items():
        dst = out / name
        if not dst.exists():
            subprocess.run(["flite", "-t", text, "-o", str(dst)], check=True, capture_output=True)
        made.append(dst)
    return made
