"""OpenAI-compatible chat routes: ``GET /v1/models`` and ``POST /v1/chat/completions`` with audio in the messages.

A user message carries audio as ``{"type": "input_audio", "input_audio": {"data": <base64>, "format": "wav"}}``
content parts (wav, mp3, flac, ogg), as OpenAI's own audio models take it, next to ``{"type": "text"}`` parts.
The ``model`` field picks who answers:

* ``almkit-two-heads``: the Two-Heads default hears the one recording and answers the last user message
  (earlier user/assistant turns are its chat history);
* ``almkit-agent``: the cooperated system (:class:`~almkit.agents.agent.Agent`) plans tool calls over every
  recording of the conversation and answers with its evidence.

Non-streaming and streaming (server-sent events, ``chat.completion.chunk`` objects, then ``[DONE]``) replies.
The answer is computed first and then streamed, so an error is an HTTP status, never half a reply.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from almkit.agents.sources import MAX_BYTES, AudioSources
from almkit.errors import AlmkitError

MODELS = {
    "almkit-two-heads": "the Two-Heads default (audio encoder + SmolLM2) answers about one recording",
    "almkit-agent": "the local agent: SmolLM2 plans almkit's audio tools and answers with their evidence",
}


class InputAudio(BaseModel):
    data: str = Field(description="base64 of the audio file's bytes")
    format: str = Field(description="wav, mp3, flac or ogg")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None
    input_audio: InputAudio | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens... are accepted; decoding stays greedy
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False


class RequestError(Exception):
    """A request this service cannot answer: HTTP ``status`` and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def text_of(message: Message) -> str:
    if isinstance(message.content, str):
        return message.content
    return " ".join(p.text for p in message.content or () if p.type == "text" and p.text)


class ChatService:
    """Answers chat requests with the audio tools' models (loaded on first use, shared across requests)."""

    def __init__(self, tools=None, agent=None, max_bytes: int = MAX_BYTES):
        self._tools, self._agent = tools, agent
        self.sources = AudioSources(roots=None, max_bytes=max_bytes)
        self._lock = threading.Lock()

    @property
    def tools(self):
        with self._lock:
            if self._tools is None:
                from almkit.agents.audio_tools import AudioTools

                self._tools = AudioTools()
            return self._tools

    @property
    def agent(self):
        tools = self.tools
        with self._lock:
            if self._agent is None:
                from almkit.agents.agent import Agent

                self._agent = Agent(tools.registry(), embed=lambda t: tools.towers.text_encoder.encode(t).numpy())
            return self._agent

    def answer(self, request: ChatRequest) -> str:
        if request.model not in MODELS:
            raise RequestError(404, f"model {request.model!r} does not exist; models: {', '.join(MODELS)}")
        users = [m for m in request.messages if m.role == "user"]
        if not users or not text_of(users[-1]).strip():
            raise RequestError(400, "the last user message has no text: ask a question about the audio")
        question = text_of(users[-1])
        parts = [p.input_audio for m in users if isinstance(m.content, list) for p in m.content if p.input_audio]
        if not parts:
            raise RequestError(400, "no audio in the messages: send it as an input_audio content part")
        if request.model == "almkit-two-heads" and len(parts) != 1:
            raise RequestError(400, f"{request.model} answers about one recording, got {len(parts)}")
        paths: list[str] = []
        try:
            paths += [self.sources.from_base64(a.data, a.format) for a in parts]
            if request.model == "almkit-agent":
                return self.agent.run(paths, question).text
            answers, failures = self.tools.heads.run(paths, [question], history=self._history(request.messages))
            if failures:
                raise RequestError(400, f"the audio cannot be used: {failures[0][1]}")
            return answers[0].text
        except AlmkitError as err:
            raise RequestError(400, str(err)) from None
        finally:
            for path in paths:  # the decoded audio lives only as long as its request
                Path(path).unlink(missing_ok=True)

    @staticmethod
    def _history(messages: list[Message]) -> tuple[tuple[str, str], ...]:
        """Earlier (user, assistant) text turns before the last user message."""
        turns, pending = [], None
        last_user = max(i for i, m in enumerate(messages) if m.role == "user")
        for m in messages[:last_user]:
            if m.role == "user":
                pending = text_of(m)
            elif m.role == "assistant" and pending is not None:
                turns.append((pending, text_of(m)))
                pending = None
        return tuple(turns)


def completion(model: str, text: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def chunks(model: str, text: str):
    """Server-sent events of ``text``: a role chunk, one chunk per word, a stop chunk, then ``[DONE]``."""
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model}  # fmt: skip
    words = text.split(" ")
    deltas = [{"role": "assistant", "content": ""}] + [
        {"content": w} for w in [w + " " for w in words[:-1]] + words[-1:]
    ]
    for delta in deltas:
        yield f"data: {json.dumps({**head, 'choices': [{'index': 0, 'delta': delta, 'finish_reason': None}]})}\n\n"
    yield f"data: {json.dumps({**head, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]})}\n\n"
    yield "data: [DONE]\n\n"


def router(service: ChatService):
    from fastapi import APIRouter
    from fastapi.responses import JSONResponse, StreamingResponse

    from almkit.serving.app import error_body

    api = APIRouter()

    @api.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "almkit",
                                            "description": d} for m, d in MODELS.items()]}  # fmt: skip

    @api.post("/v1/chat/completions")
    def chat(request: ChatRequest):
        try:
            text = service.answer(request)
        except RequestError as err:
            return JSONResponse(error_body(str(err)), status_code=err.status)
        if request.stream:
            return StreamingResponse(chunks(request.model, text), media_type="text/event-stream")
        return completion(request.model, text)

    return api
