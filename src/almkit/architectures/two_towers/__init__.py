"""Two Towers: one encoder + projector per modality, aligned in an L2-normalised joint space (CLAP)."""

from almkit.architectures.two_towers.config import TwoTowersConfig
from almkit.architectures.two_towers.factory import create_model, load_model
from almkit.architectures.two_towers.model import TwoTowers

__all__ = ["TwoTowers", "TwoTowersConfig", "create_model", "load_model"]
