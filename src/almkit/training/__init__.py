"""Training: one Lightning Fabric engine (checkpoints, exact resume, DDP), contrastive training of Two Towers
and instruction tuning of Two Heads."""

from almkit.training.engine import TrainConfig, TrainResult, fit
from almkit.training.two_heads import train_two_heads
from almkit.training.two_towers import train_two_towers

__all__ = ["TrainConfig", "TrainResult", "fit", "train_two_heads", "train_two_towers"]
