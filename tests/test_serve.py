"""``almkit serve``: the OpenAI-compatible chat API, driven by the official ``openai`` client against the running
server, on real audio (flite speech, a freedesktop sound).

One server (a subprocess, on a free localhost port, with an API key and a 2 MB request limit) answers every
test: models list, Two-Heads answers (plain and streamed), the agent's grounded answer, and the errors a client
gets for a wrong key, an unknown model, a request without audio and a request over the limit.
"""

import base64
import os
import subprocess
import sys

import numpy as np
import openai
import pytest
import soundfile as sf

from servers import free_port, start

PHONE = "/usr/share/sounds/freedesktop/stereo/phone-incoming-call.oga"
KEY = "test-key-123"


@pytest.fixture(scope="module")
def server():
    port = free_port()
    cmd = [sys.executable, "-m", "almkit", "serve", "--port", str(port), "--max-bytes", "2000000"]
    proc = start(cmd, port, env={**os.environ, "ALMKIT_API_KEY": KEY})
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server, api_key=KEY, max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    wav = tmp_path_factory.mktemp("serve") / "speech.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", "Please close the window.", "-o", str(wav)], check=True)
    return base64.b64encode(wav.read_bytes()).decode()


def ask(text: str, audio_b64: str, fmt: str = "wav") -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": text},
             {"type": "input_audio", "input_audio": {"data": audio_b64, "format": fmt}}]}]  # fmt: skip


def test_models(client):
    assert {m.id for m in client.models.list()} == {"almkit-two-heads", "almkit-agent"}


def test_two_heads_answers_plain_and_streamed(client, speech):
    reply = client.chat.completions.create(model="almkit-two-heads", messages=ask("Does anyone speak?", speech))
    assert reply.choices[0].message.content == "yes" and reply.choices[0].finish_reason == "stop"
    stream = client.chat.completions.create(
        model="almkit-two-heads", messages=ask("Describe the audio.", speech), stream=True
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    plain = client.chat.completions.create(model="almkit-two-heads", messages=ask("Describe the audio.", speech))
    assert len(pieces) > 2 and "".join(pieces) == plain.choices[0].message.content


def test_agent_answers_with_evidence(client):
    with open(PHONE, "rb") as fh:
        phone = base64.b64encode(fh.read()).decode()
    reply = client.chat.completions.create(model="almkit-agent", messages=ask("How long is this recording?", phone))
    text = reply.choices[0].message.content
    data, rate = sf.read(PHONE)
    assert f"duration {len(data) / rate:.2f} s [1]" in text and "Evidence:" in text and "loudness(" in text


def test_errors(server, client, speech):
    wrong = openai.OpenAI(base_url=server, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=ask("Hi?", speech))
    with pytest.raises(openai.BadRequestError, match="no audio"):
        client.chat.completions.create(model="almkit-two-heads", messages=[{"role": "user", "content": "Hi?"}])
    with pytest.raises(openai.BadRequestError, match="not valid base64"):
        client.chat.completions.create(model="almkit-two-heads", messages=ask("Hi?", "@@notbase64@@"))
    noise = np.random.default_rng(0).standard_normal(48_000 * 10).astype(np.float32) * 0.1
    big = base64.b64encode(noise.tobytes()).decode()  # ~2.6 MB of base64: over the server's 2 MB
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="almkit-two-heads", messages=ask("Hi?", big))
    assert err.value.status_code == 413 and "over the limit" in err.value.message
