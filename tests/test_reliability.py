"""Bad inputs give one clear line naming the input (exit 2 from the CLI), never a traceback; damaged caches are
rebuilt. Cases from the reliability probe of issue 20."""

import json
import subprocess
import sys

import pytest
import torch
import yaml

from almkit.errors import CheckpointError, ConfigError, ManifestError
from shared_data import FSDD


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "almkit", *map(str, args)], capture_output=True, input=stdin)


def test_manifests_that_are_not_utf8_or_nested_too_deeply_name_the_line(tmp_path):
    from almkit.data.manifest import read_manifest

    m = tmp_path / "m.jsonl"
    m.write_bytes('{"audio": "a.wav", "label": "dog"}\n{"audio": "caf\xe9.wav", "label": "cat"}\n'.encode("latin-1"))
    with pytest.raises(ManifestError, match=r"m\.jsonl:2.*not UTF-8"):
        list(read_manifest(m))
    m.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ManifestError, match=r"m\.jsonl:1"):
        list(read_manifest(m))


@pytest.mark.parametrize(
    "fields, message",
    [({"bootstrap": "abc"}, "bootstrap"), ({"prompt": "a {} of {kind}"}, "prompt"), ({"metrics": "top1"}, "metrics")],
)
def test_card_values_of_the_wrong_kind_are_named(tmp_path, fields, message):
    from almkit.evaluation.card import load_card

    card = tmp_path / "c.yaml"
    card.write_text(yaml.safe_dump({"name": "c", "task": "zero-shot", "manifest": "m.jsonl", **fields}))
    with pytest.raises(ConfigError, match=f"card field '{message}'"):
        load_card(card)


def test_damaged_weights_are_named_not_a_traceback(tmp_path):
    import almkit

    model = almkit.load_model()
    model.save_pretrained(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated
    with pytest.raises(CheckpointError, match="unreadable weights"):
        almkit.load_model(tmp_path / "m")
    r = cli("classify", FSDD / "3_theo_1.wav", "--labels", "a,b", "--model", tmp_path / "m")
    assert r.returncode == 2 and b"model.safetensors" in r.stderr and b"Traceback" not in r.stderr, r.stderr
    from safetensors.torch import save_file

    state = {k: v.clone() for k, v in model.state_dict().items()}
    key = next(k for k, v in state.items() if v.ndim == 2)
    state[key] = torch.zeros(3, 3)
    save_file(state, str(weights))
    with pytest.raises(CheckpointError, match="do not match"):
        almkit.load_model(tmp_path / "m")


def test_a_damaged_feature_cache_is_set_aside_and_rebuilt(tmp_path):
    from almkit.encoders import build_audio_encoder
    from almkit.encoders.cache import audio_features

    encoder = build_audio_encoder("yamnet")
    cache = tmp_path / "audio.safetensors"
    clip = [str(FSDD / "3_theo_1.wav")]
    first, _ = audio_features(encoder, "yamnet", clip, cache)
    cache.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="damaged feature cache"):
        again, _ = audio_features(encoder, "yamnet", clip, cache)
    assert torch.equal(first[clip[0]], again[clip[0]]) and (tmp_path / "audio.damaged").is_file()


def test_binary_input_to_chat_and_an_unwritable_out_are_one_line_errors(tmp_path):
    r = cli("chat", FSDD / "3_theo_1.wav", stdin=b"\xff\xfe\x00binary\n")
    assert r.returncode == 2 and b"not text" in r.stderr and b"Traceback" not in r.stderr
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": str(FSDD / "3_theo_1.wav"), "label": "three"}) + "\n")
    r = cli("train", "--manifest", manifest, "--out", "/etc/passwd/run", "--batch-size", "2")
    assert r.returncode == 2 and b"/etc/passwd" in r.stderr and b"Traceback" not in r.stderr


def test_an_answer_does_not_depend_on_the_other_files_of_the_call():
    """The shipped Two-Heads default, on real recordings: each window is decoded on its own."""
    from almkit.architectures.two_heads import load_generator

    sounds = "/usr/share/sounds/freedesktop/stereo/"
    files = [f"{sounds}bell.oga", str(FSDD / "3_theo_1.wav"), f"{sounds}complete.oga", f"{sounds}dialog-warning.oga"]
    gen = load_generator("default", device="cpu")
    together = gen.caption(files)
    assert together == [gen.caption([f])[0] for f in files]
    assert gen.ask(files[:1], ["Is there a dog sound?"]) == gen.ask(files, ["Is there a dog sound?"] * 4)[:1]


def test_a_damaged_checkpoint_is_named(tmp_path):
    from almkit.training.checkpoint import load_checkpoint, save_checkpoint

    module = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(module.parameters())
    module(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    folder = save_checkpoint(tmp_path / "step-0000001", module, optimizer, {"step": 1})
    assert load_checkpoint(folder, module, optimizer)["step"] == 1
    (folder / "optimizer.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors"):
        load_checkpoint(folder, module, optimizer)
