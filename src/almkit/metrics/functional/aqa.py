"""Audio question answering: exact-match accuracy after a documented normalisation, overall and per type.

Normalisation (applied to prediction and reference alike):
1. lower-case, strip, collapse white space;
2. remove punctuation (keep apostrophes inside words and hyphens, drop the rest);
3. drop leading articles ("a", "an", "the");
4. number words 0-20 become digits ("three" -> "3"), so "3" and "three" match;
5. yes/no synonyms: "yes", "yeah", "yep", "true", "correct" -> "yes"; "no", "nope", "false", "incorrect" -> "no";
   a prediction that *starts* with yes/no followed by more words ("Yes, there is a dog") counts as yes/no.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from almkit.metrics.functional.result import MetricResult

NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
).split()
YES = {"yes", "yeah", "yep", "true", "correct"}
NO = {"no", "nope", "false", "incorrect"}


def normalize_answer(text: str) -> str:
    text = re.sub(r"\s+", " ", str(text).lower().strip())
    text = re.sub(r"[^\w\s'-]", " ", text)
    words = [w.strip("'-") for w in text.split()]
    words = [w for w in words if w]
    while words and words[0] in ("a", "an", "the"):
        words = words[1:]
    words = [str(NUMBERS.index(w)) if w in NUMBERS else w for w in words]
    if words and words[0] in YES:
        return "yes"
    if words and words[0] in NO:
        return "no"
    return " ".join(words)


def aqa_accuracy(predictions: list[str], answers: list[str], types: list[str] | None = None) -> MetricResult:
    """Accuracy overall (``accuracy``) and per question type (``accuracy/<type>``)."""
    correct = np.array(
        [normalize_answer(p) == normalize_answer(a) for p, a in zip(predictions, answers, strict=True)],
        dtype=np.float64,
    )
    corpus = {"accuracy": float(correct.mean()) if len(correct) else float("nan")}
    per_item = {"accuracy": correct}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(types or []):
        groups[t].append(i)
    for t, idx in sorted(groups.items()):
        corpus[f"accuracy/{t}"] = float(correct[idx].mean())
    return MetricResult(corpus, per_item)
