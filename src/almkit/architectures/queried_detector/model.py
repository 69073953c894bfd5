"""A text-queried sound event detector: when does "a dog barking" happen in this recording?

It reads what the Two-Towers model reads, frame by frame, and asks it the query:

* **frames**: the Two-Towers audio tower (YAMNet: 1024-d embedding and 521 AudioSet probabilities) on 0.975 s
  windows, one centred on each ``hop_s`` cell (0.24 s) of the clip, or with ``own_hop`` the tower's own windows
  (YAMNet's 0.96 s patches back to back, from the clip's log-mel frames), each row held over the four cells it
  covers, so the tower runs a quarter as often (the shipped detector); with ``cell_mels``, also each cell's
  10 ms log-mel frames (YAMNet's own 64 bands), which say *when* in the second-long window the sound is: the
  window's features say what it is, the cell's energies where it starts and stops;
* **sub-cells**: with ``fine`` > 1 the detector scores each of ``fine`` equal sub-cells of a cell (frames of
  ``hop_s / fine``: 80 ms for three), reading their mean bands, or with ``mel_channels`` what a small temporal
  CNN makes of their 10 ms frames (onsets, decays, harmonics), so events' edges fall between windows;
* **query**: the Two-Towers text tower and projection on the query (in the model's prompt);
* **scores**: the Two-Towers cosine of each frame's projection with the query (the detector the agent's
  ``detect`` tool uses) and the training-free ConSE bridge's cosine, plus a trained head: the frames,
  FiLM-modulated by the query, through a temporal convolution (with ``fine``, its output is added to each
  sub-cell's projected bands, or their CNN features, themselves FiLM-modulated by the query, and a second
  convolution runs at the sub-cell rate; the CNN features also join the cell-rate input). The head's output layer
  starts at zero, so an untrained detector is the Two-Towers per-frame detector; training moves it where the
  data says so, and ``head_scale`` (chosen on in-domain and out-of-domain validation data, as WiSE-FT
  interpolates) says how far.

Events come from the frame probabilities by a median filter and a threshold, both chosen on validation data; with
``low_threshold`` (hysteresis, also chosen on validation), an event is a run of frames at or above the low
threshold that reaches the threshold somewhere, so a sound found once is followed to where it fades.
The Two-Towers model is frozen and shared, so an improvement to it shows here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from almkit.architectures.on_towers import OnTowers
from almkit.encoders.yamnet import HOP, MELS, SAMPLE_RATE, SILENCE
from almkit.errors import AudioError, ConfigError

MEL_HOP_S = HOP / SAMPLE_RATE  # YAMNet's log-mel frames: 10 ms


@dataclass
class DetectorConfig:
    towers: str = "default"  # the Two-Towers model whose towers and projections the detector reads
    towers_sha256: str = ""  # its checkpoint when the detector was trained (checked on load)
    hop_s: float = 0.24
    hidden: int = 256
    context: int = 5  # frames the temporal convolution sees
    threshold: float = 0.5
    low_threshold: float | None = None  # hysteresis: an event's frames need only this, once one reaches threshold
    median: int = 3  # median filter width in frames (odd)
    head_scale: float = 1.0  # 0: the Two-Towers per-frame detector; 1: the trained head in full (chosen on validation)
    cell_mels: bool = False  # the head also reads each cell's mean log-mel bands (finer onsets and offsets)
    fine: int = 1  # frames per cell the detector scores (needs cell_mels when above 1)
    own_hop: bool = False  # the tower's own windows (0.96 s, back to back), not one centred on each cell
    mel_channels: int = 0  # > 0 (needs fine > 1): a CNN of this width reads the sub-cells' 10 ms log-mel frames
    architecture: str = "Detector"

    def validate(self) -> DetectorConfig:
        if self.architecture != "Detector":
            raise ConfigError(f"architecture must be 'Detector', not {self.architecture!r}")
        if not 0 < self.hop_s <= 0.25:
            raise ConfigError(f"hop_s must be in (0, 0.25], not {self.hop_s}")
        if self.cell_mels and abs(self.hop_s / MEL_HOP_S - round(self.hop_s / MEL_HOP_S)) > 1e-9:
            raise ConfigError(f"cell_mels needs hop_s in whole 10 ms log-mel frames, not {self.hop_s}")
        if self.fine < 1 or (self.fine > 1 and not self.cell_mels) or round(self.hop_s / MEL_HOP_S) % self.fine:
            raise ConfigError(f"fine must be 1, or divide the cell's log-mel frames with cell_mels on, not {self.fine}")
        if self.mel_channels < 0 or (self.mel_channels and self.fine == 1):
            raise ConfigError(f"mel_channels must be 0, or positive with fine > 1, not {self.mel_channels}")
        if self.own_hop and not self.cell_mels:
            raise ConfigError("own_hop needs cell_mels: the cells' bands say when, the 0.96 s windows only what")
        if self.median < 1 or self.median % 2 == 0 or self.context < 1 or self.context % 2 == 0:
            raise ConfigError("median and context must be odd frame counts")
        if not 0 < self.threshold < 1:
            raise ConfigError(f"threshold must be in (0, 1), not {self.threshold}")
        if self.low_threshold is not None and not 0 < self.low_threshold <= self.threshold:
            raise ConfigError(f"low_threshold must be None or in (0, threshold], not {self.low_threshold}")
        return self

    @property
    def frame_s(self) -> float:
        """Seconds between the frames the detector scores."""
        return self.hop_s / self.fine


def _time_pools(n: int) -> list[int]:
    """``n`` as three factors (the time pooling of the mel CNN's three blocks), smallest first."""
    primes, k = [], 2
    while n > 1:
        while n % k == 0:
            primes.append(k)
            n //= k
        k += 1
    while len(primes) > 3:
        primes = sorted([primes[0] * primes[1], *primes[2:]])
    return [1] * (3 - len(primes)) + primes


class MelCNN(nn.Module):
    """Log-mel frames ``[B, T, 64]`` (10 ms) -> ``[B, T / pool, hidden]``: the bands as channels through three
    blocks of a temporal convolution (three frames), batch norm, GELU and max pooling (the pools multiplying to
    ``pool``), then a linear layer."""

    def __init__(self, channels: int, pool: int, hidden: int):
        super().__init__()
        layers, c_in = [nn.BatchNorm1d(MELS)], MELS
        for t in _time_pools(pool):
            layers += [nn.Conv1d(c_in, channels, 3, padding=1), nn.BatchNorm1d(channels), nn.GELU(), nn.MaxPool1d(t)]
            c_in = channels
        self.blocks = nn.Sequential(*layers)
        self.out = nn.Linear(channels, hidden)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(mels.transpose(1, 2)).transpose(1, 2))


def median_filter(x: np.ndarray, width: int) -> np.ndarray:
    """Median over ``width`` frames along the last axis (edges padded with their value)."""
    if width <= 1 or x.shape[-1] < 2:
        return x
    half = width // 2
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(half, half)], mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1), axis=-1)


def runs(active: np.ndarray) -> list[tuple[int, int]]:
    """``[(first, last_exclusive)]`` of the runs of True in ``active``."""
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def events_from(
    probs: np.ndarray, hop_s: float, threshold: float, duration: float, low: float | None = None
) -> list[dict]:
    """Events ``{onset, offset, score}`` (seconds) of the runs of frames at or above ``threshold``; with ``low``
    (hysteresis), of the runs at or above ``min(low, threshold)`` that reach ``threshold``."""
    floor = threshold if low is None else min(low, threshold)
    return [
        {"onset": round(a * hop_s, 3), "offset": round(min(duration, b * hop_s), 3),
         "score": round(float(probs[a:b].max()), 4)}
        for a, b in runs(probs >= floor) if probs[a:b].max() >= threshold
    ]  # fmt: skip


class QueriedDetector(OnTowers):
    """Frame probabilities ``[Q, T * fine]`` of ``Q`` text queries over a clip's ``T`` cells of ``hop_s`` seconds."""

    kind, config_class, shipped, recipe = "Detector", DetectorConfig, "pretrained/detector", "recipes/detector.py"

    def __init__(self, config: DetectorConfig, towers=None):
        super().__init__(config, towers)
        audio_dim, joint = self.towers.config.audio_dim, self.towers.config.embed_dim
        h = config.hidden
        self.norm = nn.LayerNorm(audio_dim)
        if config.cell_mels:
            if not hasattr(self.towers.audio_encoder, "log_mel"):
                raise ConfigError("cell_mels needs a Two-Towers model on YAMNet (its log-mel front-end)")
            window_s = self.towers.audio_encoder.policy.hop_s
            if config.own_hop and abs(window_s / config.hop_s - round(window_s / config.hop_s)) > 1e-9:
                raise ConfigError(f"own_hop needs hop_s to divide the tower's {window_s} s hop, not {config.hop_s}")
            self.cell_norm = nn.LayerNorm(MELS)
        self.audio = nn.Linear(audio_dim + (MELS if config.cell_mels else 0), h)
        self.film = nn.Linear(joint, 2 * h)
        self.temporal = nn.Conv1d(h, h, config.context, padding=config.context // 2)
        if config.fine > 1:  # each sub-cell's bands, added to its cell's state, through a sub-cell-rate convolution
            per_sub = round(config.hop_s / MEL_HOP_S) // config.fine
            self.sub_mels = MelCNN(config.mel_channels, per_sub, h) if config.mel_channels else nn.Linear(MELS, h)
            if config.mel_channels:
                self.sub_film = nn.Linear(joint, 2 * h)
            self.sub_temporal = nn.Conv1d(h, h, config.context, padding=config.context // 2)
        self.out = nn.Linear(h, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        # logit = out + w_towers * cosine(towers) + w_bridge * cosine(ConSE bridge) + bias; 0.3 cosine -> p = 0.5
        self.mix = nn.Parameter(torch.tensor([10.0, 0.0]))
        self.bias = nn.Parameter(torch.tensor(-3.0))

    # --- frozen inputs -------------------------------------------------------------------------------------
    def frames(self, wave: np.ndarray) -> torch.Tensor:
        """The audio tower's rows ``[T, audio_dim]``, one per ``hop_s`` cell of ``wave`` (mono, at the tower's
        sample rate): a window centred on each cell, or with ``own_hop`` the tower's own window that covers it;
        with ``cell_mels``, each row ends with its cell's 10 ms log-mel frames, in order
        (``[T, audio_dim + n * 64]``, ``n = hop_s / 10 ms``)."""
        from almkit.encoders.embed import frame_rows

        encoder, hop = self.towers.audio_encoder, self.config.hop_s
        cells = max(1, -(-len(wave) // round(hop * encoder.sample_rate)))
        mels = encoder.log_mel(wave) if self.config.cell_mels else None  # ceil(samples / 10 ms) frames
        if self.config.own_hop:
            rows = encoder.encode_log_mel(mels).repeat_interleave(self.cells_per_window, dim=0)[:cells]
        else:
            rows = frame_rows(encoder, wave, hop, centred=True)
        if mels is None:
            return rows
        per_cell = round(hop / MEL_HOP_S)  # the cells hold at least the frames: pad with the bands of silence
        mels = F.pad(mels, (0, 0, 0, cells * per_cell - len(mels)), value=SILENCE)
        return torch.cat([rows, mels.reshape(cells, -1)], dim=1)

    @property
    def cells_per_window(self) -> int:
        """Cells that share one row of the audio tower: 1, or with ``own_hop`` the cells in its hop."""
        if not self.config.own_hop:
            return 1
        return round(self.towers.audio_encoder.policy.hop_s / self.config.hop_s)

    @torch.no_grad()
    def frame_views(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(towers, bridge)``: each frame ``[..., T, audio_dim]`` in the joint space, by the Two-Towers audio
        projection and by its training-free ConSE prior (or the projection again when it has none)."""
        from almkit.encoders.batching import fixed_blocks

        k, dim = self.cells_per_window, self.towers.config.audio_dim
        windows = frames[..., ::k, :dim]  # each window once: its row is repeated over its cells
        flat = windows.reshape(-1, dim)
        projection = self.towers.audio_projection
        towers = fixed_blocks(self.towers.project_audio, flat)
        bridge = fixed_blocks(projection.prior, flat) if hasattr(projection, "prior") else towers
        shape, cells = (*windows.shape[:-1], -1), frames.shape[-2]
        return tuple(v.reshape(shape).repeat_interleave(k, dim=-2)[..., :cells, :] for v in (towers, bridge))

    def embed_queries(self, queries: list[str]) -> torch.Tensor:
        """``[Q, joint]`` unit vectors of the queries in the Two-Towers prompt."""
        prompt = self.towers.config.prompt
        return torch.from_numpy(self.towers.embed_text([prompt.format(q) for q in queries]))

    # --- the head ---------------------------------------------------------------------------------------
    def forward(
        self, frames: torch.Tensor, towers: torch.Tensor, bridge: torch.Tensor, queries: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``[B, Q, T * fine]`` of frames ``[B, T, audio_dim (+ n * 64)]`` (their two joint-space views
        ``[B, T, joint]``) for queries ``[B, Q, joint]``."""
        b, t, _ = frames.shape
        q, fine = queries.shape[1], self.config.fine
        audio_dim = self.towers.config.audio_dim
        x = self.norm(frames[..., :audio_dim])
        if self.config.cell_mels:
            mels = frames[..., audio_dim:].reshape(b, t * fine, -1, MELS)  # [B, T * fine, 10 ms frames, 64]
            sub = self.cell_norm(mels.mean(2).reshape(b, t, fine, MELS))  # each sub-cell's mean bands
            x = torch.cat([x, sub.mean(2)], dim=-1)
        h = F.gelu(self.audio(x))  # [B, T, H]
        if fine > 1:  # each sub-cell's bands, or what the mel CNN makes of its frames
            s = self.sub_mels(mels.flatten(1, 2) if self.config.mel_channels else sub).reshape(b, t * fine, -1)
            if self.config.mel_channels:  # the CNN's features also reach the cell rate
                h = h + s.reshape(b, t, fine, -1).mean(2)
        gamma, beta = self.film(queries).chunk(2, dim=-1)  # [B, Q, H]
        z = h[:, None] * (1 + gamma[:, :, None]) + beta[:, :, None]  # [B, Q, T, H]
        z = F.gelu(self.temporal(z.reshape(b * q, t, -1).transpose(1, 2))).transpose(1, 2)  # [BQ, T, H]
        if fine > 1:
            s = s[:, None]  # [B, 1, T * fine, H]
            if self.config.mel_channels:  # and are modulated by the query
                gamma, beta = self.sub_film(queries).chunk(2, dim=-1)
                s = s * (1 + gamma[:, :, None]) + beta[:, :, None]  # [B, Q, T * fine, H]
            z = z.reshape(b, q, t, -1).repeat_interleave(fine, dim=2) + s
            z = F.gelu(self.sub_temporal(z.reshape(b * q, t * fine, -1).transpose(1, 2))).transpose(1, 2)
        head = self.out(z).reshape(b, q, t * fine)
        cos_towers = torch.einsum("btd,bqd->bqt", towers, queries).repeat_interleave(fine, dim=2)
        cos_bridge = torch.einsum("btd,bqd->bqt", bridge, queries).repeat_interleave(fine, dim=2)
        return self.config.head_scale * head + self.mix[0] * cos_towers + self.mix[1] * cos_bridge + self.bias

    @torch.no_grad()
    def probabilities(
        self, frames: torch.Tensor, queries: torch.Tensor, views: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> np.ndarray:
        """Frame probabilities ``[Q, T * fine]`` of one clip's frames for query vectors ``[Q, joint]`` (before the
        median filter); ``views``: the frames' :meth:`frame_views`, when known. One clip at a time: a clip's
        scores never depend on another's."""
        self.eval()
        towers, bridge = views if views is not None else self.frame_views(frames)
        return torch.sigmoid(self(frames[None], towers[None], bridge[None], queries[None]))[0].numpy()

    def detect(
        self, wave: np.ndarray, queries: list[str], threshold: float | None = None, vectors: torch.Tensor | None = None
    ) -> list[dict]:
        """Per query: ``{"query", "events": [{onset, offset, score}], "scores": filtered frame probabilities}``.
        ``threshold`` replaces the model's (its ``low_threshold`` stays, never above it). ``vectors``: the
        queries' :meth:`embed_queries`, when several files are asked the same queries."""
        vectors = self.embed_queries(queries) if vectors is None else vectors
        return self._events(self.frames(wave), len(wave), queries, threshold, vectors)

    def detect_files(
        self,
        paths: list[str],
        queries: list[str],
        threshold: float | None = None,
        segments: list[tuple[float, float | None]] | None = None,
    ) -> Iterator[tuple[str, float, list[dict] | AudioError]]:
        """``(path, seconds, what`` :meth:`detect` ``gives)`` for each file (or its ``(offset, duration)``
        segment, one per path, from a manifest) in order; a file that cannot be read gives its
        :class:`AudioError` and 0 seconds. Decoding and the audio tower run a few files ahead on a second thread
        while the head scores the file in hand, so both cores are at work (56 against 45 ten-second clips/s one
        after another, in ``bench_sed.py``)."""
        from almkit.audio.io import load_audio
        from almkit.encoders.embed import prefetch

        vectors, rate = self.embed_queries(queries), self.towers.audio_encoder.sample_rate
        spans = segments if segments is not None else [(0.0, None)] * len(paths)

        def frames(item: tuple[str, tuple[float, float | None]]) -> tuple[torch.Tensor, int]:
            path, (offset, duration) = item
            wave = load_audio(path, rate, offset, duration)
            return self.frames(wave), len(wave)

        for (path, _), done in prefetch(list(zip(paths, spans, strict=True)), frames, depth=4):
            if isinstance(done, AudioError):
                yield path, 0.0, done
            else:
                yield path, done[1] / rate, self._events(*done, queries, threshold, vectors)

    def _events(
        self, frames: torch.Tensor, samples: int, queries: list[str], threshold: float | None, vectors: torch.Tensor
    ) -> list[dict]:
        c = self.config
        threshold = c.threshold if threshold is None else threshold
        duration = samples / self.towers.audio_encoder.sample_rate
        probs = median_filter(self.probabilities(frames, vectors), c.median)
        return [
            {"query": q, "events": events_from(p, c.frame_s, threshold, duration, c.low_threshold), "scores": p}
            for q, p in zip(queries, probs, strict=True)
        ]
