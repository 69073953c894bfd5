"""Typed tools and their registry: the one list that the agent, the CLI, the MCP server and the chat server share.

A tool is a plain function. Its JSON schema is generated from its signature (types, defaults, and parameter
descriptions given as ``Annotated[type, Field(description=...)]``) by pydantic, and its description is the
first paragraph of its docstring, so MCP's SDK, which reads the same signature, publishes the same schema.
Arguments are validated against that schema before a call; a tool that reads audio takes it as ``audio``
(a file, or a list of files; a second recording is ``other``), and the caller's ``resolve`` turns what a
client sent into a local file first.
Outputs are JSON objects whose keys carry their units (``start_s``, ``integrated_lufs``, ``peak_dbfs``).
"""

from __future__ import annotations

import concurrent.futures
import inspect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from almkit.errors import AlmkitError, ConfigError

AUDIO_ARGUMENTS = ("audio", "other")  # arguments that name audio: resolved to local files before a call


class ToolError(AlmkitError):
    """A tool call failed: unknown tool, invalid arguments, unusable audio, time limit, or the tool's own error."""


def docstring_summary(fn: Callable) -> str:
    """The first paragraph of ``fn``'s docstring, on one line."""
    doc = inspect.cleandoc(fn.__doc__ or "")
    return " ".join(doc.split("\n\n")[0].split())


@dataclass(frozen=True)
class Tool:
    """One tool: ``fn(**arguments) -> dict``, its argument model (validation and JSON schema), ``summary``, which
    states an output in one line for a language model to read, and ``answers``, the short answers an output
    supports as ``(kind, text)`` (what a grounded answer may say: ``("duration", "duration 4.00 s")``)."""

    name: str
    fn: Callable[..., dict]
    description: str
    arguments: type[BaseModel]
    summary: Callable[[dict], str] = field(default=lambda out: str(out))
    answers: Callable[[dict], list[tuple[str, str]]] = field(default=lambda out: [])

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., dict],
        summary: Callable[[dict], str] | None = None,
        answers: Callable[[dict], list[tuple[str, str]]] | None = None,
    ) -> Tool:
        signature = inspect.signature(fn, eval_str=True)
        fields = {
            name: (p.annotation, ... if p.default is inspect.Parameter.empty else p.default)
            for name, p in signature.parameters.items()
        }
        model = create_model(f"{fn.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
        return cls(
            fn.__name__, fn, docstring_summary(fn), model, summary or (lambda out: str(out)), answers or (lambda o: [])
        )

    @property
    def parameters(self) -> dict:
        """The arguments' JSON schema (an object; OpenAI's ``parameters``, MCP's ``inputSchema``)."""
        return self.arguments.model_json_schema()

    @property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.fn, eval_str=True)

    @property
    def reads_audio(self) -> bool:
        return "audio" in self.signature.parameters

    def openai(self) -> dict:
        """The tool as an OpenAI chat ``tools`` entry."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                  "parameters": self.parameters}}  # fmt: skip

    def validate(self, arguments: dict) -> dict:
        """The arguments checked against the schema (defaults filled in), or ToolError naming each problem."""
        if not isinstance(arguments, dict):
            raise ToolError(f"arguments of {self.name} must be a JSON object, got {type(arguments).__name__}")
        try:
            return dict(self.arguments.model_validate(arguments))
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in err.errors(include_url=False)
            )
            raise ToolError(f"invalid arguments for {self.name}: {problems}", hint=self._usage()) from None

    def _usage(self) -> str:
        params = self.parameters.get("properties", {})
        required = set(self.parameters.get("required", []))
        return "arguments: " + ", ".join(f"{k}{'' if k in required else '?'}" for k in params)


@dataclass
class ToolCall:
    """One call and what came of it: ``output`` (a JSON object) or ``error`` (one line), and the seconds taken."""

    tool: str
    arguments: dict
    output: dict | None = None
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        out = {"tool": self.tool, "arguments": self.arguments, "seconds": round(self.seconds, 3)}
        return {**out, "error": self.error} if self.error is not None else {**out, "output": self.output}


class ToolRegistry:
    """Tools by name. ``call`` validates, resolves audio, runs the tool under a time limit and never raises for a
    failure of the tool itself: the :class:`ToolCall` carries the error, so an agent can report it and go on."""

    def __init__(self, tools: list[Tool]):
        self.tools = {t.name: t for t in tools}
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="almkit-tool")

    def __getitem__(self, name: str) -> Tool:
        if name not in self.tools:
            raise ToolError(f"no tool named {name!r}", hint=f"tools: {', '.join(self.tools)}")
        return self.tools[name]

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.tools.values())

    def __len__(self) -> int:
        return len(self.tools)

    def openai(self) -> list[dict]:
        return [t.openai() for t in self]

    def run(
        self,
        name: str,
        arguments: dict,
        resolve: Callable[[str], str] | None = None,
        timeout: float | None = None,
    ) -> dict:
        """The tool's output, or :class:`ToolError`. ``resolve`` maps each ``audio`` value to a local file
        (refusing what it must); ``timeout`` (seconds) bounds the wait. A tool past its time limit is
        abandoned, not killed (Python cannot stop a thread): its result is dropped when it comes."""
        tool = self[name]
        args = tool.validate(arguments)
        for key in AUDIO_ARGUMENTS if resolve is not None else ():
            if key in args:
                value = args[key]
                try:
                    args[key] = [resolve(a) for a in value] if isinstance(value, list) else resolve(value)
                except AlmkitError as err:
                    raise ToolError(f"{name}: {err}") from None
        future = self._pool.submit(tool.fn, **args)
        try:
            out = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise ToolError(
                f"{name} took longer than its limit of {timeout:g} s", hint="raise the time limit"
            ) from None
        except AlmkitError as err:
            raise ToolError(f"{name}: {err}") from None
        except Exception as err:  # a bug or a library failure inside a tool is reported, not fatal to the agent
            raise ToolError(f"{name} failed: {type(err).__name__}: {err}") from None
        if not isinstance(out, dict):
            raise ConfigError(f"tool {name} returned {type(out).__name__}, not a JSON object")
        return out

    def call(self, name: str, arguments: Any, resolve=None, timeout: float | None = None) -> ToolCall:
        """Like :meth:`run`, with the outcome recorded in a :class:`ToolCall` instead of raised."""
        record = ToolCall(name, arguments if isinstance(arguments, dict) else {"_": arguments})
        start = time.perf_counter()
        try:
            record.output = self.run(name, arguments, resolve, timeout)
        except ToolError as err:
            record.error = str(err)
        record.seconds = time.perf_counter() - start
        return record
