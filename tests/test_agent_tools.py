"""The audio tools and their registry, on real audio: freedesktop sounds, FSDD speakers, flite speech.

The registry's own machinery (schemas, validation, time limits, failures) is checked on small functions
written here; every audio tool is called on real recordings and its output checked against what is known of
them (who speaks when, what is said, how long and how loud the file is).
"""

import json
import subprocess
import time
from typing import Annotated

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
import soxr
from pydantic import Field

from almkit.agents.audio_tools import AudioTools, cluster_speakers
from almkit.agents.tools import Tool, ToolError, ToolRegistry
from shared_data import FSDD

BELL = "/usr/share/sounds/freedesktop/stereo/bell.oga"
PHONE = "/usr/share/sounds/freedesktop/stereo/phone-incoming-call.oga"


def _turns(path, speakers, rate=8000):
    """FSDD digits, three per turn, turns 0.8 s apart: ``speakers`` names the speaker of each turn."""
    parts = []
    for k, who in enumerate(speakers):
        for d in range(3):
            parts += [sf.read(FSDD / f"{(k + d) % 10}_{who}_{10 + d}.wav", dtype="float32")[0], np.zeros(1200)]
        parts.append(np.zeros(int(0.8 * rate), np.float32))
    sf.write(path, np.concatenate(parts).astype(np.float32), rate)
    return str(path)


@pytest.fixture(scope="module")
def tools():
    return AudioTools()


@pytest.fixture(scope="module")
def registry(tools):
    return tools.registry()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("agent-audio")
    sentence = folder / "sentence.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", "Please close the window.", "-o", str(sentence)], check=True)
    bell, rate = sf.read(BELL, dtype="float32")
    bell = bell.mean(1) if bell.ndim > 1 else bell
    late = folder / "late-bell.wav"  # 2 s of silence, then the bell
    sf.write(late, np.concatenate([np.zeros(2 * rate, np.float32), bell]), rate)
    said, said_rate = sf.read(sentence, dtype="float32")
    speech_then_bell = folder / "speech-then-bell.wav"  # the sentence, 1 s of silence, the bell
    said = soxr.resample(said, said_rate, rate).astype(np.float32)
    sf.write(speech_then_bell, np.concatenate([said, np.zeros(rate, np.float32), bell]), rate)
    return {
        "sentence": str(sentence),
        "late_bell": str(late),
        "speech_then_bell": str(speech_then_bell),
        "one": _turns(folder / "one.wav", ["george", "george"]),
        "two": _turns(folder / "two.wav", ["george", "jackson", "george"]),
        "george": _turns(folder / "george.wav", ["george"]),
        "jackson": _turns(folder / "jackson.wav", ["jackson"]),
    }


# --- the registry ---------------------------------------------------------------------------------------------
def scale(
    audio: str, factor: Annotated[float, Field(gt=0, description="How much louder.")] = 2.0, note: str = ""
) -> dict:
    """Scale a clip.

    More text that is not the description."""
    return {"audio": audio, "factor": factor}


def test_schema_comes_from_the_signature_and_the_docstring():
    tool = Tool.from_function(scale)
    assert tool.description == "Scale a clip."
    schema = tool.parameters
    assert schema["required"] == ["audio"] and schema["additionalProperties"] is False
    assert schema["properties"]["factor"] == {
        "default": 2.0, "description": "How much louder.", "exclusiveMinimum": 0, "title": "Factor", "type": "number"
    }  # fmt: skip
    assert tool.openai()["function"]["name"] == "scale" and tool.reads_audio


@pytest.mark.parametrize(
    ("arguments", "named"),
    [({}, "audio: Field required"), ({"audio": "a", "factor": -1}, "factor"), ({"audio": "a", "x": 1}, "x: Extra")],
)
def test_invalid_arguments_are_named(arguments, named):
    with pytest.raises(ToolError, match=named):
        ToolRegistry([Tool.from_function(scale)]).run("scale", arguments)


def test_audio_is_resolved_time_limits_and_failures_are_reported_not_raised():
    def slow(audio: str) -> dict:
        """Sleep."""
        time.sleep(2)
        return {}

    def broken(audio: str) -> dict:
        """Fail."""
        raise RuntimeError("boom")

    registry = ToolRegistry([Tool.from_function(f) for f in (scale, slow, broken)])
    assert registry.run("scale", {"audio": "a"}, resolve=lambda a: f"/root/{a}")["audio"] == "/root/a"
    call = registry.call("slow", {"audio": "a"}, timeout=0.2)
    assert "longer than its limit of 0.2 s" in call.error and call.seconds < 1.5
    assert registry.call("broken", {"audio": "a"}).error == "broken failed: RuntimeError: boom"
    assert "no tool named 'nope'" in registry.call("nope", {}).error
    assert json.loads(json.dumps(call.to_dict()))["error"] == call.error


def test_speaker_clustering():
    e = np.eye(3)[[0, 0, 1, 2, 1]] + 0.01
    assert cluster_speakers(e / np.linalg.norm(e, axis=1, keepdims=True)) == [0, 0, 1, 2, 1]


def test_every_tool_has_a_schema_and_reads_audio(registry):
    assert {t.name for t in registry} == {
        "tag", "classify", "caption", "ask", "transcribe", "speech_segments", "detect", "order", "loudness",
        "compare_speakers", "search",
    }  # fmt: skip
    for tool in registry:
        assert tool.reads_audio and tool.description and "audio" in tool.parameters["required"]


# --- the tools on real audio -------------------------------------------------------------------------------
def test_loudness_is_bs1770_on_the_file_as_stored(registry):
    out = registry.run("loudness", {"audio": PHONE})
    data, rate = sf.read(PHONE, always_2d=True)
    assert out["sample_rate_hz"] == rate and out["channels"] == data.shape[1]
    assert out["duration_s"] == pytest.approx(len(data) / rate, abs=1e-3)
    reference = pyloudnorm.Meter(rate).integrated_loudness(data if data.shape[1] > 1 else data[:, 0])
    assert out["integrated_lufs"] == pytest.approx(reference, abs=0.01)
    assert out["peak_dbfs"] == pytest.approx(20 * np.log10(np.abs(data).max()), abs=0.01)


def test_loudness_of_a_quieter_copy_drops_by_the_gain(registry, tmp_path):
    data, rate = sf.read(PHONE, dtype="float32")
    sf.write(tmp_path / "quiet.wav", data * 0.5, rate, subtype="FLOAT")
    sf.write(tmp_path / "silent.wav", np.zeros(rate, np.float32), rate)
    loud = registry.run("loudness", {"audio": PHONE})["integrated_lufs"]
    quiet = registry.run("loudness", {"audio": str(tmp_path / "quiet.wav")})["integrated_lufs"]
    assert quiet == pytest.approx(loud - 6.02, abs=0.05)
    silent = registry.run("loudness", {"audio": str(tmp_path / "silent.wav")})
    assert silent["integrated_lufs"] is None and silent["peak_dbfs"] is None


def test_tag_names_the_bell_and_gives_times(registry, clips):
    out = registry.run("tag", {"audio": clips["late_bell"], "top_k": 3})
    labels = [t["label"] for t in out["tags"]]
    assert labels[0] == "Silence" and out["tags"][0]["end_s"] <= 2  # 2 s of silence first
    bell = next(t for t in out["tags"] if t["label"] in ("Ding", "Bell", "Chime", "Jingle bell"))
    assert 1.9 <= bell["start_s"] < bell["end_s"] <= out["duration_s"]  # then the bell
    assert out["windows"][0]["start_s"] == 0 and out["windows"][1]["start_s"] == 0.96


def test_detect_finds_the_bell_after_the_silence(registry, clips):
    out = registry.run("detect", {"audio": clips["late_bell"], "query": "a bell ringing"})
    assert out["events"], out
    assert 1.5 <= out["events"][0]["start_s"] <= 2.5 and out["best_at_s"] >= 1.5  # the bell starts at 2 s
    assert registry.run("detect", {"audio": clips["late_bell"], "query": "a dog barking"})["events"] == []


def test_order_compares_the_first_onsets_of_two_sounds(registry, clips):
    audio = clips["speech_then_bell"]
    out = registry.run("order", {"audio": audio, "first": "someone speaking", "second": "a bell ringing"})
    assert out["first_is_before"] and out["first_starts_s"] < 1 < 2.5 < out["second_starts_s"], out
    back = registry.run("order", {"audio": audio, "first": "a bell ringing", "second": "someone speaking"})
    assert not back["first_is_before"]
    assert registry["order"].answers(back)[0][1].startswith("no: 'a bell ringing' starts at")


def test_transcribe_gives_words_with_times(registry, clips):
    out = registry.run("transcribe", {"audio": clips["sentence"]})
    assert out["text"].lower().strip(".") == "please close the window"
    words = out["segments"][0]["words"]
    assert [w["word"].lower().strip(".") for w in words] == ["please", "close", "the", "window"]
    assert all(0 <= w["start_s"] <= w["end_s"] <= out["duration_s"] for w in words)


def test_speech_segments_count_the_speakers(registry, clips):
    one, two = (registry.run("speech_segments", {"audio": clips[k]}) for k in ("one", "two"))
    assert one["speakers"] == 1 and two["speakers"] == 2, (one, two)
    assert [s["speaker"] for s in two["segments"]][0] == 0 and len(two["segments"]) >= 3
    assert all(a["end_s"] <= b["start_s"] for a, b in zip(two["segments"], two["segments"][1:], strict=False))


def test_compare_speakers(registry, clips):
    same = registry.run("compare_speakers", {"audio": clips["george"], "other": clips["one"]})
    other = registry.run("compare_speakers", {"audio": clips["george"], "other": clips["jackson"]})
    assert same["same_speaker"] and not other["same_speaker"] and same["cosine"] > other["cosine"]
    with pytest.raises(ToolError, match="no speech found"):
        registry.run("compare_speakers", {"audio": clips["late_bell"], "other": clips["one"]})


def test_classify_and_search_rank_the_right_clip(registry, clips):
    out = registry.run("classify", {"audio": clips["sentence"], "labels": ["speech", "a bell", "a drum"]})
    assert out["label"] == "speech" and abs(sum(x["score"] for x in out["labels"]) - 1) < 1e-3
    found = registry.run("search", {"audio": [clips["sentence"], clips["late_bell"]], "query": "a bell ringing"})
    assert found["results"][0]["audio"] == clips["late_bell"]


def test_caption_and_ask_use_the_two_heads_model(registry, clips):
    caption = registry.run("caption", {"audio": clips["late_bell"]})
    assert caption["text"] and caption["windows"][0]["start_s"] == 0
    assert registry.run("ask", {"audio": clips["sentence"], "question": "Does anyone speak?"})["text"] == "yes"


def test_bad_audio_is_a_tool_error_naming_the_file(registry, tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00not audio")
    for name in ("tag", "loudness", "transcribe"):
        call = registry.call(name, {"audio": str(corrupt)})
        assert call.output is None and str(corrupt) in call.error
