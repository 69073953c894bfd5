"""A language-queried source separator: give me only "the drums".

A mask network on the short-time Fourier transform, conditioned on the query by FiLM:

* the mixture's STFT (512-point Hann window, hop 128, 16 kHz: 257 bins every 8 ms); its log-magnitude goes in,
  a mask in [0, 1] for every bin comes out and is applied to the complex STFT (the mixture's phase is kept);
* the query is embedded by the Two-Towers text tower and projection (frozen, shared with the other models), and
  every block's activations are scaled and shifted by a linear map of it (FiLM, Perez et al., 2018);
* the network is a stack of residual blocks over time: pointwise convolutions mix the frequency channels, and
  dilated depthwise convolutions (dilations 1 to 32, twice) see about 2 s of context;
* with ``match``, it also reads *when* the query sounds: the Two-Towers cosine between the query and the audio
  tower's window centred on each ``match_hop_s`` cell (as the detector scores frames), interpolated to the STFT
  frames, enters as one more input channel. The towers were trained on far more kinds of sound than the
  separator's mixtures hold, so this tells the network where a sound it never heard is;
* with several ``query_templates`` (``"{}"`` is the query as written; ``"the sound of {}"`` is close to the
  towers' prompt, in which they learnt their labels), the query vector is the unit mean of the query's embedding
  in each (prompt ensembling, as CLIP's zero-shot classifier does); with ``passes`` above one, the estimate is
  separated again, its match track read from the estimate itself (on validation this beat reusing the
  mixture's track). Both are inference settings, chosen on validation with the fallback below.

The network is convolutional in time, so a long file is separated in windows overlapping by more than the
receptive field, each keeping only its middle: the result matches a whole-file pass (no seams). Training
minimises the negative SI-SDR of the waveform (see :mod:`almkit.training.separator`).

**Fallback.** When the network finds almost nothing of the query (its estimate's energy falls below
``fallback_floor_db`` relative to the mixture), the estimate is often of a sound it never heard and failed to
find: on the validation queries, whose sounds are all there, such near-silent estimates were most of the worst
answers (SI-SDR far below the mixture's own). The estimate then takes in a share of the mixture that grows
from 0 to ``fallback_mix`` over ``fallback_width_db`` below the floor. The three are chosen on validation
(``recipes/separator.py --postprocess-only``); ``fallback_mix = 0`` turns it off. The cost: a query for an absent
sound returns that share of the mixture (the shipped 0.05: 26 dB down) rather than silence. The energies are
those of the whole input, after the last pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from almkit.architectures.on_towers import OnTowers
from almkit.errors import ConfigError


@dataclass
class SeparatorConfig:
    towers: str = "default"  # the Two-Towers model whose text tower and projection embed the query
    towers_sha256: str = ""
    sample_rate: int = 16_000
    n_fft: int = 512
    hop: int = 128
    channels: int = 256
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 1, 2, 4, 8, 16, 32)
    window_s: float = 20.0  # inference window for long files
    match: bool = False  # read the towers' per-cell match of the query (see the module docstring)
    match_hop_s: float = 0.24
    query_templates: tuple[str, ...] = ("{}",)  # the query vector: the unit mean over these (module docstring)
    passes: int = 1  # each pass separates the previous one's estimate (module docstring)
    fallback_mix: float = 0.0  # the largest share of the mixture in a collapsed estimate (module docstring)
    fallback_floor_db: float = -20.0
    fallback_width_db: float = 5.0
    architecture: str = "Separator"

    def validate(self) -> SeparatorConfig:
        if self.architecture != "Separator":
            raise ConfigError(f"architecture must be 'Separator', not {self.architecture!r}")
        if self.hop <= 0 or self.n_fft < self.hop or self.channels <= 0 or not self.dilations:
            raise ConfigError("n_fft >= hop > 0, channels > 0 and at least one dilation are needed")
        if not 0 < self.match_hop_s <= 1:
            raise ConfigError(f"match_hop_s must be in (0, 1] seconds, not {self.match_hop_s}")
        if not self.query_templates or any(t.count("{}") != 1 for t in self.query_templates):
            raise ConfigError(f"query_templates must each hold '{{}}' once, not {list(self.query_templates)}")
        if self.passes < 1:
            raise ConfigError(f"passes must be at least 1, not {self.passes}")
        if not 0 <= self.fallback_mix <= 1 or self.fallback_width_db <= 0:
            raise ConfigError("fallback_mix must be in [0, 1] and fallback_width_db above 0")
        return self

    @property
    def receptive_frames(self) -> int:
        return 1 + 2 * sum(self.dilations)


class _FrameNorm(nn.LayerNorm):
    """Layer norm over the channels of each frame ``[B, C, T]``: no statistic spans time, so a window of a long
    file is processed as it would be inside the whole file."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class _Block(nn.Module):
    def __init__(self, channels: int, dilation: int, cond: int):
        super().__init__()
        self.norm = _FrameNorm(channels)
        self.depthwise = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation, groups=channels)
        self.pointwise = nn.Conv1d(channels, channels, 1)
        self.film = nn.Linear(cond, 2 * channels)

    def forward(self, x: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.film(query).unsqueeze(-1).chunk(2, dim=1)
        h = self.depthwise(F.gelu(self.norm(x)))
        h = h * (1 + gamma) + beta
        return x + self.pointwise(F.gelu(h))


class QueriedSeparator(OnTowers):
    """``separate(wave, query) -> (target, residual)``; ``forward(mixtures, queries) -> estimates`` for training."""

    kind, config_class, shipped, recipe = "Separator", SeparatorConfig, "pretrained/separator", "recipes/separator.py"

    def __init__(self, config: SeparatorConfig, towers=None):
        super().__init__(config, towers)
        bins, c, cond = config.n_fft // 2 + 1, config.channels, self.towers.config.embed_dim
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        self.inp = nn.Conv1d(bins, c, 1)
        self.blocks = nn.ModuleList(_Block(c, d, cond) for d in config.dilations)
        self.out = nn.Conv1d(c, bins, 1)
        if config.match:
            if self.towers.audio_encoder.sample_rate != config.sample_rate:
                raise ConfigError(f"match needs a Two-Towers audio tower at {config.sample_rate} Hz")
            self.match_in = nn.Conv1d(1, c, 1)

    def embed_queries(self, queries: list[str]) -> torch.Tensor:
        """``[Q, joint]``: the queries through the Two-Towers text tower and projection, in each of
        ``query_templates``, the unit mean of the templates' vectors."""
        templates = self.config.query_templates
        vectors = torch.from_numpy(self.towers.embed_text([t.format(q) for t in templates for q in queries]))
        if len(templates) == 1:
            return vectors
        return F.normalize(vectors.reshape(len(templates), len(queries), -1).mean(0), dim=-1)

    def _stft(self, wave: torch.Tensor) -> torch.Tensor:
        c = self.config
        return torch.stft(wave, c.n_fft, c.hop, window=self.window, center=True, return_complex=True)

    @torch.no_grad()
    def cells(self, wave: np.ndarray) -> torch.Tensor:
        """``[T, joint]``: the towers' projection of a window centred on each ``match_hop_s`` cell of ``wave``."""
        from almkit.encoders.batching import fixed_blocks
        from almkit.encoders.embed import frame_rows

        rows = frame_rows(self.towers.audio_encoder, np.asarray(wave, np.float32), self.config.match_hop_s, True)
        return fixed_blocks(self.towers.project_audio, rows)

    def track(self, cells: torch.Tensor, query: torch.Tensor, start: int, frames: int) -> torch.Tensor:
        """``[frames]``: the query's cosine with ``cells`` (``[T, joint]``, of the whole wave) at the STFT frames
        of a part starting at sample ``start``, linearly interpolated between cell centres."""
        c = self.config
        cosine = cells @ query
        seconds = (start + torch.arange(frames) * c.hop) / c.sample_rate  # the frames' centres
        position = (seconds / c.match_hop_s - 0.5).clamp(0, len(cosine) - 1)
        low = position.floor().long()
        w = position - low
        return cosine[low] * (1 - w) + cosine[(low + 1).clamp(max=len(cosine) - 1)] * w

    def forward(self, mixtures: torch.Tensor, queries: torch.Tensor, tracks: torch.Tensor | None = None):
        """Estimates ``[B, S]`` of waves ``[B, S]`` for query vectors ``[B, joint]`` (and, with ``match``, their
        :meth:`track` ``[B, frames]``)."""
        spec = self._stft(mixtures)  # [B, bins, frames]
        x = self.inp(torch.log1p(spec.abs()))
        if self.config.match:
            x = x + self.match_in(10 * tracks[:, None])  # cosines of 0.1-0.5 as inputs of order one
        for block in self.blocks:
            x = block(x, queries)
        mask = torch.sigmoid(self.out(x))
        c = self.config
        return torch.istft(spec * mask, c.n_fft, c.hop, window=self.window, center=True, length=mixtures.shape[-1])

    @torch.no_grad()
    def separate(self, wave: np.ndarray, query: str) -> tuple[np.ndarray, np.ndarray]:
        """``(target, residual)`` of a mono wave at ``sample_rate``, in ``passes`` passes, then the fallback."""
        self.eval()
        q = self.embed_queries([query])
        x = torch.from_numpy(np.asarray(wave, np.float32))
        target = x
        for _ in range(self.config.passes):
            target = self._pass(target, q)
        target = self.fallback(target.numpy(), x.numpy())
        return target, x.numpy() - target

    def _pass(self, x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """One pass of the network over ``x``; long waves in windows whose overlap covers the receptive field,
        each keeping its middle, so the result does not depend on where the windows fall."""
        c = self.config
        cells = self.cells(x.numpy()) if c.match else None

        def run(a: int, b: int) -> torch.Tensor:
            track = self.track(cells, q[0], a, 1 + (b - a) // c.hop)[None] if c.match else None
            return self(x[None, a:b], q, track)[0]

        window = int(c.window_s * c.sample_rate)
        margin = (c.receptive_frames // 2 + 2) * c.hop  # samples a window's edge can influence, and more
        if len(x) <= window:
            target = run(0, len(x))
        else:
            target = torch.zeros_like(x)
            step = window - 2 * margin
            for start in range(0, len(x), step):
                a, b = max(0, start - margin), min(len(x), start + step + margin)
                part = run(a, b)
                target[start : min(len(x), start + step)] = part[start - a : start - a + min(step, len(x) - start)]
        return target

    def fallback_share(self, target: np.ndarray, mixture: np.ndarray) -> float:
        """The share of ``mixture`` a ``target`` takes in (module docstring): 0 above the floor."""
        c = self.config
        ratio_db = 10 * np.log10((np.square(target).sum() + 1e-12) / (np.square(mixture).sum() + 1e-12))
        return float(c.fallback_mix * np.clip((c.fallback_floor_db - ratio_db) / c.fallback_width_db, 0, 1))

    def fallback(self, target: np.ndarray, mixture: np.ndarray) -> np.ndarray:
        """``target`` with its :meth:`fallback_share` of ``mixture``."""
        share = self.fallback_share(target, mixture)
        return target if share == 0 else ((1 - share) * target + share * mixture).astype(np.float32)
