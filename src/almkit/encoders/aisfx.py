"""aisfx: a 9-layer CNN trained across sound-effects libraries (ISMIR 2022), 512-d embeddings.

Rebuilt here from the weights in the pinned ``aisfx`` wheel (converted once to safetensors; the network's
widths are read off the tensors and checked against ``aisfx.json``). Front-end as the package's librosa path
(``aisfx/spectrogram/spectrogram_librosa.py``; matched to 3e-7 in the tests): 44.1 kHz, peak-normalised,
2048-point periodic-Hann STFT power every 1024 samples (centred, zero padding), 96 HTK mel bands
(unit-sum filters, 0-22050 Hz), ``log10(1e4 * mel + 1)`` divided by the paper's range (9.4578); one
100-frame block (2.3 s) per chunk, half-block hop as in the paper.

Two deliberate differences from the package: the peak normalisation is per chunk, not per file (a chunk's
embedding depends on that chunk only, as for every almkit encoder), and the last partial block is kept,
zero-padded (the package drops it by default), so no audio is ignored.
"""

from __future__ import annotations

import json

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from almkit.assets import require
from almkit.audio.chunking import ChunkPolicy
from almkit.encoders.base import AudioEncoder
from almkit.errors import CheckpointError

SAMPLE_RATE, NFFT, HOP, MELS, BLOCK, SPEC_MAX = 44_100, 2048, 1024, 96, 100, 9.457798957824707


def htk_mel_l1(sr: int = SAMPLE_RATE, n_fft: int = NFFT, n_mels: int = MELS) -> np.ndarray:
    """``[n_mels, n_fft//2 + 1]`` triangles on the HTK mel scale, each normalised to unit sum (librosa norm=1)."""
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel = np.linspace(0, 2595.0 * np.log10(1 + (sr / 2) / 700.0), n_mels + 2)
    hz = 700.0 * (10 ** (mel / 2595.0) - 1)
    ramps = hz[:, None] - freqs[None, :]
    fdiff = np.diff(hz)
    w = np.maximum(0, np.minimum(-ramps[:-2] / fdiff[:-1, None], ramps[2:] / fdiff[1:, None]))
    return (w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)).astype(np.float32)


class ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(cout), nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.max_pool2d(x, pool) if pool > 1 else x


class EmbeddingNet(nn.Module):
    def __init__(self, width: int = 64):
        super().__init__()
        self.conv_block1 = ConvBlock(1, width)
        self.conv_block2 = ConvBlock(width, width * 2)
        self.conv_block3 = ConvBlock(width * 2, width * 4)
        self.conv_block4 = ConvBlock(width * 4, width * 8)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:  # [B, time, mels]
        x = spec.unsqueeze(1)
        for block, pool in ((self.conv_block1, 2), (self.conv_block2, 2), (self.conv_block3, 2), (self.conv_block4, 1)):
            x = block(x, pool)
        return x.mean(dim=3).max(dim=2).values


class AisfxEncoder(nn.Module, AudioEncoder):
    name = "aisfx"
    sample_rate = SAMPLE_RATE
    embed_dim = 512
    policy = ChunkPolicy(window_s=(BLOCK - 1) * HOP / SAMPLE_RATE, hop_s=(BLOCK // 2) * HOP / SAMPLE_RATE)

    def __init__(self, trainable: bool = False):
        super().__init__()
        path = require("aisfx")
        state = {k.removeprefix("embedding_net."): v for k, v in load_file(str(path)).items()}
        width = int(state["conv_block1.conv1.weight"].shape[0])
        hparams = json.loads(path.with_suffix(".json").read_text())
        front = hparams["frontend"]
        expected = (SAMPLE_RATE, NFFT, HOP, MELS, BLOCK, SPEC_MAX, 64)
        found = (front["sample_rate"], front["n_fft"], front["hop"], front["n_mels"], front["block_frames"])
        if found + (front["spec_max"], hparams["embedding_net"]["width"]) != expected or width != 64:
            raise CheckpointError(
                f"aisfx hyper-parameters {found} / width {width} differ from the front-end almkit implements",
                source=path,
                hint="run `almkit assets pull aisfx --force`",
            )
        self.embedding_net = EmbeddingNet(width)
        self.embedding_net.load_state_dict(state, strict=True)
        self.register_buffer("mel", torch.from_numpy(htk_mel_l1()), persistent=False)
        self.register_buffer("hann", torch.hann_window(NFFT, periodic=True), persistent=False)
        self.trainable = trainable
        self.requires_grad_(trainable)
        self.eval()

    def spectrogram(self, chunks: torch.Tensor) -> torch.Tensor:
        peak = chunks.abs().amax(dim=1, keepdim=True)
        x = chunks / torch.where(peak > 0, peak, torch.ones_like(peak))
        spec = torch.stft(x, NFFT, HOP, window=self.hann, center=True, pad_mode="constant", return_complex=True)
        power = spec.abs().pow(2)  # [B, freq, time]
        mel = torch.einsum("mf,bft->btm", self.mel, power)
        return torch.log10(mel * 10_000.0 + 1) / SPEC_MAX

    def encode_chunks(self, chunks: torch.Tensor) -> torch.Tensor:
        return self.embedding_net(self.spectrogram(chunks))
