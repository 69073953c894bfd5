"""Captioning and question answering on audio files with a Two-Heads model.

Long audio is never truncated: it is cut into ``config.window_s`` windows (whole encoder chunks), each window
is answered, and the answers are merged with their time stamps. Results say which windows were used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from almkit.architectures.two_heads.model import TwoHeads
from almkit.errors import AudioError, ConfigError

CAPTION_INSTRUCTION = "Describe the audio."


@dataclass
class Answer:
    audio: str
    text: str
    windows: list[dict] = field(default_factory=list)


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


class TwoHeadsGenerator:
    def __init__(self, model: TwoHeads, batch_size: int = 16):
        from almkit.encoders import build_audio_encoder

        self.model = model
        self.encoder = build_audio_encoder(model.config.audio_encoder)
        self.batch_size = batch_size
        self.window = max(1, round(model.config.window_s / self.encoder.policy.hop_s))

    def frames(self, paths: list[str]) -> tuple[dict[str, torch.Tensor], list[tuple[str, str]]]:
        from almkit.encoders.embed import embed_files

        result = embed_files(self.encoder, paths, pool=False, progress=len(paths) > 20)
        return {p: torch.as_tensor(e) for p, e in zip(result.paths, result.embeddings, strict=True)}, result.failures

    def run(self, paths: list[str], instructions: list[str], **decoding) -> tuple[list[Answer | None], list]:
        """One answer per (path, instruction); ``None`` where the audio failed (listed in the failures)."""
        feats, failures = self.frames(list(dict.fromkeys(paths)))
        hop = self.encoder.policy.hop_s
        jobs = []  # (item, window start, window end, frames, instruction)
        for i, (p, q) in enumerate(zip(paths, instructions, strict=True)):
            if p not in feats:
                continue
            f = feats[p]
            for start in range(0, len(f), self.window):
                end = min(len(f), start + self.window)
                jobs.append((i, round(start * hop, 2), round(end * hop, 2), f[start:end], q))
        texts = []
        for k in range(0, len(jobs), self.batch_size):
            chunk = jobs[k : k + self.batch_size]
            texts += self.model.generate([j[3] for j in chunk], [j[4] for j in chunk], **decoding)
        answers: list[Answer | None] = [None] * len(paths)
        for (i, s, e, _, _), text in zip(jobs, texts, strict=True):
            if answers[i] is None:
                answers[i] = Answer(paths[i], "", [])
            answers[i].windows.append({"start": s, "end": e, "text": text})
        for a in answers:
            if a is not None:
                a.text = (
                    a.windows[0]["text"]
                    if len(a.windows) == 1
                    else " ".join(f"[{w['start']:.1f}-{w['end']:.1f} s] {w['text']}" for w in a.windows)
                )
        return answers, failures

    def _strict(self, answers, failures) -> list[str]:
        if failures:
            path, message = failures[0]
            raise AudioError(message, source=path)
        return [a.text for a in answers]

    def caption(self, paths: list[str | Path], **decoding) -> list[str]:
        paths = [str(p) for p in paths]
        return self._strict(*self.run(paths, [CAPTION_INSTRUCTION] * len(paths), **decoding_options(decoding)))

    def ask(self, paths: list[str | Path], questions: list[str], **decoding) -> list[str]:
        return self._strict(*self.run([str(p) for p in paths], list(questions), **decoding_options(decoding)))
