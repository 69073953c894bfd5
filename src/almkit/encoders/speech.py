"""What is said, as text: PocketSphinx (CMU, BSD; the en-US acoustic model ships inside its PyPI wheel).

Sound-event frames (YAMNet) tell a model *that* someone speaks, not *what* is said. LTU-AS gives its LM a
Whisper transcript next to the audio tokens; almkit does the same with the offline recognizer it has. Two
searches:

* open vocabulary (no ``phrases``): the wheel's en-US trigram LM, for any English, weak on noisy mixtures;
* closed vocabulary (``phrases``): a JSGF grammar in which one of the phrases, or nothing, is said. The text
  is the decoder's best path through it, which can be ``""`` or stop inside a phrase ("turn" of "turn
  left"). Use it when the speech to expect is known (commands, prompts, the transcripts of a training split).

Decoding is deterministic: the same samples give the same text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np

from almkit.errors import ConfigError

SAMPLE_RATE = 16_000


def normalize_phrase(text: str) -> str:
    """Lower case, words of letters and apostrophes only (the recognizer's dictionary form)."""
    return " ".join(re.sub(r"[^a-z' ]+", " ", text.lower()).split())


class Transcriber:
    """``transcriber(wave)`` -> text, for mono float32 samples at 16 kHz."""

    sample_rate = SAMPLE_RATE

    def __init__(self, phrases: Sequence[str] = ()):
        from pocketsphinx import Decoder

        self.phrases = tuple(dict.fromkeys(p for p in map(normalize_phrase, phrases) if p))
        self.decoder = Decoder(samprate=SAMPLE_RATE, logfn=os.devnull)
        if self.phrases:
            unknown = sorted({w for p in self.phrases for w in p.split() if self.decoder.lookup_word(w) is None})
            if unknown:
                raise ConfigError(
                    f"phrases use words missing from the PocketSphinx en-US dictionary: {unknown}",
                    hint="spell them as ordinary English words, or drop those phrases",
                )
            alternatives = " | ".join(f"( {p} )" for p in self.phrases)
            grammar = f"#JSGF V1.0;\ngrammar phrases;\npublic <s> = [ {alternatives} ];\n"
            self.decoder.add_jsgf_string("phrases", grammar)
            self.decoder.activate_search("phrases")

    def __call__(self, wave: np.ndarray) -> str:
        pcm = (np.clip(np.asarray(wave, np.float32), -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""
