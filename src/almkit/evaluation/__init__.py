"""Evaluation under protocol-locked cards: run and score a card, re-score, compare two runs, probe input use."""

from almkit.evaluation.card import Card, load_card, shipped_cards
from almkit.evaluation.compare import compare_runs
from almkit.evaluation.harness import run_card, score
from almkit.evaluation.probe import probe

__all__ = ["Card", "compare_runs", "load_card", "probe", "run_card", "score", "shipped_cards"]
