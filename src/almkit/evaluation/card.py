"""Evaluation cards: a small YAML file that locks an evaluation protocol.

A card names the data (manifest + split), the model (and optionally the SHA-256 of its checkpoint, which
the harness then enforces), the preprocessing the model must use (sample rate and chunking, checked against
the model's encoder), the prompt template or decoding parameters, the answer parser, the metrics, the
bootstrap size and the seed. Anyone with the same data and the card gets the same numbers.

Paths are relative to the card's folder; ``${ALMKIT_DATA}`` expands to that variable (default ``./data``).
Shipped cards (``almkit/evaluation/cards/*.yaml``) can be named without a path: ``--card drums``.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from almkit.errors import ConfigError
from almkit.tasks import TASKS

PARSERS = ("normalized-exact-match-v1",)


@dataclass
class Card:
    name: str
    task: str
    manifest: str
    split: str | None = "test"
    model: str = "default"
    checkpoint_sha256: str | None = None
    preprocessing: dict[str, Any] = field(default_factory=dict)
    prompt: str = "the sound of a {}"
    labels: list[str] | None = None
    decoding: dict[str, Any] = field(default_factory=lambda: {"strategy": "greedy", "max_new_tokens": 40})
    answer_parser: str = "normalized-exact-match-v1"
    metrics: list[str] = field(default_factory=list)
    bootstrap: int = 1000
    seed: int = 0
    limit: int | None = None
    allow_outside: bool = False  # read manifest audio outside the manifest's folder (imported datasets)
    overrides: dict[str, Any] = field(default_factory=dict)  # what the command line changed: {field: [was, hash]}
    source: str = ""  # the card file, filled in by load_card

    def validate(self) -> Card:
        where = self.source or self.name

        def bad(name, why):
            raise ConfigError(f"card field '{name}': {why}", source=where)

        for name in ("name", "task", "manifest", "model", "prompt", "answer_parser"):
            if not isinstance(getattr(self, name), str):
                bad(name, f"must be text, not {getattr(self, name)!r}")
        for name in ("bootstrap", "seed", "limit"):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool)) and not (name == "limit" and value is None):
                bad(name, f"must be a whole number, not {value!r}")
        if not isinstance(self.allow_outside, bool):
            bad("allow_outside", f"must be true or false, not {self.allow_outside!r}")
        for name in ("preprocessing", "decoding", "overrides"):
            if not isinstance(getattr(self, name), dict):
                bad(name, "must be a mapping")
        if not isinstance(self.metrics, list) or (self.labels is not None and not isinstance(self.labels, list)):
            bad("metrics" if not isinstance(self.metrics, list) else "labels", "must be a list")
        if self.task not in TASKS:
            bad("task", f"{self.task!r} is not one of {tuple(TASKS)}")
        if not self.manifest:
            bad("manifest", "is required")
        if self.task == "zero-shot" and "{}" not in self.prompt:
            bad("prompt", "needs a '{}' where the label goes")
        try:
            self.prompt.format("label")
        except (IndexError, KeyError, ValueError) as err:
            bad("prompt", f"is not a template with one '{{}}' ({err!r})")
        if self.answer_parser not in PARSERS:
            bad("answer_parser", f"{self.answer_parser!r} is not one of {PARSERS}")
        if self.bootstrap < 0:
            bad("bootstrap", "must be >= 0")
        if self.limit is not None and self.limit < 1:
            bad("limit", "must be >= 1")
        if self.checkpoint_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", self.checkpoint_sha256):
            bad("checkpoint_sha256", "must be 64 lower-case hex digits")
        task = TASKS[self.task]
        if not self.metrics:
            self.metrics = list(task.default_metrics)
        if unknown := sorted(set(self.metrics) - set(task.metrics)):
            bad("metrics", f"{unknown} are not metrics of {self.task} (known: {', '.join(task.metrics)})")
        return self

    def manifest_path(self) -> Path:
        text = self.manifest.replace("${ALMKIT_DATA}", os.environ.get("ALMKIT_DATA", "data"))
        path = Path(text)
        if not path.is_absolute() and self.source and "${ALMKIT_DATA}" not in self.manifest:
            path = Path(self.source).parent / path
        return path

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "source"}


def shipped_cards() -> dict[str, Path]:
    folder = Path(str(resources.files("almkit") / "evaluation" / "cards"))
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


MAX_CARD_BYTES = 64 * 1024


class _CardLoader(yaml.SafeLoader):
    """Safe YAML without aliases: a card has no use for them, and nested aliases ("billion laughs") expand
    into gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(
                f"aliases (*{event.anchor}) are not allowed in a card, line {event.start_mark.line + 1}"
            )
        return super().compose_node(parent, index)


def load_card(path_or_name: str | Path) -> Card:
    """Read and validate a card file, or a shipped card by name."""
    path = Path(path_or_name)
    if not path.exists() and str(path_or_name) in shipped_cards():
        path = shipped_cards()[str(path_or_name)]
    if not path.is_file():
        raise ConfigError(
            "card not found",
            source=path_or_name,
            hint=f"give a YAML file or one of the shipped cards: {', '.join(shipped_cards())}",
        )
    if path.stat().st_size > MAX_CARD_BYTES:
        raise ConfigError(f"a card is at most {MAX_CARD_BYTES // 1024} KiB", source=path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_CardLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"not valid YAML ({err})", source=path) from None
    if not isinstance(raw, dict):
        raise ConfigError("a card is a YAML mapping of fields", source=path)
    known = {f.name for f in fields(Card)} - {"source"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown card fields {unknown}", source=path, hint=f"known fields: {sorted(known)}")
    missing = [k for k in ("name", "task", "manifest") if k not in raw]
    if missing:
        raise ConfigError(f"missing card fields {missing}", source=path)
    return Card(**raw, source=str(path)).validate()
