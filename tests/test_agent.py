"""The agent: the local planner (SmolLM2 under a JSON-schema grammar) on real audio, its plan grammar, the
``almkit agent`` command, and the loop with an OpenAI-compatible endpoint."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import soundfile as sf

from almkit.agents.agent import Agent, OpenAIChat, plan_schema
from almkit.agents.audio_tools import AudioTools

PHONE = "/usr/share/sounds/freedesktop/stereo/phone-incoming-call.oga"
BELL = "/usr/share/sounds/freedesktop/stereo/bell.oga"


@pytest.fixture(scope="module")
def tools():
    return AudioTools()


@pytest.fixture(scope="module")
def agent(tools):
    return Agent(tools.registry(), embed=lambda texts: tools.towers.text_encoder.encode(texts).numpy())


@pytest.fixture(scope="module")
def sentence(tmp_path_factory):
    wav = tmp_path_factory.mktemp("agent") / "sentence.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", "Please close the window.", "-o", str(wav)], check=True)
    return str(wav)


def test_plan_grammar_names_real_tools_and_only_the_given_audio(tools):
    schema = plan_schema(tools.registry(), ["audio1"], 3, question="Is there a dog?")
    calls = schema["properties"]["calls"]
    assert calls["maxItems"] == 3 and calls["minItems"] == 1
    options = {c["properties"]["tool"]["const"]: c["properties"]["arguments"] for c in calls["items"]["anyOf"]}
    assert "compare_speakers" not in options  # it needs two recordings
    assert options["loudness"]["properties"] == {"audio": {"enum": ["audio1"]}}
    assert options["ask"]["properties"]["question"] == {"const": "Is there a dog?"}
    assert options["search"]["properties"]["audio"] == {"const": ["audio1"]}
    two = plan_schema(tools.registry(), ["audio1", "audio2"], 1, only={"compare_speakers"})
    (only,) = two["properties"]["calls"]["items"]["anyOf"]
    assert only["properties"]["arguments"]["properties"]["other"] == {"enum": ["audio1", "audio2"]}


def test_local_agent_answers_from_tool_results_with_evidence(agent, sentence):
    result = agent.run([PHONE], "How long does this audio last?")
    data, rate = sf.read(PHONE)
    assert [c.tool for c in result.calls] == ["loudness"] and result.calls[0].arguments == {"audio": "audio1"}
    assert result.answer == f"duration {len(data) / rate:.2f} s [1]"
    assert result.evidence()[0].startswith('[1] loudness(audio="audio1"): loudness ')
    said = agent.run([sentence], "What is the speaker saying?")
    assert [c.tool for c in said.calls] == ["transcribe"] and "close the window" in said.answer.lower()
    record = said.to_dict()
    assert record["steps"][0]["output"]["text"] and record["seconds"]["total"] >= record["seconds"]["plan"] > 0


def test_local_agent_finds_the_clip(agent, sentence):
    result = agent.run([sentence, BELL], "Which recording has a bell?")
    assert [c.tool for c in result.calls] == ["search"] and result.answer.startswith("bell.oga")


def test_same_question_same_plan_and_answer(agent):
    first, second = (agent.run([PHONE], "How loud is this file?") for _ in range(2))
    assert first.answer == second.answer and [c.to_dict()["arguments"] for c in first.calls] == [
        c.to_dict()["arguments"] for c in second.calls
    ]


def test_cli_agent_json_trace_and_errors(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "almkit", "agent", PHONE, "How loud is this file?", "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["steps"][0]["tool"] == "loudness" and "LUFS [1]" in out["answer"] and out["audio"] == {"audio1": PHONE}
    r = subprocess.run(
        [sys.executable, "-m", "almkit", "agent", "/no/such.wav", "What?"], capture_output=True, text=True
    )
    assert r.returncode == 2 and "/no/such.wav" in r.stderr and "Traceback" not in r.stderr


class _ScriptedEndpoint(BaseHTTPRequestHandler):
    """A stand-in for a remote chat model with tool calling (none runs offline here): the first reply calls
    ``loudness`` on the first audio, the second answers from the tool message it was sent."""

    requests: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        tool_results = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_results:
            call = {
                "id": "c1",
                "type": "function",
                "function": {"name": "loudness", "arguments": '{"audio": "audio1"}'},
            }
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
        else:
            message = {"role": "assistant", "content": f"It measures {tool_results[0]['content'].split(',')[0]} [1]."}
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}  # fmt: skip
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_openai_compatible_planner_loop(tools):
    """The loop against an OpenAI-compatible endpoint (a scripted one: no tool-calling model runs offline here):
    the tools it is offered, the ids it must use, the tool message it gets back and the final answer."""
    server = HTTPServer(("127.0.0.1", 0), _ScriptedEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        chat = OpenAIChat(f"http://127.0.0.1:{server.server_port}/v1", "scripted")
        result = Agent(tools.registry(), chat).run([PHONE], "How loud is it?")
    finally:
        server.shutdown()
    first, second = _ScriptedEndpoint.requests
    offered = {t["function"]["name"]: t["function"]["parameters"] for t in first["tools"]}
    assert offered["loudness"]["properties"]["audio"] == {"enum": ["audio1"]} and len(offered) == 10
    assert second["messages"][-1]["role"] == "tool" and "LUFS" in second["messages"][-1]["content"]
    assert result.planner == "openai:scripted" and [c.tool for c in result.calls] == ["loudness"]
    assert result.answer.startswith("It measures loudness ") and "LUFS [1]" in result.answer
