"""Training the language-queried separator on mixtures with their stems (scenes, bank mixtures).

A step draws ``batch`` (mixture, target, query) triples: a mixture of at least two labels, one of them, and as
the query either that label in the Two-Towers prompt or, when one stem holds it, the stem's caption; the target
is the sum of the mixture's stems of that label. Longer mixtures are cut to ``seconds`` at random (the target
and the rest must sound in the cut). A share ``dynamic`` of each batch is instead mixed afresh (dynamic mixing,
as in WHAM!/SepFormer training): 2-4 stems of different labels, drawn from every training mixture (a scene's
violin beside a bank's tractor), each cut where it sounds, placed at random and brought to a common level with a
random gain, as :func:`almkit.data.mixtures.build_mixtures` mixes. The fixed mixtures alone are learnt by heart
(validation fell after about half of the steps); fresh combinations keep the network listening. A model with
``match`` reads the query's track over the towers' cells of the whole mixture (computed once per fixed mixture
before training, and for each fresh one as it is drawn), as it does at inference. The loss is the negative
SI-SDR of the estimated waveform, soft-capped at 30 dB. Every ``every`` steps the mean SI-SDR improvement over a
fixed set of validation triples is measured (by ``separate``, as at inference), and the best weights are kept.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import torch

from almkit.architectures.queried_separator import QueriedSeparator
from almkit.data.manifest import Clip
from almkit.data.mixtures import levelled, placed, sounding
from almkit.errors import ConfigError
from almkit.metrics.functional import si_sdr


@dataclass
class Mixture:
    """A mixture and its stems as 16-bit samples, the stems' labels and captions."""

    id: str
    mixture: np.ndarray
    stems: list[np.ndarray]
    labels: list[str]
    captions: list[str]

    def target(self, label: str) -> np.ndarray:
        return np.sum([s.astype(np.float32) for s, lab in zip(self.stems, self.labels, strict=True) if lab == label],
                      axis=0) / 32768  # fmt: skip

    def query(self, label: str, prompt: str, rng: random.Random) -> str:
        """The label in the prompt, or the caption of the one stem that holds it (at random)."""
        captions = [c for c, lab in zip(self.captions, self.labels, strict=True) if lab == label]
        return captions[0] if len(captions) == 1 and rng.random() < 0.5 else prompt.format(label)


def load_mixtures(clips: list[Clip]) -> list[Mixture]:
    """Mixtures of clips whose stems are their events, in order (scene builds, :mod:`almkit.data.mixtures`)."""
    out = []
    for clip in clips:
        if not clip.stems or len(clip.stems) != len(clip.events):
            continue
        mixture, _ = sf.read(clip.audio_path, dtype="int16")
        stems = [sf.read(s.audio_path, dtype="int16")[0] for s in clip.stems]
        out.append(Mixture(clip.id, mixture, stems, [e.label for e in clip.events], [s.caption for s in clip.stems]))
    return out


@dataclass
class Source:
    """One stem where it sounds (16-bit samples), with its label and caption: a part for dynamic mixing."""

    wave: np.ndarray
    label: str
    caption: str


def sources_of(mixtures: list[Mixture], rate: int) -> dict[str, list[Source]]:
    """Every stem of ``mixtures`` that sounds for at least a quarter of a second, trimmed to where it sounds, by
    label."""
    out: dict[str, list[Source]] = {}
    for m in mixtures:
        for stem, label, caption in zip(m.stems, m.labels, m.captions, strict=True):
            a, b = sounding(stem.astype(np.float32) / 32768, rate)
            if b - a >= rate // 4:
                out.setdefault(label, []).append(Source(stem[a:b], label, caption))
    if len(out) < 2:
        raise ConfigError(f"dynamic mixing needs stems of at least two labels, not {len(out)}",
                          hint="train on mixtures with stems of several labels, or set dynamic to 0")  # fmt: skip
    return out


def dynamic_mixture(
    sources: dict[str, list[Source]], length: int, rng: random.Random
) -> tuple[np.ndarray, list[np.ndarray], list[Source]]:
    """A fresh mixture of ``length`` samples: 2-4 labels drawn alike, a source of each cut to ``length`` at
    random (from its start if the cut is silent), placed at a random onset, at an RMS of 0.1 with a gain of up to
    ``mixtures.GAIN_DB``; scaled together if it would clip. Returns the mixture, its placed stems and their sources."""
    labels = rng.sample(sorted(sources), min(rng.randint(2, 4), len(sources)))
    chosen = [rng.choice(sources[label]) for label in labels]
    stems = []
    for s in chosen:
        start = rng.randrange(0, max(1, len(s.wave) - length + 1))
        if not np.any(np.abs(s.wave[start : start + length]) > 3):  # 16-bit samples: about -80 dB
            start = 0  # a trimmed stem sounds at its start
        stems.append(placed(levelled(s.wave[start : start + length].astype(np.float32) / 32768, rng), length, rng)[0])
    mixture = np.sum(stems, axis=0)
    scale = min(1.0, 0.9 / max(float(np.abs(mixture).max()), 1e-9))
    return mixture * scale, [stem * scale for stem in stems], chosen


def si_sdr_loss(estimate: torch.Tensor, reference: torch.Tensor, cap_db: float = 30.0) -> torch.Tensor:
    """Mean negative SI-SDR (dB) of estimates against references ``[B, S]`` (means removed), soft-capped at
    ``cap_db`` (the error's energy floored at ``10^(-cap/10)`` of the target's, as in MixIT): items that are
    already separated stop pulling the gradient their way."""
    estimate = estimate - estimate.mean(-1, keepdim=True)
    reference = reference - reference.mean(-1, keepdim=True)
    scale = (estimate * reference).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True) + 1e-8)
    target = scale * reference
    energy = target.pow(2).sum(-1)
    error = (estimate - target).pow(2).sum(-1) + 10 ** (-cap_db / 10) * energy
    return -10 * torch.log10(energy / (error + 1e-8) + 1e-8).mean()


@dataclass
class SeparatorTrainConfig:
    steps: int = 3000
    batch: int = 16
    seconds: float = 4.0
    lr: float = 1e-3
    every: int = 250
    max_minutes: float = 110.0  # the shipped default trains in at most 2 hours on 2 cores
    dynamic: float = 0.0  # the share of each batch mixed afresh from single stems (module docstring)
    seed: int = 0

    def __post_init__(self):
        if not 0 <= self.dynamic <= 1:
            raise ConfigError(f"dynamic must be a share in [0, 1], not {self.dynamic}")


def validation_triples(mixtures: list[Mixture], prompt: str, n: int, seed: int) -> list[tuple[Mixture, str, str]]:
    """``n`` fixed (mixture, label, query) triples."""
    rng = random.Random(seed)
    pairs = [(m, lab) for m in mixtures if len(set(m.labels)) > 1 for lab in sorted(set(m.labels))]
    chosen = rng.sample(pairs, min(n, len(pairs)))
    return [(m, lab, m.query(lab, prompt, rng)) for m, lab in chosen]


@torch.no_grad()
def validation_si_sdri(model: QueriedSeparator, triples) -> float:
    gains = []
    for m, label, query in triples:
        mix = m.mixture.astype(np.float32) / 32768
        estimate = model.separate(mix, query)[0]
        target = m.target(label)
        gains.append(si_sdr(estimate, target) - si_sdr(mix, target))
    return float(np.mean(gains))


def _batch(model, train, sources, cells, config, rng, prompt, rate):
    """``config.batch`` (mixture, target, query, cells, start) items: the first ``dynamic`` share mixed afresh
    from ``sources``, the rest cut from the fixed ``train`` mixtures (``cells``: their towers' cells, with
    ``match``)."""
    length = int(config.seconds * rate)
    items = []
    for _ in range(round(config.dynamic * config.batch)):
        mix, stems, parts = dynamic_mixture(sources, length, rng)
        k = rng.randrange(len(parts))
        query = parts[k].caption if rng.random() < 0.5 else prompt.format(parts[k].label)
        items.append((mix, stems[k], query, model.cells(mix) if model.config.match else None, 0))
    while len(items) < config.batch:
        m = rng.choice(train)
        if len(set(m.labels)) < 2:
            continue  # one label: the target would be the mixture itself
        label = rng.choice(sorted(set(m.labels)))
        target = m.target(label)
        start = rng.randrange(0, max(1, len(m.mixture) - length + 1))
        cut = slice(start, start + length)
        rest = m.mixture[cut].astype(np.float32) / 32768 - target[cut]
        if np.square(target[cut]).sum() < 0.05 * np.square(target).sum() or not np.any(target[cut]) or not np.any(rest):
            continue  # the target must sound in the cut, and something else too
        mix = np.zeros(length, np.float32)
        tgt = np.zeros(length, np.float32)
        piece = m.mixture[cut].astype(np.float32) / 32768
        mix[: len(piece)], tgt[: len(piece)] = piece, target[cut]
        items.append((mix, tgt, m.query(label, prompt, rng), cells.get(m.id), start))
    mixes, targets, queries, item_cells, starts = zip(*items, strict=True)
    return torch.from_numpy(np.stack(mixes)), torch.from_numpy(np.stack(targets)), list(queries), item_cells, starts


def train_separator(
    model: QueriedSeparator,
    train: list[Mixture],
    validation,
    config: SeparatorTrainConfig,
    progress: bool = True,
) -> dict:
    """Train in place; keeps the weights with the best validation SI-SDRi. Returns a log."""
    from rich.progress import Progress
    from rich.progress import track as track_progress

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    prompt, rate = model.towers.config.prompt, model.config.sample_rate
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=1e-2)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=config.steps, pct_start=0.05)
    cache: dict[str, torch.Tensor] = {}
    cells = {}
    if model.config.match:
        for m in track_progress(train, "the towers' cells of the mixtures", disable=not progress, transient=True):
            cells[m.id] = model.cells(m.mixture.astype(np.float32) / 32768)
    frames = 1 + int(config.seconds * rate) // model.config.hop
    sources = sources_of(train, rate) if config.dynamic else {}
    best = (validation_si_sdri(model, validation), 0, {k: v.clone() for k, v in model.state_dict().items()})
    log = {"validation_si_sdri": [[0, round(best[0], 3)]], "loss": []}
    started, losses = time.time(), []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("training the separator", total=config.steps)
        for step in range(1, config.steps + 1):
            model.train()
            mixes, targets, queries, item_cells, starts = _batch(
                model, train, sources, cells, config, rng, prompt, rate
            )
            missing = [q for q in dict.fromkeys(queries) if q not in cache]
            if missing:
                cache.update(zip(missing, model.embed_queries(missing), strict=True))
            vectors = torch.stack([cache[q] for q in queries])
            tracks = None
            if model.config.match:
                items = zip(item_cells, starts, vectors, strict=True)
                tracks = torch.stack([model.track(c, v, start, frames) for c, start, v in items])
            estimate = model(mixes, vectors, tracks)
            loss = si_sdr_loss(estimate, targets)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            bar.advance(task)
            out_of_time = (time.time() - started) / 60 > config.max_minutes
            if step % config.every == 0 or step == config.steps or out_of_time:
                gain = validation_si_sdri(model, validation)
                log["validation_si_sdri"].append([step, round(gain, 3)])
                log["loss"].append([step, round(float(np.mean(losses)), 3)])
                losses = []
                if gain > best[0]:
                    best = (gain, step, {k: v.clone() for k, v in model.state_dict().items()})
            if out_of_time:
                break
    model.load_state_dict(best[2])
    log.update(best_step=best[1], steps=step, minutes=round((time.time() - started) / 60, 1))
    return log


FALLBACK_MIX = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)
FALLBACK_FLOOR_DB = (-25.0, -20.0, -15.0, -10.0, -5.0)
FALLBACK_WIDTH_DB = (5.0, 10.0, 20.0)
QUERY_TEMPLATES = (("{}",), ("{}", "the sound of {}"))  # as written; and with the towers' kind of text
PASSES = (1, 2)
FALLBACK_KEYS = ("fallback_mix", "fallback_floor_db", "fallback_width_db")


@torch.no_grad()
def choose_inference(model: QueriedSeparator, sets: list[list[Clip]], progress: bool = True) -> dict:
    """Set the model's inference settings (``query_templates``, ``passes`` and the fallback: ``fallback_mix``,
    ``fallback_floor_db``, ``fallback_width_db``) to the best mean over ``sets`` (validation clips with stems; each
    set weighs the same) of their mean SI-SDR improvement, every stem caption asked for as the benchmark asks
    (:func:`almkit.tasks.separation.queries`). Each pair of :data:`QUERY_TEMPLATES` and :data:`PASSES` gets its
    own best fallback. The queries are read once, and each pass separates the previous pass's estimates (as
    ``separate`` does in several passes). Returns the chosen settings, their fallback's report and the validation
    gains of every pair tried."""
    from rich.progress import track

    from almkit.tasks.separation import load_queries

    config, tried = model.config, []
    asked = [(k, q) for k, clips in enumerate(sets) for clip in clips if clip.stems
             for q in load_queries(clip, config.sample_rate)[0]]  # fmt: skip
    for templates in QUERY_TEMPLATES:
        config.query_templates, config.passes = templates, 1
        estimates = [q.mixture for _, q in asked]
        for passes in range(1, max(PASSES) + 1):
            config.fallback_mix = 0.0  # estimates without it: best_fallback scores it, and leaves one in config
            label = f"separating: {len(templates)} template(s), pass {passes}"
            work = track(list(zip(estimates, asked, strict=True)), label, disable=not progress)
            estimates = [model.separate(e, q.caption)[0] for e, (_, q) in work]
            if passes in PASSES:
                rows = [[(e, q.reference, q.mixture) for e, (j, q) in zip(estimates, asked, strict=True) if j == k]
                        for k in range(len(sets))]  # fmt: skip
                tried.append((templates, passes, best_fallback(model, rows)))
    templates, passes, fallback = max(tried, key=lambda t: t[2]["mean_si_sdri"])
    config.query_templates, config.passes = templates, passes
    for k in FALLBACK_KEYS:
        setattr(config, k, fallback[k])
    return {"query_templates": list(templates), "passes": passes, **fallback,
            "tried": [{"query_templates": list(t), "passes": n, **{k: f[k] for k in FALLBACK_KEYS},
                       "validation_si_sdri": f["validation_si_sdri"]} for t, n, f in tried]}  # fmt: skip


def best_fallback(model: QueriedSeparator, per_set: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]]) -> dict:
    """The fallback of the best mean over the sets of ``(estimate without fallback, reference, mixture)`` rows
    (each set weighs the same); leaves it in the model's config. Returns the chosen values and the gain of each
    set with and without it."""
    config = model.config
    scored = {}  # (set, query, share of the mixture) -> SI-SDRi: most estimates never reach the floor

    def gain(k: int, j: int, e: np.ndarray, r: np.ndarray, m: np.ndarray) -> float:
        share = model.fallback_share(e, m)
        if (k, j, share) not in scored:
            scored[k, j, share] = si_sdr(model.fallback(e, m), r) - si_sdr(m, r)
        return scored[k, j, share]

    def gains(mix_share: float, floor: float, width: float) -> list[float]:
        config.fallback_mix, config.fallback_floor_db, config.fallback_width_db = mix_share, floor, width
        return [float(np.mean([gain(k, j, *row) for j, row in enumerate(rows)])) for k, rows in enumerate(per_set)]

    off = gains(0.0, FALLBACK_FLOOR_DB[0], FALLBACK_WIDTH_DB[0])
    best = (float(np.mean(off)), (0.0, FALLBACK_FLOOR_DB[0], FALLBACK_WIDTH_DB[0]), off)
    for values in [(m, f, w) for m in FALLBACK_MIX[1:] for f in FALLBACK_FLOOR_DB for w in FALLBACK_WIDTH_DB]:
        g = gains(*values)
        if np.mean(g) > best[0]:
            best = (float(np.mean(g)), values, g)
    config.fallback_mix, config.fallback_floor_db, config.fallback_width_db = best[1]
    return {"fallback_mix": best[1][0], "fallback_floor_db": best[1][1], "fallback_width_db": best[1][2],
            "mean_si_sdri": best[0], "validation_si_sdri": [round(g, 2) for g in best[2]],
            "without": [round(g, 2) for g in off], "queries": [len(rows) for rows in per_set]}  # fmt: skip
