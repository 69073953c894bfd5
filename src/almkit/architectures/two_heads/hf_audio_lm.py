"""Public large audio-language models that ``transformers`` ships, behind the same interface as almkit's
Two-Heads generator (``run``, ``caption``, ``ask``), loaded from a local folder.

Supported: Qwen2-Audio (``Qwen2AudioForConditionalGeneration`` + ``Qwen2AudioProcessor``; the folder is what
``save_pretrained`` writes, e.g. a local copy of Qwen/Qwen2-Audio-7B-Instruct). Audio longer than the processor's
window (30 s for Whisper-style front ends) is answered window by window, never truncated.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from almkit.architectures.two_heads.generator import AudioTextGenerator
from almkit.architectures.two_heads.windows import Answer, collect, spans
from almkit.errors import AudioError, ConfigError

# model_type in config.json -> model class
SUPPORTED = {"qwen2_audio": "Qwen2AudioForConditionalGeneration"}
# --dtype -> the weights' type (auto: as saved in the folder; bfloat16 halves the memory of a 7B model on a GPU)
DTYPES = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def is_transformers_audio_lm(folder: Path) -> bool:
    """True for a folder whose config.json names a supported transformers audio-LM."""
    try:
        return json.loads((Path(folder) / "config.json").read_text()).get("model_type") in SUPPORTED
    except (OSError, ValueError):
        return False


class TransformersAudioLM(AudioTextGenerator):
    """A transformers audio-LM with almkit's generator interface, on ``device`` (see ``almkit.device``) with
    weights in ``dtype``. Decoding options as for Two Heads; greedy answers do not depend on the batch size in
    float32 (in bfloat16 padding may flip near-ties)."""

    def __init__(self, folder: str | Path, batch_size: int = 4, device: str = "auto", dtype: str = "auto"):
        import transformers
        from transformers import AutoProcessor

        from almkit.device import resolve_device

        if dtype not in DTYPES:
            raise ConfigError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
        target = resolve_device(device)  # before a load that can take minutes
        folder = Path(folder)
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
        if model_type not in SUPPORTED:
            raise ConfigError(
                f"model_type {model_type!r} is not a supported audio-LM",
                source=folder,
                hint=f"supported: {', '.join(SUPPORTED)}",
            )
        self.folder = folder
        self.processor = AutoProcessor.from_pretrained(str(folder))
        model_class = getattr(transformers, SUPPORTED[model_type])
        self.model = model_class.from_pretrained(str(folder), dtype=DTYPES[dtype]).to(target).eval()
        self.batch_size = batch_size
        fe = self.processor.feature_extractor
        self.sample_rate = int(fe.sampling_rate)
        self.window_s = float(getattr(fe, "chunk_length", 30))
        tok = self.processor.tokenizer
        tok.padding_side = "left"
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def _prompt(self, question: str) -> str:
        messages = [{"role": "user", "content": [{"type": "audio", "audio": "x"}, {"type": "text", "text": question}]}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    @torch.no_grad()
    def _generate(self, waves: list, questions: list[str], decoding: dict) -> list[str]:
        decoding = dict(decoding)
        seed = decoding.pop("seed", 0)
        inputs = self.processor(
            text=[self._prompt(q) for q in questions],
            audio=waves,
            sampling_rate=self.sample_rate,
            return_tensors="pt",
            padding=True,
        ).to(self.model.device)
        inputs["input_features"] = inputs["input_features"].to(self.model.dtype)
        if decoding.get("do_sample"):
            torch.manual_seed(seed)
        out = self.model.generate(**inputs, pad_token_id=self.pad_id, **decoding)
        new = out[:, inputs["input_ids"].shape[1] :]
        return [t.strip() for t in self.processor.batch_decode(new, skip_special_tokens=True)]

    def run(self, paths: list[str], instructions: list[str], **decoding) -> tuple[list[Answer | None], list]:
        """One :class:`Answer` per (path, instruction), ``None`` where the audio failed (listed in failures)."""
        from almkit.audio.io import load_audio

        waves, failures = {}, []
        for p in dict.fromkeys(paths):
            try:
                waves[p] = load_audio(p, self.sample_rate)
            except AudioError as err:
                failures.append((p, str(err)))
        size = int(self.window_s * self.sample_rate)
        jobs, inputs = [], []
        for i, (p, q) in enumerate(zip(paths, instructions, strict=True)):
            if p in waves:
                for s, e in spans(len(waves[p]), size):
                    jobs.append((i, s / self.sample_rate, e / self.sample_rate, None))
                    inputs.append((waves[p][s:e], q))
        texts: list[str] = []
        for k in range(0, len(inputs), self.batch_size):
            chunk = inputs[k : k + self.batch_size]
            texts += self._generate([w for w, _ in chunk], [q for _, q in chunk], decoding)
        return collect(paths, jobs, texts), failures
