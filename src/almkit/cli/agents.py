"""Cooperated-system commands: ``almkit agent``, ``almkit tools``, ``almkit tool``, ``almkit mcp``, ``almkit serve``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from almkit.cli._common import FORMAT, Format, table
from almkit.errors import AudioError, ConfigError

HOST = Annotated[str, typer.Option("--host", help="Address to bind (localhost by default; 0.0.0.0 exposes it).")]
MAX_BYTES = Annotated[
    int, typer.Option("--max-bytes", min=1, help="Largest request (or inline audio) in bytes; larger gets HTTP 413.")
]


def _registry():
    from almkit.agents.audio_tools import AudioTools

    tools = AudioTools()
    return tools, tools.registry()


def agent(
    args: Annotated[list[str], typer.Argument(help="Audio files, then the question (the last argument).")],
    trace: Annotated[bool, typer.Option("--trace", help="Print every step: tool, arguments, output, seconds.")] = False,
    llm: Annotated[
        str | None, typer.Option("--llm", help="An OpenAI-compatible endpoint (http://host/v1) instead of SmolLM2.")
    ] = None,
    llm_model: Annotated[str, typer.Option("--llm-model", help="The model name at --llm.")] = "",
    llm_key: Annotated[
        str | None, typer.Option("--llm-key", envvar="ALMKIT_LLM_KEY", help="API key for --llm (or $ALMKIT_LLM_KEY).")
    ] = None,
    max_steps: Annotated[int, typer.Option("--max-steps", min=1, max=8, help="Most tool calls (rounds at --llm).")] = 3,
    tool_timeout: Annotated[float, typer.Option("--tool-timeout", min=1, help="Seconds one tool call may take.")] = 120,
    fmt: FORMAT = Format.table,
) -> None:
    """Answer a question about audio by planning and calling almkit's tools (a cooperated system).

    The local SmolLM2-135M-Instruct plans under a JSON-schema grammar (every call is valid), or any
    OpenAI-compatible chat model with tool calling plans (--llm, --llm-model). The answer cites the tool
    results it comes from, with their times.

    Example: almkit agent talk.wav "What is said, and by how many speakers?" --trace
    """
    from almkit.agents.agent import Agent, OpenAIChat

    if len(args) < 2:
        raise ConfigError("give audio files and then a question", hint='almkit agent a.wav "What is said?"')
    *audio, question = args
    missing = next((a for a in audio if not Path(a).is_file()), None)
    if missing is not None:
        raise AudioError("no such file", source=missing, hint="pass audio files, then the question last")
    if llm and not llm_model:
        raise ConfigError("--llm needs --llm-model", hint="name the model the endpoint serves")
    tools, registry = _registry()
    chat = OpenAIChat(llm, llm_model, api_key=llm_key) if llm else None
    embed = lambda texts: tools.towers.text_encoder.encode(texts).numpy()  # noqa: E731
    result = Agent(registry, chat, max_steps=max_steps, tool_timeout=tool_timeout, embed=embed).run(audio, question)
    if fmt == Format.json:
        print(json.dumps(result.to_dict()))
        return
    if trace:
        for n, step in enumerate(result.to_dict()["steps"], 1):
            typer.echo(f"step {n}: {step['tool']}({json.dumps(step['arguments'])})  {step['seconds']:.2f} s")
            typer.echo("  " + json.dumps(step.get("output", {"error": step.get("error")}))[:2000])
        typer.echo(f"planner {result.planner}: plan {result.plan_seconds:.2f} s, answer {result.answer_seconds:.2f} "
                   f"s, total {result.seconds:.2f} s\n")  # fmt: skip
    typer.echo(result.text)
    if any(c.error for c in result.calls):
        raise typer.Exit(1)


def tools_(fmt: FORMAT = Format.table) -> None:
    """The audio tools that the agent, MCP and the chat API share, with their arguments."""
    _, registry = _registry()
    if fmt == Format.json:
        for tool in registry:
            print(json.dumps(tool.openai()["function"]))
        return
    rows = []
    for tool in registry:
        required = set(tool.parameters.get("required", []))
        args = ", ".join(k if k in required else f"[{k}]" for k in tool.parameters["properties"])
        rows.append([tool.name, args, tool.description])
    table("almkit audio tools", ["tool", "arguments", "what it gives"], rows)


def tool(
    name: Annotated[str, typer.Argument(help="The tool (see `almkit tools`).")],
    arguments: Annotated[str, typer.Argument(help='Its arguments as JSON, e.g. \'{"audio": "a.wav"}\'.')],
) -> None:
    """Call one audio tool and print its JSON output."""
    from almkit.agents.tools import ToolError

    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError as err:
        raise ConfigError(f"the arguments are not JSON: {err}", hint='write e.g. \'{"audio": "a.wav"}\'') from None
    _, registry = _registry()
    try:
        print(json.dumps(registry.run(name, parsed)))
    except ToolError as err:
        raise ConfigError(str(err)) from None


def mcp(
    root: Annotated[
        list[Path] | None, typer.Option("--root", help="Folder whose audio clients may name (repeatable; default: .).")
    ] = None,
    transport: Annotated[str, typer.Option("--transport", help="stdio, or http (streamable HTTP at /mcp).")] = "stdio",
    host: HOST = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port for --transport http.")] = 8765,
    max_bytes: MAX_BYTES = 25 * 1024 * 1024,
    tool_timeout: Annotated[float, typer.Option("--tool-timeout", min=1, help="Seconds one tool call may take.")] = 300,
) -> None:
    """Serve the audio tools over the Model Context Protocol (stdio or streamable HTTP).

    Clients give audio as a path under a --root folder (anything outside is refused) or as
    data:audio/<format>;base64,... up to --max-bytes.
    """
    from almkit.agents.sources import AudioSources
    from almkit.serving.mcp import build_server

    if transport not in ("stdio", "http"):
        raise ConfigError(f"--transport {transport!r} is unknown", hint="use stdio or http")
    _, registry = _registry()
    server = build_server(registry, AudioSources(root or [Path.cwd()], max_bytes=max_bytes), timeout=tool_timeout)
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)


def serve(
    host: HOST = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    api_key: Annotated[
        str | None, typer.Option("--api-key", envvar="ALMKIT_API_KEY", help="Require 'Authorization: Bearer KEY'.")
    ] = None,
    max_bytes: MAX_BYTES = 25 * 1024 * 1024,
    index: Annotated[
        Path | None, typer.Option("--index", help="Also serve this index: search page at /, JSON API at /api.")
    ] = None,
) -> None:
    """Serve an OpenAI-compatible chat API (POST /v1/chat/completions, GET /v1/models) that answers about audio,
    and with --index a collection's search page and API.

    Send audio as input_audio content parts (base64 wav/mp3/flac/ogg); the model field picks almkit-two-heads
    or almkit-agent. Requests over --max-bytes get HTTP 413.
    """
    import uvicorn

    from almkit.serving.app import create_app

    app = create_app(max_bytes=max_bytes, api_key=api_key, index=str(index) if index else None)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command()(agent)
    app.command(name="tools")(tools_)
    app.command()(tool)
    app.command()(mcp)
    app.command()(serve)
