"""almkit's audio tools over the Model Context Protocol, with the official ``mcp`` SDK (stdio or streamable HTTP).

Each tool of the registry is published with the same name, description and JSON schema (the SDK reads the
same signature). Audio arguments are a path under the allowed roots or a ``data:audio/<format>;base64,...``
URI up to the size limit; anything else is refused with an error result that says why. Tools run in a worker
thread, so one long call does not stall the server's other requests.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import anyio
from pydantic import Field

from almkit.agents.sources import AudioSources
from almkit.agents.tools import AUDIO_ARGUMENTS, Tool, ToolError, ToolRegistry

AUDIO_HELP = "A path under the server's --root folders, or data:audio/<wav|mp3|flac|ogg>;base64,<data>."


def _client_signature(tool: Tool) -> inspect.Signature:
    """The tool's signature as a client sees it: audio arguments described as paths under a root or data URIs."""
    params = []
    for p in tool.signature.parameters.values():
        if p.name in AUDIO_ARGUMENTS:
            kind = list[str] if "list" in str(p.annotation) else str
            p = p.replace(annotation=Annotated[kind, Field(description=AUDIO_HELP)])
        params.append(p)
    return inspect.Signature(params, return_annotation=dict[str, Any])


def _mcp_function(registry: ToolRegistry, tool: Tool, sources: AudioSources, timeout: float | None):
    from mcp.server.mcpserver.exceptions import ToolError as MCPToolError

    async def call(**arguments) -> dict:
        def run() -> dict:
            with sources.scoped() as resolve:
                return registry.run(tool.name, arguments, resolve=resolve, timeout=timeout)

        try:
            return await anyio.to_thread.run_sync(run)
        except ToolError as err:  # the client gets the one-line reason as an error result
            raise MCPToolError(str(err)) from None

    call.__name__ = tool.name
    call.__doc__ = tool.fn.__doc__
    call.__signature__ = _client_signature(tool)
    return call


def build_server(registry: ToolRegistry, sources: AudioSources, timeout: float | None = 300.0):
    """An ``MCPServer`` publishing every tool of ``registry``; run it with ``.run("stdio")`` or
    ``.run("streamable-http", host=..., port=...)``."""
    from mcp.server.mcpserver import MCPServer

    from almkit import __version__

    server = MCPServer(
        name="almkit",
        version=__version__,
        instructions="Audio tools: tagging, zero-shot classification, captions, questions, transcripts, speech and "
        "speakers, event times, loudness and search. Give audio as a path under the server's roots or as base64.",
    )
    for tool in registry:
        server.add_tool(
            _mcp_function(registry, tool, sources, timeout),
            name=tool.name,
            description=tool.description,
            structured_output=True,
        )
    return server
