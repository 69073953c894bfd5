"""The Two-Towers (CLAP-style) model.

Frozen towers are built lazily and kept out of the module tree: their weights come from the asset cache,
never from a checkpoint, and training reads their cached outputs instead of re-running them. Trainable
towers are ordinary submodules and are saved with the projectors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from almkit.architectures.two_towers.config import TwoTowersConfig
from almkit.architectures.two_towers.projectors import build_projector
from almkit.architectures.weights import read_weights
from almkit.encoders.batching import fixed_blocks
from almkit.errors import AudioError, CheckpointError, ConfigError
from almkit.objectives.contrastive import build_contrastive_loss

Wave = np.ndarray | torch.Tensor
AudioInput = str | Path | Wave | tuple[Wave, int]
"""A file, a waveform at the encoder's sample rate, or ``(waveform, sample_rate)`` (resampled)."""

PRETRAINED = {"default": "pretrained/default"}


def pretrained_path(name: str | Path) -> Path:
    """Folder of a model shipped inside the package (``default``) or a user folder."""
    from importlib import resources

    if isinstance(name, str) and name in PRETRAINED:
        return Path(str(resources.files("almkit") / PRETRAINED[name]))
    return Path(name)


def _is_one(audio) -> bool:
    """One clip: a path, a 1-D waveform, or a ``(waveform, sample_rate)`` pair (a bare 2-D array is a batch of
    waveforms; a multichannel waveform goes in a pair)."""
    if isinstance(audio, str | Path):
        return True
    if isinstance(audio, np.ndarray | torch.Tensor):
        return audio.ndim == 1
    return isinstance(audio, tuple) and len(audio) == 2 and isinstance(audio[1], int)


def _as_batch(audio: AudioInput | Sequence[AudioInput]) -> list[AudioInput]:
    """One path, waveform or ``(waveform, sample_rate)`` is a batch of one (a string is not a sequence of paths)."""
    return [audio] if _is_one(audio) else list(audio)


def as_wave(audio: AudioInput, rate: int, name: str) -> np.ndarray:
    """A mono float32 waveform at ``rate`` from a file, a waveform or ``(waveform, sample_rate)``."""
    from almkit.audio.io import load_audio, resample

    if isinstance(audio, str | Path):
        return load_audio(audio, rate)
    wave, sr = audio if isinstance(audio, tuple) else (audio, rate)
    wave = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
    if wave.ndim == 2:  # [channels, samples] or [samples, channels]: the shorter axis holds the channels
        wave = wave.mean(axis=int(np.argmin(wave.shape)))
    if wave.ndim != 1 or not wave.size or not np.issubdtype(wave.dtype, np.number):
        raise AudioError(f"expected a 1-D (or 2-D multichannel) numeric waveform, got shape {wave.shape}", source=name)
    if not np.isfinite(wave).all():
        raise AudioError("the waveform holds NaN or infinite samples", source=name)
    wave = wave.astype(np.float32, copy=False)
    return wave if sr == rate else resample(wave, sr, rate)


class TwoTowers(nn.Module):
    def __init__(self, config: TwoTowersConfig):
        super().__init__()
        self.config = config.validate()
        if not (config.audio_dim and config.text_dim):
            raise ConfigError("audio_dim/text_dim are unset", hint="create models with almkit's create_model()")
        self._frozen: dict[str, nn.Module] = {}
        if not config.freeze_audio:
            self.audio_tower = self._build_audio()
        if not config.freeze_text:
            self.text_tower = self._build_text()
        self.audio_projection = build_projector(
            config.audio_projector,
            config.audio_dim,
            config.embed_dim,
            config.hidden_dim,
            config.n_classes,
            config.correction_scale,
        )
        self.text_projection = build_projector(
            config.text_projector, config.text_dim, config.embed_dim, config.hidden_dim
        )
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / config.init_temperature)))
        self.logit_bias = nn.Parameter(torch.tensor(-10.0)) if config.loss == "sigmoid" else None
        self.loss = build_contrastive_loss(config.loss)

    # --- towers -------------------------------------------------------------------------------------
    def _build_audio(self) -> nn.Module:
        from almkit.encoders import build_audio_encoder

        encoder = build_audio_encoder(self.config.audio_encoder, trainable=not self.config.freeze_audio)
        if encoder.embed_dim != self.config.audio_dim:
            raise ConfigError(
                f"audio encoder {self.config.audio_encoder!r} gives {encoder.embed_dim}-d outputs, "
                f"the model was built for {self.config.audio_dim}"
            )
        return encoder

    def _build_text(self) -> nn.Module:
        from almkit.encoders import build_text_encoder

        encoder = build_text_encoder(self.config.text_encoder, trainable=not self.config.freeze_text)
        if encoder.embed_dim != self.config.text_dim:
            raise ConfigError(
                f"text encoder {self.config.text_encoder!r} gives {encoder.embed_dim}-d outputs, "
                f"the model was built for {self.config.text_dim}"
            )
        return encoder

    @property
    def audio_encoder(self):
        if not self.config.freeze_audio:
            return self.audio_tower
        if "audio" not in self._frozen:
            self._frozen["audio"] = self._build_audio()
        return self._frozen["audio"]

    @property
    def text_encoder(self):
        if not self.config.freeze_text:
            return self.text_tower
        if "text" not in self._frozen:
            encoder = self._build_text()
            encoder.eval()
            self._frozen["text"] = encoder
        return self._frozen["text"]

    # --- joint space --------------------------------------------------------------------------------
    def project_audio(self, features: torch.Tensor) -> torch.Tensor:
        """Tower outputs ``[B, audio_dim]`` -> unit vectors in the joint space (on the projection's device)."""
        return F.normalize(self.audio_projection(features.to(self.logit_scale.device)), dim=-1)

    def project_text(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_projection(features.to(self.logit_scale.device)), dim=-1)

    def audio_features(self, waves: torch.Tensor) -> torch.Tensor:
        """Run the (trainable) audio tower on fixed-length crops ``[B, S]``: chunk, encode, mean-pool."""
        encoder = self.audio_encoder
        window = int(round(encoder.policy.window_s * encoder.sample_rate))
        b, s = waves.shape
        if s % window:
            raise ConfigError(f"training crops of {s} samples are not a multiple of the window ({window})")
        chunks = waves.reshape(b * (s // window), window)
        return encoder.encode_chunks(chunks).reshape(b, s // window, -1).mean(dim=1)

    # --- training -----------------------------------------------------------------------------------
    def training_step(self, batch: dict) -> torch.Tensor:
        """``batch``: ``audio`` (cached features, or waves if the audio tower trains), ``text`` (cached
        features, or strings if the text tower trains) and ``pair_ids`` (clip index of each pair)."""
        audio = batch["audio"] if self.config.freeze_audio else self.audio_features(batch["audio"])
        text = batch["text"] if self.config.freeze_text else self.text_tower.encode(batch["text"])
        a, t, ids = self.project_audio(audio), self.project_text(text), batch["pair_ids"]
        a, t, ids = _gather(a), _gather(t), _gather(ids)
        return self.loss(a, t, self.logit_scale.exp().clamp(max=100), self.logit_bias, ids)

    # --- inference ----------------------------------------------------------------------------------
    @torch.no_grad()
    def embed_text(self, texts: str | Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Unit-norm joint-space embeddings of ``texts``, ``[N, embed_dim]`` (one string: ``[1, embed_dim]``)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        self.eval()
        out = [
            fixed_blocks(self.project_text, self.text_encoder.encode(list(texts[i : i + batch_size])))
            for i in range(0, len(texts), batch_size)
        ]
        return torch.cat(out).cpu().numpy() if out else np.zeros((0, self.config.embed_dim), np.float32)

    @torch.no_grad()
    def embed_audio_files(
        self,
        paths: Sequence[str | Path],
        batch_size: int = 32,
        progress: bool = False,
        segments: Sequence[tuple[float, float | None]] | None = None,
    ):
        """Embed files (or their ``(offset, duration)`` segments), skipping bad ones: returns ``(embeddings
        [N_good, D], good_paths, failures)``."""
        from almkit.encoders.embed import embed_files

        self.eval()
        result = embed_files(
            self.audio_encoder, list(paths), batch_size=batch_size, progress=progress, segments=segments
        )
        feats = torch.as_tensor(np.asarray(result.embeddings, dtype=np.float32)).reshape(
            len(result.paths), self.config.audio_dim
        )
        return fixed_blocks(self.project_audio, feats).cpu().numpy(), list(result.paths), list(result.failures)

    @torch.no_grad()
    def embed_audio(self, audio: AudioInput | Sequence[AudioInput], batch_size: int = 32) -> np.ndarray:
        """Unit-norm joint-space embeddings of files, waveforms at the encoder's sample rate, or ``(waveform,
        sample_rate)`` pairs (numpy or torch; resampled with soxr); one clip gives ``[1, embed_dim]``.

        Raises :class:`AudioError` naming the first file that cannot be used.
        """
        from almkit.encoders.embed import embed_waveforms

        audio = _as_batch(audio)
        self.eval()
        if not all(isinstance(a, str | Path) for a in audio):
            rate = self.audio_encoder.sample_rate
            waves = [as_wave(a, rate, _name(a, i)) for i, a in enumerate(audio)]
            feats = embed_waveforms(self.audio_encoder, waves, batch_size=batch_size)
            return fixed_blocks(self.project_audio, torch.as_tensor(feats)).cpu().numpy()
        emb, _, failures = self.embed_audio_files([str(a) for a in audio], batch_size=batch_size)
        if failures:
            path, message = failures[0]
            raise AudioError(message, source=path)
        return emb

    def logits(self, audio_emb: np.ndarray, text_emb: np.ndarray) -> np.ndarray:
        scale = float(self.logit_scale.detach().exp().clamp(max=100))
        bias = float(self.logit_bias.detach()) if self.logit_bias is not None else 0.0
        return scale * audio_emb @ text_emb.T + bias

    def classify(
        self,
        audio: AudioInput | Sequence[AudioInput],
        labels: Sequence[str],
        prompt: str | None = None,
        top_k: int = 5,
        batch_size: int = 32,
        threshold: float | None = None,
    ) -> list[dict]:
        """Zero-shot classification: each clip against ``prompt.format(label)`` for every label (see
        :meth:`rank_labels` for ``threshold``)."""
        audio = _as_batch(audio)
        audio_emb = self.embed_audio(audio, batch_size=batch_size)
        names = [_name(a, i) for i, a in enumerate(audio)]
        return self.rank_labels(audio_emb, names, labels, prompt, top_k, threshold)

    def rank_labels(
        self,
        audio_emb: np.ndarray,
        names: Sequence[str],
        labels: Sequence[str],
        prompt: str | None,
        top_k: int,
        threshold: float | None = None,
    ) -> list[dict]:
        """Score already-embedded clips against ``labels``; one result dict per clip: ``label`` (the best),
        ``score`` (its softmax probability among the given labels), ``similarity`` (its cosine in the joint
        space, which does not depend on the other labels) and ``top``.

        Softmax scores always sum to one over the labels given, so they cannot say "none of these". With
        ``threshold``, a clip whose best cosine is below it gets ``label`` None (open set); see the README for
        thresholds measured on held-out audio."""
        labels = [lab.strip() for lab in labels if lab.strip()]
        if not labels:
            raise ConfigError("no labels given", hint='pass --labels "dog,rain,siren"')
        prompt = prompt or self.config.prompt
        if "{}" not in prompt:
            raise ConfigError(f"prompt {prompt!r} needs a '{{}}' where the label goes")
        text = self.embed_text([prompt.format(x) for x in labels])
        probs = torch.softmax(torch.as_tensor(self.logits(audio_emb, text)), dim=-1).numpy()
        cosines = audio_emb @ text.T
        results = []
        for name, p, cos in zip(names, probs, cosines, strict=True):
            order = np.argsort(-p, kind="stable")[: max(1, top_k)]
            top = [[labels[j], round(float(p[j]), 6)] for j in order]
            best = round(float(cos[order[0]]), 6)
            label = None if threshold is not None and best < threshold else top[0][0]
            results.append({"audio": name, "label": label, "score": top[0][1], "similarity": best, "top": top})
        return results

    # --- persistence --------------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (projectors, temperature, trainable towers)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.save(folder / "config.json")
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "almkit-two-towers"})
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> TwoTowers:
        """Load ``"default"`` or a folder written by :meth:`save_pretrained`; fails on missing or unexpected
        keys."""
        folder = pretrained_path(folder)
        if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
            raise CheckpointError(
                "not a Two-Towers model folder (needs config.json and model.safetensors)",
                source=folder,
                hint="pass 'default' or a folder written by `almkit train`",
            )
        model = cls(TwoTowersConfig.load(folder / "config.json"))
        state = read_weights(folder / "model.safetensors")
        try:
            result = model.load_state_dict(state, strict=False)
        except RuntimeError as err:  # a tensor of another shape
            weights = folder / "model.safetensors"
            raise CheckpointError(f"weights do not match the config ({err})", source=weights) from None
        if result.missing_keys or result.unexpected_keys:
            raise CheckpointError(
                f"weights do not match the config: missing {result.missing_keys[:5]}, "
                f"unexpected {result.unexpected_keys[:5]}",
                source=folder / "model.safetensors",
            )
        return model.eval()


def _name(audio: AudioInput, index: int) -> str:
    return str(audio) if isinstance(audio, str | Path) else f"<array {index}>"


def _gather(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from every DDP rank, keeping gradients for the local part."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    if x.requires_grad:
        from torch.distributed.nn.functional import all_gather

        return torch.cat(all_gather(x))
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x)
    return torch.cat(parts)
