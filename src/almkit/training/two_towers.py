"""Contrastive training of a Two-Towers model from a manifest.

Every caption of a clip is a training pair; a clip with only a label gets captions from a few label
templates. Frozen towers are read from the feature cache (``<out>/cache``); a trainable audio tower sees a
random crop of each clip (training only, seeded by the engine).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from torch.utils.data import Dataset

from almkit.architectures.two_towers import TwoTowers, TwoTowersConfig, create_model, load_model
from almkit.encoders.cache import audio_features, segment_name, text_features
from almkit.errors import ConfigError
from almkit.training.engine import TrainConfig, TrainResult, fit

LABEL_TEMPLATES = ("the sound of a {}", "{}", "a recording of a {}", "a {} can be heard", "the sound of {}")


def clip_texts(clip) -> list[str]:
    """The training texts of one manifest clip: its captions, else its label(s) in templates."""
    if clip.captions:
        return list(clip.captions)
    labels = list(clip.labels or ([clip.label] if clip.label else []))
    return [t.format(", ".join(labels)) for t in LABEL_TEMPLATES] if labels else []


class PairDataset(Dataset):
    """``(audio, text, clip index)`` triples; audio/text are cached features or raw inputs."""

    def __init__(self, pairs: list[tuple[int, str]], audio: list, text: dict, crop: tuple | None = None):
        self.pairs, self.audio, self.text, self.crop = pairs, audio, text, crop

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        clip, caption = self.pairs[i]
        audio = self.audio[clip]
        if self.crop is not None:
            audio = _random_crop(audio, *self.crop)
        return {"audio": audio, "text": self.text.get(caption, caption), "pair_ids": clip}


def _random_crop(clip: tuple[str, tuple[float, float | None]], sample_rate: int, length: int) -> torch.Tensor:
    from almkit.audio.io import load_audio

    path, (offset, duration) = clip
    wave = torch.from_numpy(load_audio(path, sample_rate, offset, duration))
    if wave.numel() <= length:
        return torch.nn.functional.pad(wave, (0, length - wave.numel()))
    start = int(torch.randint(0, wave.numel() - length + 1, ()))
    return wave[start : start + length]


def train_two_towers(
    manifest: str | Path,
    train: TrainConfig,
    model_config: TwoTowersConfig | None = None,
    init: str | None = None,
    split: str | None = "train",
    crop_windows: int = 1,
    strict: bool = False,
    allow_outside: bool = False,
) -> tuple[TwoTowers, TrainResult, list[tuple[str, str]]]:
    """Train and save to ``<out_dir>/model``. Returns the model, the run and the audio files that failed."""
    from almkit.data.manifest import read_manifest

    clips = list(read_manifest(manifest, strict=strict, allow_outside=allow_outside))
    if split and any(c.split for c in clips):
        clips = [c for c in clips if c.split == split]
    clips = [c for c in clips if clip_texts(c)]
    if not clips:
        raise ConfigError("no usable clips (none with captions or a label in this split)", source=manifest)
    torch.manual_seed(train.seed)  # the projectors' initial weights: the same run for the same seed
    model = load_model(init) if init else create_model(model_config or TwoTowersConfig())
    cfg = model.config
    out = Path(train.out_dir)

    paths = [str(c.audio_path) for c in clips]
    spans = [(c.offset, c.duration) for c in clips]  # a manifest clip may be a segment of its file
    failures: list[tuple[str, str]] = []
    if cfg.freeze_audio:
        feats, failures = audio_features(
            model.audio_encoder, cfg.audio_encoder, paths, out / "cache" / "audio.safetensors", segments=spans
        )
        names = [segment_name(p, *s) for p, s in zip(paths, spans, strict=True)]
        keep = [i for i, n in enumerate(names) if n in feats]
        clips, audio = [clips[i] for i in keep], [feats[names[i]] for i in keep]
        crop = None
    else:
        enc = model.audio_encoder
        audio, crop = (
            list(zip(paths, spans, strict=True)),
            (enc.sample_rate, crop_windows * int(round(enc.policy.window_s * enc.sample_rate))),
        )

    pairs = [(i, t) for i, c in enumerate(clips) for t in clip_texts(c)]
    texts = [t for _, t in pairs]
    text = (
        text_features(model.text_encoder, cfg.text_encoder, texts, out / "cache" / "text.safetensors")
        if cfg.freeze_text
        else {}
    )
    run_info = {"manifest": str(manifest), "split": split, "model": asdict(cfg), "clips": len(clips)}
    result = fit(model, PairDataset(pairs, audio, text, crop), train, run_info=run_info)
    if result.is_global_zero:
        model.save_pretrained(out / "model")
    return model, result, failures
