"""The cooperated system: a language model that plans tool calls, reads their outputs and writes the answer.

Two planners share the loop's tools, limits and trace:

* the local SmolLM2-135M-Instruct (:class:`~almkit.agents.local_lm.LocalLM`), HuggingGPT-style: one plan of up
  to ``max_steps`` calls decoded under a JSON-schema grammar built from the registry (tool names and audio
  ids are enums, so every call parses and validates), shown the worked examples closest to the question and
  offered the tools of the closest ones (a 135M model cannot choose from the whole list); the calls run; then
  the model picks the answer among the short answers their outputs support (:meth:`Agent._grounded_answer`);
* any OpenAI-compatible chat endpoint with tool calling (:class:`OpenAIChat`): the usual loop, where the
  model sees each result and calls again or answers, for at most ``max_steps`` rounds of calls.

The language model never sees file paths, only ids (``audio1``, ``audio2``...). Every answer ends with its
evidence: each call's tool, arguments, one-line result (with times) and seconds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from almkit.agents.examples import EXAMPLES, example_audio_count, example_text
from almkit.agents.tools import AUDIO_ARGUMENTS, Tool, ToolCall, ToolRegistry
from almkit.errors import ConfigError

PLANNER = """You plan calls to audio tools that answer a question about audio files. Tools:
{tools}

Reply with JSON: the tool calls (at most {max_steps}) whose results answer the question."""

ANSWERER = """You answer a question about audio with one of the results of audio tools: reply with the result \
that answers the question. Examples:
Question: How long is the clip? Results: [1] loudness -20.1 LUFS, peak -3.0 dBFS, duration 7.50 s, 44100 Hz \
-> duration 7.50 s [1]
Question: How loud is it? Results: [1] loudness -31.0 LUFS, peak -9.5 dBFS, duration 3.00 s, 16000 Hz \
-> loudness -31.0 LUFS [1]
Question: When does the horn start? Results: [1] 'horn' at 1.20-2.40 s (score 0.41); first starts at 1.20 s \
-> 'horn' starts at 1.20 s [1]
Question: How many people speak? Results: [1] 2 speaker(s), 4.10 s of speech -> 2 speaker(s) [1]"""

CHAT = """You answer questions about audio files by calling audio tools, then state the answer with the numbers, \
words and times of their results, citing each result you use as [1], [2] in the order of the calls."""

POLAR = {"is", "are", "does", "do", "did", "can", "could", "was", "were", "has", "have", "will"}  # yes/no openers
SHOWN_EXAMPLES = 4  # worked examples shown to the local planner, the closest in meaning to the question
NEAR = 0.05  # the tools and answer kinds offered are those of the examples within this cosine of the closest


def audio_ids(n: int) -> list[str]:
    return [f"audio{i + 1}" for i in range(n)]


def call_parameters(tool: Tool, ids: list[str], required_only: bool = False) -> dict:
    """The tool's argument schema with audio arguments as enums of ``ids`` (the language model never sees a
    path); ``required_only`` keeps the arguments without defaults and makes a list of audio all of them (a
    plan for a small model: "which of these clips" is about all of them)."""
    schema = json.loads(json.dumps(tool.parameters))
    props = schema.get("properties", {})
    for name in AUDIO_ARGUMENTS:
        if name in props and props[name].get("type") == "array":
            props[name] = {"const": ids} if required_only else {"type": "array", "items": {"enum": ids}, "minItems": 1}
        elif name in props:
            props[name] = {"enum": ids}
    if required_only:
        keep = set(schema.get("required", []))
        schema["properties"] = {k: v for k, v in props.items() if k in keep}
    for v in schema["properties"].values():
        v.pop("title", None)
    schema.pop("title", None)
    return schema


def plan_schema(
    registry: ToolRegistry, ids: list[str], max_steps: int, only: set[str] | None = None, question: str | None = None
) -> dict:
    """A plan: ``{"calls": [{"tool": NAME, "arguments": {...}}, ...]}`` with 1..``max_steps`` calls, each
    naming a real tool (of ``only``, when given and possible) with valid arguments. Tools that need two
    recordings are left out for one. A ``question`` argument (the Two-Heads ``ask``) is the user's own
    ``question`` word for word when it is given: a small model paraphrases, and the answer would drift."""
    usable = [t for t in registry if len(ids) > 1 or "other" not in t.signature.parameters]
    calls = []
    for tool in [t for t in usable if t.name in (only or ())] or usable:
        arguments = call_parameters(tool, ids, True)
        if question is not None and "question" in arguments["properties"]:
            arguments["properties"]["question"] = {"const": question}
        calls.append({
            "type": "object",
            "properties": {"tool": {"const": tool.name}, "arguments": arguments},
            "required": ["tool", "arguments"],
            "additionalProperties": False,
        })  # fmt: skip
    items = {"anyOf": calls}
    return {"type": "object", "properties": {"calls": {"type": "array", "items": items, "minItems": 1,
            "maxItems": max_steps}}, "required": ["calls"], "additionalProperties": False}  # fmt: skip


@dataclass
class AgentResult:
    """The answer, every call (tool, arguments with ids, output or error, seconds) and where the time went."""

    question: str
    audio: dict[str, str]  # id -> path
    answer: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    planner: str = ""
    plan_seconds: float = 0.0
    answer_seconds: float = 0.0
    seconds: float = 0.0
    summaries: list[str] = field(default_factory=list)

    def evidence(self) -> list[str]:
        """``[n] tool(arguments): one-line result`` per call, as the answer cites them."""
        lines = []
        for n, (call, summary) in enumerate(zip(self.calls, self.summaries, strict=True), 1):
            args = ", ".join(f"{k}={json.dumps(v)}" for k, v in call.arguments.items())
            lines.append(f"[{n}] {call.tool}({args}): {summary}")
        return lines

    @property
    def text(self) -> str:
        """The answer followed by its evidence."""
        return "\n".join([self.answer, "", "Evidence:", *self.evidence()]) if self.calls else self.answer

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "audio": self.audio,
            "answer": self.answer,
            "planner": self.planner,
            "steps": [{**c.to_dict(), "summary": s} for c, s in zip(self.calls, self.summaries, strict=True)],
            "evidence": self.evidence(),
            "seconds": {
                "plan": round(self.plan_seconds, 3),
                "answer": round(self.answer_seconds, 3),
                "total": round(self.seconds, 3),
            },  # fmt: skip
        }


class Agent:
    """``run(audio_paths, question) -> AgentResult``. ``llm``: a :class:`LocalLM` (default: SmolLM2) or an
    :class:`OpenAIChat`; ``max_steps``: most tool calls (local) or rounds of calls (OpenAI); ``tool_timeout``:
    seconds one call may take; ``embed``: texts -> unit vectors, to pick the planner's examples (default:
    MiniLM)."""

    def __init__(self, registry: ToolRegistry, llm=None, max_steps: int = 3, tool_timeout: float = 120.0, embed=None):
        if max_steps < 1:
            raise ConfigError(f"max_steps={max_steps} must be at least 1")
        if llm is None:
            from almkit.agents.local_lm import LocalLM

            llm = LocalLM()
        self.registry, self.llm, self.max_steps, self.tool_timeout = registry, llm, max_steps, tool_timeout
        tools = "\n".join(f"- {t.name}({', '.join(t.parameters.get('required', []))}): {t.description}"
                          for t in registry)  # fmt: skip
        self.planner_prompt = PLANNER.format(tools=tools, max_steps=max_steps)
        self._embed = embed
        self._examples = [e for e in EXAMPLES if all(tool in registry.tools for tool, _ in e[1])]
        self._example_vectors = None

    def run(self, audio: list[str], question: str) -> AgentResult:
        if not audio:
            raise ConfigError("no audio given", hint="pass one or more audio files")
        if not question.strip():
            raise ConfigError("the question is empty", hint='ask e.g. "What is said?"')
        start = time.perf_counter()
        result = AgentResult(question, dict(zip(audio_ids(len(audio)), audio, strict=True)))
        if isinstance(self.llm, OpenAIChat):
            self.llm.run(self, result)
        else:
            self._run_local(result)
        result.seconds = time.perf_counter() - start
        return result

    def execute(self, result: AgentResult, tool: str, arguments: dict) -> str:
        """Run one call (ids resolved to paths), record it in ``result`` and return its one-line summary."""

        def resolve(ident: str) -> str:
            if ident not in result.audio:
                raise ConfigError(f"no audio {ident!r}", hint=f"use one of {', '.join(result.audio)}")
            return result.audio[ident]

        call = self.registry.call(tool, arguments, resolve=resolve, timeout=self.tool_timeout)
        summary = f"error: {call.error}" if call.error else self.registry[tool].summary(call.output)
        result.calls.append(call)
        result.summaries.append(summary)
        return summary

    def user_message(self, result: AgentResult) -> str:
        return f"Audio: {', '.join(result.audio)}\nQuestion: {result.question}"

    def examples_for(self, question: str, n_audio: int = 1) -> list[tuple[float, tuple[str, list, str]]]:
        """``(cosine, example)`` for the worked examples closest in meaning to ``question`` (MiniLM), closest
        first, among those about as many recordings (one, or several) as the request has."""
        if self._embed is None:
            from almkit.encoders import build_text_encoder

            encoder = build_text_encoder("minilm")
            self._embed = lambda texts: encoder.encode(texts).numpy()
        if self._example_vectors is None:
            self._example_vectors = self._embed([q for q, _, _ in self._examples])
        scores = self._example_vectors @ self._embed([question])[0]
        same = [i for i, e in enumerate(self._examples) if (example_audio_count(e[1]) > 1) == (n_audio > 1)]
        best = sorted(same or range(len(scores)), key=lambda i: (-scores[i], i))[:SHOWN_EXAMPLES]
        return [(float(scores[i]), self._examples[i]) for i in best]

    def _run_local(self, result: AgentResult) -> None:
        """Retrieve the closest worked examples; let the LM plan among their tools (tool retrieval, as Gorilla
        and ToolLLM narrow the tools before the model picks) under the plan grammar; run the calls; let the LM
        pick the answer among the results of the kind that answered the closest example using a called tool."""
        result.planner = f"local:{self.llm.name}"
        t = time.perf_counter()
        scored = self.examples_for(result.question, len(result.audio))
        near = [e for cos, e in scored if cos >= scored[0][0] - NEAR]
        tools = {tool for _, calls, _ in near for tool, _ in calls}
        schema = plan_schema(self.registry, list(result.audio), self.max_steps, tools, result.question)
        shown = "\n".join(example_text(q, c) for _, (q, c, _) in reversed(scored))  # the closest last
        user = f"Examples:\n{shown}\n\nAudio: {', '.join(result.audio)}\nQuestion: {result.question} ->"
        plan, _ = self.llm.json(self.planner_prompt, user, schema)
        result.plan_seconds = time.perf_counter() - t
        for step in plan["calls"]:
            self.execute(result, step["tool"], step["arguments"])
        t = time.perf_counter()
        called = {c.tool for c in result.calls}
        closest = next((e for _, e in scored if called & {tool for tool, _ in e[1]}), None)
        result.answer = self._grounded_answer(result, kinds=set(closest[2].split("+")) if closest else set())
        result.answer_seconds = time.perf_counter() - t

    def _grounded_answer(self, result: AgentResult, kinds: set[str]) -> str:
        """One of the short answers that the calls' outputs support, with its citation, chosen by the language
        model under a grammar (so it can only restate a result), among those of ``kinds`` when there are any
        (and among the yes/no ones for a yes/no question); the only one when there is one."""
        found = [
            (kind, f"{text} [{n}]")
            for n, call in enumerate(result.calls, 1)
            if call.output is not None
            for kind, text in self.registry[call.tool].answers(call.output)
        ]
        candidates = list(dict.fromkeys(text for kind, text in found if kind in kinds)) or list(
            dict.fromkeys(text for _, text in found)
        )
        if result.question.split()[0].lower() in POLAR:  # a yes/no question gets a yes/no answer when one is there
            polar = [text for _, text in found if text.lower().startswith(("yes", "no"))]
            candidates = list(dict.fromkeys(polar)) or candidates
        if not candidates:
            return "No tool gave a result: " + "; ".join(s for s in result.summaries)
        if len(candidates) == 1:
            return candidates[0]
        results = " ".join(f"[{n}] {s}" for n, s in enumerate(result.summaries, 1))
        schema = {"type": "object", "properties": {"answer": {"enum": candidates}}, "required": ["answer"],
                  "additionalProperties": False}  # fmt: skip
        choice, _ = self.llm.json(ANSWERER, f"Question: {result.question} Results: {results} ->", schema)
        return choice["answer"]


class OpenAIChat:
    """A chat model behind any OpenAI-compatible endpoint with tool calling (``base_url`` like
    ``http://host:8000/v1``), driven with the official ``openai`` client."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0):
        from openai import OpenAI

        self.model = model
        self.client = OpenAI(base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=0)

    def run(self, agent: Agent, result: AgentResult) -> None:
        result.planner = f"openai:{self.model}"
        ids = list(result.audio)
        usable = [t for t in agent.registry if len(ids) > 1 or "other" not in t.signature.parameters]
        tools = [{"type": "function", "function": {"name": t.name, "description": t.description,
                  "parameters": call_parameters(t, ids)}} for t in usable]  # fmt: skip
        messages = [{"role": "system", "content": CHAT}, {"role": "user", "content": agent.user_message(result)}]
        for round_ in range(agent.max_steps + 1):
            t = time.perf_counter()
            reply = (
                self.client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    tools=tools if round_ < agent.max_steps else None,
                    temperature=0,
                )
                .choices[0]
                .message
            )
            result.plan_seconds += time.perf_counter() - t
            if not reply.tool_calls:
                result.answer = (reply.content or "").strip()
                return
            messages.append(reply.model_dump(exclude_none=True))
            for tc in reply.tool_calls:
                try:
                    arguments = json.loads(tc.function.arguments or "{}")
                except json.JSONDecodeError as err:
                    arguments = {"_unparsed": tc.function.arguments, "_error": str(err)}
                summary = agent.execute(result, tc.function.name, arguments)
                messages.append({"role": "tool", "tool_call_id": tc.id, "content": summary})
