"""The downstream tasks of the survey, each a :class:`~almkit.tasks.base.Task` in its own module.

Adding a task: write ``almkit/tasks/<task>.py`` with a ``Task`` subclass (what a clip must carry, ``infer``,
``score``, its default and primary metrics, and, for a model of its own kind, ``model_class``), and add it to
``TASKS`` below. The evaluation cards, the harness,
the input-use probe and ``eval compare`` read everything else from the registry.
"""

from __future__ import annotations

from almkit.errors import ConfigError
from almkit.tasks.base import Embedder, Generator, Task
from almkit.tasks.captioning import Captioning
from almkit.tasks.detection import TextQueriedDetection
from almkit.tasks.question_answering import QuestionAnswering
from almkit.tasks.retrieval import Retrieval
from almkit.tasks.separation import LanguageQueriedSeparation
from almkit.tasks.zero_shot import ZeroShot

TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        ZeroShot(),
        Retrieval(),
        Captioning(),
        QuestionAnswering(),
        TextQueriedDetection(),
        LanguageQueriedSeparation(),
    )
}

__all__ = ["TASKS", "Embedder", "Generator", "Task", "get_task"]


def get_task(name: str) -> Task:
    """The registered task called ``name``; ConfigError listing the known ones."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}", hint=f"one of {', '.join(TASKS)}")
    return TASKS[name]
