"""Models built on the Two-Towers model: a small trained part that reads the frozen towers' audio frames or text
embeddings (the text-queried detector, the language-queried separator). The towers are shared, not copied:
a model folder holds ``config.json`` (with the towers' name and checkpoint hash, checked on load) and the
trained part's ``model.safetensors``."""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import ClassVar

from safetensors.torch import save_file
from torch import nn

from almkit.errors import CheckpointError


def check_towers(name: str | Path, sha256: str, source, kind: str, recipe: str) -> None:
    """Refuse a ``kind`` model trained on another checkpoint of the Two-Towers model ``name`` than the one there
    now (``sha256``, recorded at training; empty: not recorded)."""
    from almkit.architectures.two_towers.model import pretrained_path
    from almkit.architectures.weights import checkpoint_sha256

    if sha256 and checkpoint_sha256(pretrained_path(name)) != sha256:
        raise CheckpointError(
            f"the {kind} was trained on another checkpoint of the Two-Towers model {str(name)!r}",
            source=source,
            hint=f"retrain it ({recipe}) on the current Two-Towers model",
        )


class OnTowers(nn.Module):
    """Base of a model on the Two-Towers model ``config.towers``; subclasses set the class variables."""

    kind: ClassVar[str]  # the config's architecture ("Detector", "Separator")
    config_class: ClassVar[type]
    shipped: ClassVar[str]  # the package folder of the shipped default, e.g. "pretrained/detector"
    recipe: ClassVar[str]  # the script that trains it

    def __init__(self, config, towers=None):
        super().__init__()
        from almkit.architectures.two_towers.factory import load_model

        self.config = config.validate()
        towers = towers if towers is not None else load_model(config.towers, device="cpu")
        towers.eval().requires_grad_(False)
        object.__setattr__(self, "towers", towers)  # frozen and shared: not a submodule, not in the weights

    @classmethod
    def folder(cls, name: str | Path = "default") -> Path:
        """The shipped default's folder, or a user folder."""
        return Path(str(resources.files("almkit") / cls.shipped)) if name == "default" else Path(name)

    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(asdict(self.config), indent=1) + "\n")
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"), metadata={"format": f"almkit-{self.kind.lower()}"})
        return folder

    @classmethod
    def from_pretrained(cls, name: str | Path = "default", towers=None):
        """Load ``default`` or a folder written by :meth:`save_pretrained`; refuses weights trained on another
        checkpoint of the towers."""
        from almkit.architectures import load_config
        from almkit.architectures.weights import read_weights

        folder = cls.folder(name)
        if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
            raise CheckpointError(
                f"not a {cls.kind.lower()} folder (needs config.json and model.safetensors)",
                source=folder,
                hint=f"pass 'default' or a folder written by {cls.recipe}",
            )
        config = load_config(cls.config_class, folder / "config.json", cls.kind)
        check_towers(config.towers, config.towers_sha256, folder, cls.kind.lower(), cls.recipe)
        model = cls(config, towers)
        try:
            model.load_state_dict(read_weights(folder / "model.safetensors"))
        except RuntimeError as err:
            raise CheckpointError(f"weights do not match the config ({err})", source=folder) from None
        return model.eval()
