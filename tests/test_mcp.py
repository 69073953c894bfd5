"""``almkit mcp`` with the official MCP SDK's own client: in process, over stdio and over streamable HTTP.

Lists the tools, calls every one on real audio (FSDD speech, a freedesktop sound, flite speech), and checks the
error results for paths outside the roots, bad audio, oversized or malformed inline data and bad arguments.
"""

import asyncio
import base64
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from mcp import Client, StdioServerParameters

from almkit.agents.audio_tools import AudioTools
from almkit.agents.sources import AudioSources
from almkit.serving.mcp import build_server
from servers import free_port, start
from shared_data import FSDD

PHONE = "/usr/share/sounds/freedesktop/stereo/phone-incoming-call.oga"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mcp-root")
    shutil.copy(PHONE, folder / "phone.oga")
    for who in ("george", "jackson"):  # three digits each, as one recording
        digits = [sf.read(FSDD / f"{d}_{who}_5.wav", dtype="float32")[0] for d in (3, 1, 4)]
        sf.write(folder / f"{who}.wav", np.concatenate([np.pad(d, (0, 1200)) for d in digits]), 8000)
    subprocess.run(
        ["flite", "-voice", "slt", "-t", "Please close the window.", "-o", str(folder / "door.wav")], check=True
    )
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00not audio at all")
    return folder


@pytest.fixture(scope="module")
def server(root):
    return build_server(AudioTools().registry(), AudioSources([root], max_bytes=200_000), timeout=300)


def run(coro):
    return asyncio.run(coro)


async def _calls(server, calls):
    async with Client(server) as client:
        return [await client.call_tool(name, args) for name, args in calls]


def test_lists_every_tool_with_its_schema(server):
    async def go():
        async with Client(server) as client:
            return (await client.list_tools()).tools

    tools = {t.name: t for t in run(go())}
    assert set(tools) == {t.name for t in AudioTools().registry()}
    for tool in tools.values():
        assert (
            "audio" in tool.input_schema["required"]
            and "--root" in tool.input_schema["properties"]["audio"]["description"]
        )
    assert tools["detect"].input_schema["properties"]["threshold"]["default"] == 0.3


def test_calls_every_tool_on_real_audio(server):
    calls = [
        ("tag", {"audio": "phone.oga", "top_k": 2}),
        ("classify", {"audio": "door.wav", "labels": ["speech", "a bell"]}),
        ("caption", {"audio": "phone.oga"}),
        ("ask", {"audio": "door.wav", "question": "Does anyone speak?"}),
        ("transcribe", {"audio": "door.wav"}),
        ("speech_segments", {"audio": "george.wav"}),
        ("detect", {"audio": "phone.oga", "query": "a telephone ringing"}),
        ("order", {"audio": "phone.oga", "first": "a telephone ringing", "second": "a dog barking"}),
        ("loudness", {"audio": "phone.oga"}),
        ("compare_speakers", {"audio": "george.wav", "other": "jackson.wav"}),
        ("search", {"audio": ["door.wav", "phone.oga"], "query": "a telephone ringing"}),
    ]
    results = dict(zip([c[0] for c in calls], run(_calls(server, calls)), strict=True))
    assert not any(r.is_error for r in results.values()), {k: r.content for k, r in results.items() if r.is_error}
    out = {k: r.structured_content for k, r in results.items()}
    assert len(out["tag"]["tags"]) == 2 and out["classify"]["label"] == "speech"
    assert out["caption"]["text"] and out["ask"]["text"] == "yes"
    assert out["transcribe"]["text"].lower().strip(".") == "please close the window"
    assert out["speech_segments"]["speakers"] == 1 and out["loudness"]["sample_rate_hz"] == 44100
    assert out["detect"]["events"] and out["compare_speakers"]["same_speaker"] is False
    assert out["order"]["first_starts_s"] <= out["order"]["second_starts_s"]
    assert out["search"]["results"][0]["audio"].endswith("phone.oga")


def test_inline_base64_audio_is_accepted_up_to_the_limit(server, root):
    data = base64.b64encode((root / "george.wav").read_bytes()).decode()
    big = base64.b64encode(b"\0" * 300_000).decode()
    ok, too_big, not_b64, odd_format = run(
        _calls(
            server,
            [
                ("loudness", {"audio": f"data:audio/wav;base64,{data}"}),
                ("loudness", {"audio": f"data:audio/wav;base64,{big}"}),
                ("loudness", {"audio": "data:audio/wav;base64,@@@not base64@@@"}),
                ("loudness", {"audio": f"data:audio/aiff;base64,{data}"}),
            ],
        )
    )
    assert not ok.is_error and ok.structured_content["sample_rate_hz"] == 8000
    assert too_big.is_error and "over the limit of 200000 bytes" in too_big.content[0].text
    assert not_b64.is_error and "not valid base64" in not_b64.content[0].text
    assert odd_format.is_error and "'aiff' is not supported" in odd_format.content[0].text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"audio": "/etc/passwd"}, "outside the allowed roots"),
        ({"audio": "../../../../etc/passwd"}, "outside the allowed roots"),
        ({"audio": "sub/../../phone.oga"}, "outside the allowed roots"),
        ({"audio": "missing.wav"}, "file not found"),
        ({"audio": "corrupt.wav"}, "corrupt.wav"),
        ({"audio": "phone.oga", "top_k": "many"}, "top_k"),
        ({"top_k": 3}, "audio"),
    ],
)
def test_errors_are_results_that_say_why(server, arguments, message):
    (result,) = run(_calls(server, [("tag", arguments)]))
    assert result.is_error and message in result.content[0].text, result.content[0].text


def test_stdio_server(root):
    params = StdioServerParameters(command=sys.executable, args=["-m", "almkit", "mcp", "--root", str(root)])

    async def go():
        async with Client(params) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            return names, await client.call_tool("loudness", {"audio": "phone.oga"})

    names, result = run(go())
    assert "transcribe" in names and result.structured_content["channels"] >= 1


def test_streamable_http_server(root):
    port = free_port()
    cmd = [sys.executable, "-m", "almkit", "mcp", "--transport", "http", "--port", str(port), "--root", str(root)]
    proc = start(cmd, port, stdout=subprocess.DEVNULL)
    try:

        async def go():
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                return await client.call_tool("loudness", {"audio": "george.wav"}), await client.call_tool(
                    "loudness", {"audio": "/etc/hostname"}
                )

        ok, refused = run(go())
        assert ok.structured_content["duration_s"] > 0
        assert refused.is_error and "outside the allowed roots" in refused.content[0].text
    finally:
        proc.terminate()
        proc.wait(10)
