"""Captioning and question answering on audio files with a Two-Heads model.

Long audio is never truncated: it is cut into ``config.window_s`` windows (whole encoder frames), each window
is answered, and the answers are merged with their time stamps (see ``windows.py``). Results say which windows
were used. A model with a transcriber also reads each window's transcript. Generation is batched over windows
with the KV cache and left padding.
"""

from __future__ import annotations

from pathlib import Path

import torch

from almkit.architectures.two_heads.model import CAPTION_INSTRUCTION, Turns, TwoHeads
from almkit.architectures.two_heads.windows import Answer, collect, spans
from almkit.errors import AudioError, ConfigError


def decoding_options(decoding: dict) -> dict:
    """Card / CLI decoding settings -> ``TwoHeads.generate`` keyword arguments."""
    d = dict(decoding)
    strategy = d.pop("strategy", "greedy")
    if strategy not in ("greedy", "beam", "sample"):
        raise ConfigError(f"decoding strategy {strategy!r} must be greedy, beam or sample")
    out = {"max_new_tokens": int(d.pop("max_new_tokens", 40))}
    if strategy == "beam":
        out["num_beams"] = int(d.pop("num_beams", 4))
    if strategy == "sample":
        out.update(
            do_sample=True,
            temperature=float(d.pop("temperature", 0.7)),
            top_p=float(d.pop("top_p", 0.9)),
            seed=int(d.pop("seed", 0)),
        )
    if d:
        raise ConfigError(f"unknown decoding settings {sorted(d)}")
    return out


def strict_texts(answers: list[Answer | None], failures: list[tuple[str, str]]) -> list[str]:
    """The texts, or AudioError naming the first file that failed (for callers that need one answer each)."""
    if failures:
        path, message = failures[0]
        raise AudioError(message, source=path)
    return [a.text for a in answers]


class AudioTextGenerator:
    """The generator interface (``almkit.tasks.Generator``): ``run`` answers (path, instruction) pairs window by
    window and keeps going past bad files; ``caption`` and ``ask`` give one string per file on top of it."""

    def run(self, paths: list[str], instructions: list[str], **decoding) -> tuple[list[Answer | None], list]:
        raise NotImplementedError

    def caption(self, paths: list[str | Path], **decoding) -> list[str]:
        """One caption per file (greedy unless ``decoding`` says otherwise, e.g. ``strategy="beam"``); AudioError
        naming the first file that cannot be used."""
        paths = [str(p) for p in paths]
        return strict_texts(*self.run(paths, [CAPTION_INSTRUCTION] * len(paths), **decoding_options(decoding)))

    def ask(self, paths: list[str | Path], questions: list[str], **decoding) -> list[str]:
        """One answer per (file, question) pair."""
        return strict_texts(*self.run([str(p) for p in paths], list(questions), **decoding_options(decoding)))


class TwoHeadsGenerator(AudioTextGenerator):
    """``caption(paths)`` and ``ask(paths, questions)`` (one string each, AudioError on a bad file), and
    ``run`` (answers with their windows, plus the failures) for batch commands that keep going. The LM runs
    on ``device`` (see ``almkit.device``), in float32; the frozen ONNX encoder on the CPU.

    ``batch_size`` windows are decoded together. The default, 1, makes every answer a function of its own
    audio and question only; larger batches are faster on a GPU, but left padding changes the arithmetic
    slightly, so a near-tie in greedy decoding can then go another way depending on the batch mates."""

    def __init__(self, model: TwoHeads, batch_size: int = 1, device: str = "auto"):
        from almkit.device import resolve_device

        self.model = model.to(resolve_device(device))
        self.encoder = model.config.build_encoder()
        self.transcriber = model.config.build_transcriber()
        self.batch_size = batch_size
        self.window = max(1, round(model.config.window_s / self.encoder.policy.hop_s))

    def frames(self, paths: list[str]) -> tuple[dict[str, torch.Tensor], list[tuple[str, str]]]:
        """``({path: frames [n, D]}, failures)`` from the frozen encoder."""
        from almkit.encoders.cache import audio_features

        return audio_features(self.encoder, self.model.config.audio_encoder, paths, pool=False)

    def run(
        self, paths: list[str], instructions: list[str], history: Turns = (), **decoding
    ) -> tuple[list[Answer | None], list[tuple[str, str]]]:
        """One answer per (path, instruction); ``None`` where the audio failed (listed in the failures).
        ``history``: earlier (question, answer) turns of a chat, shared by all items."""
        feats, failures = self.frames(list(dict.fromkeys(paths)))
        from almkit.audio.io import audio_info

        hop, width = self.encoder.policy.hop_s, self.encoder.policy.window_s
        heard: dict[tuple[str, float, float], str | None] = {}  # each window is transcribed once per call
        jobs, inputs = [], []
        for i, (p, q) in enumerate(zip(paths, instructions, strict=True)):
            if p in feats:
                duration = audio_info(p).duration
                for s, e in spans(len(feats[p]), self.window):  # a window spans its frames' audio
                    start, end = s * hop, min(duration, (e - 1) * hop + width)
                    if (p, start, end) not in heard:
                        heard[p, start, end] = self.transcribe(p, start, end)
                    jobs.append((i, start, end, heard[p, start, end]))
                    inputs.append((feats[p][s:e], q, heard[p, start, end]))
        texts: list[str] = []
        for k in range(0, len(inputs), self.batch_size):
            f, q, s = zip(*inputs[k : k + self.batch_size], strict=True)
            texts += self.model.generate(list(f), list(q), history=history, speech=list(s), **decoding)
        return collect(paths, jobs, texts), failures

    def transcribe(self, path: str, start: float, end: float) -> str | None:
        """The transcript of one window (None for a model without a transcriber)."""
        if self.transcriber is None:
            return None
        from almkit.audio.io import load_audio

        return self.transcriber(load_audio(path, self.transcriber.sample_rate, offset=start, duration=end - start))
