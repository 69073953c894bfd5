"""Two-Towers model: config validation, projectors, strict save/load, and the training engine's resume.

These tests build models with explicit tower sizes so they need no encoder; the real-audio paths are covered
in tests/test_cli_towers.py.
"""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from almkit.architectures.two_towers import TwoTowers, TwoTowersConfig
from almkit.architectures.two_towers.projectors import ConSEProjector
from almkit.errors import CheckpointError, ConfigError
from almkit.training.engine import TrainConfig, fit
from almkit.training.two_towers import PairDataset
from devices import DEVICES


def small_config(**kw):
    base = dict(audio_dim=12, text_dim=8, embed_dim=8, hidden_dim=16, audio_projector="mlp", text_projector="linear")
    return TwoTowersConfig(**{**base, **kw})


def test_config_validation_names_the_field():
    with pytest.raises(ConfigError, match="audio_projector"):
        small_config(audio_projector="bogus").validate()
    with pytest.raises(ConfigError, match="loss"):
        small_config(loss="triplet").validate()
    with pytest.raises(ConfigError, match="prompt"):
        small_config(prompt="no placeholder").validate()


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = TwoTowers(small_config(loss="sigmoid")).eval()
    model.save_pretrained(tmp_path)
    loaded = TwoTowers.from_pretrained(tmp_path)
    x, t = torch.randn(3, 12), torch.randn(3, 8)
    assert torch.equal(model.project_audio(x), loaded.project_audio(x))
    assert torch.equal(model.project_text(t), loaded.project_text(t))
    assert torch.equal(model.logit_bias, loaded.logit_bias)
    assert json.loads((tmp_path / "config.json").read_text())["loss"] == "sigmoid"


def test_load_fails_on_missing_and_unexpected_keys(tmp_path):
    TwoTowers(small_config()).save_pretrained(tmp_path)
    state = load_file(str(tmp_path / "model.safetensors"))
    state.pop("logit_scale")
    state["stray.weight"] = torch.zeros(1)
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"missing \['logit_scale'\].*unexpected \['stray.weight'\]"):
        TwoTowers.from_pretrained(tmp_path)


def test_load_of_a_folder_without_weights_says_what_it_needs(tmp_path):
    with pytest.raises(CheckpointError, match="config.json and model.safetensors"):
        TwoTowers.from_pretrained(tmp_path)


def test_conse_projector_starts_at_the_training_free_prior():
    proj = ConSEProjector(in_dim=6 + 4, out_dim=3, n_classes=4, hidden_dim=5, top_k=2)
    proj.class_text.copy_(torch.eye(4, 3))
    x = torch.tensor([[0.0] * 6 + [0.9, 0.1, 0.3, 0.0]])
    # top-2 classes are 0 (0.9) and 2 (0.3): weighted mean of e0 and e2, normalised
    expected = torch.nn.functional.normalize(torch.tensor([[0.75, 0.0, 0.25]]), dim=-1)
    assert torch.allclose(proj(x), expected, atol=1e-6)
    assert torch.allclose(proj.prior(x), expected, atol=1e-6)


def _dataset(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    audio = list(torch.randn(n, 12, generator=g))
    text_feats = torch.randn(n, 8, generator=g)
    captions = {f"caption {i}": text_feats[i] for i in range(n)}
    return PairDataset([(i, f"caption {i}") for i in range(n)], audio, captions)


def _train(out, steps, checkpoint_every=0, accelerator="cpu"):
    torch.manual_seed(0)
    model = TwoTowers(small_config())
    cfg = TrainConfig(
        out_dir=str(out),
        max_steps=steps,
        batch_size=8,
        lr=1e-2,
        checkpoint_every=checkpoint_every,
        log_every=1,
        progress=False,
        accelerator=accelerator,
    )
    result = fit(model, _dataset(), cfg)
    return model, result


@pytest.mark.parametrize("device", DEVICES)
def test_training_lowers_the_loss_and_logs(tmp_path, device):
    _, result = _train(tmp_path, steps=30, accelerator=device)
    log = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 31))
    assert log[-1]["loss"] < log[0]["loss"]
    assert {"loss", "lr", "epoch"} <= log[0].keys()
    assert (tmp_path / "checkpoints" / "step-0000030" / "model.safetensors").is_file()


@pytest.mark.parametrize("device", DEVICES)
def test_resume_continues_the_same_run(tmp_path, device):
    """An interrupted run (crash after step 10 of 16, checkpoints every 5) resumes to the same weights."""
    straight, _ = _train(tmp_path / "a", steps=16, accelerator=device)
    _train(tmp_path / "b", steps=16, checkpoint_every=5, accelerator=device)
    ckpts = tmp_path / "b" / "checkpoints"
    for later in ("step-0000015", "step-0000016"):  # as if the process died after step 10
        for f in (ckpts / later).iterdir():
            f.unlink()
        (ckpts / later).rmdir()
    resumed, result = _train(tmp_path / "b", steps=16, checkpoint_every=5, accelerator=device)
    assert result.steps == 16
    for (name, p), q in zip(straight.named_parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q), name


def test_engine_rejects_bad_settings(tmp_path):
    with pytest.raises(ConfigError, match="batch_size"):
        fit(TwoTowers(small_config()), _dataset(), TrainConfig(out_dir=str(tmp_path), batch_size=0))
    with pytest.raises(ConfigError, match="accelerator"):
        fit(TwoTowers(small_config()), _dataset(), TrainConfig(out_dir=str(tmp_path), accelerator="tpu"))
