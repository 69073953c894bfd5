"""One training engine for every architecture: Lightning Fabric, so the same loop runs on one process
or under DDP (``devices=2`` on CPU uses gloo), on the CPU or a CUDA GPU (``accelerator``).

A model plugs in by being an ``nn.Module`` with ``training_step(batch) -> loss``. The engine owns the rest:
deterministic data order (a function of seed, epoch and rank, so a resumed run sees exactly the batches
the uninterrupted run would have), per-step seeding, warm-up + cosine learning rate, gradient clipping,
a rich progress bar, ``metrics.jsonl`` logging, and safetensors checkpoints it resumes from.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from almkit.errors import ConfigError
from almkit.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint


@dataclass
class TrainConfig:
    """Everything that defines a training run besides the model and the data."""

    out_dir: str = "runs/train"
    max_steps: int | None = None
    epochs: int = 1
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 0
    seed: int = 0
    accelerator: str = "auto"  # auto (a CUDA GPU when there is one), cpu or cuda
    devices: int = 1
    strategy: str = "auto"
    num_workers: int = 0
    log_every: int = 10
    checkpoint_every: int = 0
    grad_clip: float | None = 1.0
    progress: bool = True
    extend: bool = False  # resume a run whose schedule had another length (recomputed for the new total)

    def validate(self) -> None:
        """Raise ConfigError naming the first bad value."""
        checks = {
            "batch_size": self.batch_size >= 1,
            "epochs": self.epochs >= 1,
            "lr": self.lr > 0,
            "accelerator": self.accelerator in ("auto", "cpu", "cuda"),
            "devices": self.devices >= 1,
            "max_steps": self.max_steps is None or self.max_steps >= 1,
            "warmup_steps": self.warmup_steps >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"invalid training setting {name}={getattr(self, name)!r}")


@dataclass
class TrainResult:
    steps: int
    last_loss: float
    checkpoint_dir: Path
    is_global_zero: bool = True


class ShardedEpochSampler(Sampler[int]):
    """Shuffles with ``seed + epoch``, pads to a multiple of the world size, gives rank ``r`` every r-th index,
    and can skip the batches a resumed run has already consumed."""

    def __init__(self, n: int, seed: int, rank: int, world: int):
        self.n, self.seed, self.rank, self.world = n, seed, rank, world
        self.epoch = 0
        self.skip = 0

    def per_rank(self) -> int:
        return math.ceil(self.n / self.world)

    def __len__(self) -> int:
        return self.per_rank() - self.skip

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        order += order[: self.per_rank() * self.world - self.n]
        return iter(order[self.rank :: self.world][self.skip :])


def _lr_factor(step: int, warmup: int, total: int) -> float:
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def fit(
    module: torch.nn.Module,
    dataset: Dataset,
    config: TrainConfig,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    run_info: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``module`` on ``dataset``; resumes from the newest checkpoint in ``config.out_dir``. The module
    trains on ``config.accelerator`` and is returned on the CPU."""
    import lightning as L

    config.validate()
    if len(dataset) == 0:
        raise ConfigError("the training set is empty", hint="check the manifest and its split")
    strategy = config.strategy
    if strategy == "auto":
        strategy = "ddp" if config.devices > 1 else "auto"
    from almkit.device import resolve_device

    resolve_device(config.accelerator)  # "cuda" on a machine without a GPU: a ConfigError naming it
    fabric = L.Fabric(accelerator=config.accelerator, devices=config.devices, strategy=strategy)
    fabric.launch()
    out = Path(config.out_dir)
    ckpt_dir = out / "checkpoints"
    if fabric.is_global_zero:
        ckpt_dir.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(config.seed)
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters", hint="unfreeze a tower or add a projector")
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)

    sampler = ShardedEpochSampler(len(dataset), config.seed, fabric.global_rank, fabric.world_size)
    if sampler.per_rank() < config.batch_size:  # the loader drops the last partial batch: no batch at all
        raise ConfigError(
            f"{len(dataset)} training items ({sampler.per_rank()} per process) are fewer than the batch size "
            f"{config.batch_size}",
            hint=f"use a batch size of at most {sampler.per_rank()} (--batch-size), or more data",
        )
    steps_per_epoch = sampler.per_rank() // config.batch_size
    total = config.max_steps or config.epochs * steps_per_epoch

    model, optimizer = fabric.setup(module, optimizer)
    step = 0
    fabric.barrier()
    resume_from = latest_checkpoint(ckpt_dir)
    last_loss = float("nan")
    if resume_from is not None:  # after setup: the optimizer's state lands on the parameters' device
        info = load_checkpoint(resume_from, module, optimizer)
        step, last_loss = info["step"], info.get("loss", last_loss)
        saved = info["config"]
        planned = saved.get("max_steps") or saved.get("epochs", config.epochs) * steps_per_epoch
        if planned != total and not config.extend:
            raise ConfigError(
                f"this run was started with a {planned}-step schedule and is at step {step}, but {total} steps are "
                "asked now",
                source=out,
                hint="pass --extend to go on with the learning-rate schedule recomputed for the new total, or "
                "use a new --out",
            )
        if step >= total:
            fabric.print(f"{out} is already trained to step {step}: nothing to do (raise --steps and pass --extend)")
        else:
            fabric.print(f"resuming from {resume_from} (step {step})")
        if fabric.is_global_zero:
            _forget_after(out / "metrics.jsonl", step)

    if step:
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: _lr_factor(s, config.warmup_steps, total), last_epoch=step - 1
    )

    log_file = out / "metrics.jsonl"
    progress = _progress(fabric.is_global_zero and config.progress)
    task = progress.add_task("training", total=total, completed=step)
    start = time.perf_counter()
    with progress:
        while step < total:
            sampler.epoch, sampler.skip = divmod(step, steps_per_epoch)
            sampler.skip *= config.batch_size
            loader = DataLoader(
                dataset,
                batch_size=config.batch_size,
                sampler=sampler,
                collate_fn=collate_fn,
                num_workers=config.num_workers,
                drop_last=True,
                generator=torch.Generator().manual_seed(config.seed),  # keeps the global RNG for the step seed
            )
            batches = iter(fabric.setup_dataloaders(loader, use_distributed_sampler=False))
            while True:
                # Seeded before the batch is drawn, so random crops and dropout replay exactly on resume.
                torch.manual_seed(config.seed * 1_000_003 + step * fabric.world_size + fabric.global_rank)
                batch = next(batches, None)
                if batch is None:
                    break
                model.train()
                loss = model.training_step(batch)
                optimizer.zero_grad(set_to_none=True)
                fabric.backward(loss)
                if config.grad_clip:
                    fabric.clip_gradients(model, optimizer, max_norm=config.grad_clip)
                optimizer.step()
                scheduler.step()
                step += 1
                last_loss = float(fabric.all_reduce(loss.detach(), reduce_op="mean"))
                progress.update(task, completed=step, description=f"training loss {last_loss:.4f}")
                if fabric.is_global_zero and (step % config.log_every == 0 or step == total):
                    record = {
                        "step": step,
                        "epoch": step / steps_per_epoch,
                        "loss": last_loss,
                        "lr": scheduler.get_last_lr()[0],
                        "seconds": round(time.perf_counter() - start, 3),
                    }
                    with log_file.open("a") as fh:
                        fh.write(json.dumps(record) + "\n")
                if (config.checkpoint_every and step % config.checkpoint_every == 0) or step == total:
                    _save(fabric, ckpt_dir, module, optimizer, step, config, {"run": run_info or {}, "loss": last_loss})
                if step >= total:
                    break
    checksums = fabric.all_gather(_checksum(module)).reshape(fabric.world_size, -1).tolist()
    module.cpu()  # returned where almkit's inference starts; generators move a model to their own device
    if fabric.is_global_zero:
        summary = {"steps": step, "last_loss": last_loss, "world_size": fabric.world_size, "rank_checksums": checksums}
        (out / "final.json").write_text(json.dumps(summary, indent=1) + "\n")
    if any(c != checksums[0] for c in checksums):
        raise RuntimeError(f"DDP ranks ended with different weights: {checksums}")
    return TrainResult(step, last_loss, ckpt_dir, fabric.is_global_zero)


def _checksum(module: torch.nn.Module) -> torch.Tensor:
    """Three order-sensitive sums of the trainable weights: equal on every rank iff DDP kept them in sync."""
    flat = torch.cat([p.detach().flatten() for p in module.parameters() if p.requires_grad]).double()
    position = torch.arange(1, flat.numel() + 1, dtype=torch.float64, device=flat.device)
    return torch.stack([flat.sum(), flat.abs().sum(), (flat * position).sum()])


def _save(fabric, ckpt_dir: Path, module, optimizer, step: int, config: TrainConfig, extra: dict) -> None:
    fabric.barrier()
    if fabric.is_global_zero:
        folder = ckpt_dir / f"step-{step:07d}"
        if not folder.exists():
            save_checkpoint(folder, module, optimizer, {"step": step, "config": asdict(config), **extra})
    fabric.barrier()


def _forget_after(log_file: Path, step: int) -> None:
    """Drop the log records past the checkpoint a run resumes from (they are logged again)."""
    if log_file.is_file():
        kept = [line for line in log_file.read_text().splitlines() if json.loads(line)["step"] <= step]
        log_file.write_text("".join(line + "\n" for line in kept))


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )
