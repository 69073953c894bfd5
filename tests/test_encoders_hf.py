"""transformers towers by local path (CLAP audio tower, AST, Whisper encoder; BERT, T5, CLAP text), each built
here from a small config with random weights and saved to a temporary folder: nothing is downloaded."""

import numpy as np
import pytest
import torch
import transformers as tf

from almkit.assets import require
from almkit.encoders import build_audio_encoder, build_text_encoder
from almkit.encoders.embed import embed_files, embed_waveforms
from almkit.encoders.hf import TransformersAudioEncoder
from almkit.errors import CheckpointError, ConfigError
from devices import DEVICES
from shared_data import FSDD

FILES = [str(FSDD / "7_jackson_3.wav"), "/usr/share/sounds/freedesktop/stereo/phone-incoming-call.oga"]
TEXT = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37, vocab_size=30522)


def _clap(folder):
    # HTSAT layout with tiny widths: 16 -> 128 channels after three patch merges
    audio = dict(
        depths=[1, 1, 1, 1],
        num_attention_heads=[2, 2, 2, 2],
        patch_embeds_hidden_size=16,
        hidden_size=128,
        projection_hidden_size=32,
    )
    text = dict(TEXT, max_position_embeddings=80, projection_hidden_size=32)
    tf.ClapModel(tf.ClapConfig(text_config=text, audio_config=audio, projection_dim=16)).save_pretrained(folder)
    tf.AutoTokenizer.from_pretrained(str(require("minilm"))).save_pretrained(folder)
    return folder


def _ast(folder):
    cfg = tf.ASTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37, max_length=100)
    tf.ASTModel(cfg).save_pretrained(folder)
    tf.ASTFeatureExtractor(max_length=100).save_pretrained(folder)
    return folder


def _whisper(folder):
    cfg = tf.WhisperConfig(
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=37,
        decoder_ffn_dim=37,
        max_source_positions=1500,
    )
    tf.WhisperModel(cfg).save_pretrained(folder)
    tf.WhisperFeatureExtractor().save_pretrained(folder)
    return folder


@pytest.mark.parametrize(
    "make, dim, rate, window",
    [(_clap, 16, 48_000, 10.0), (_ast, 32, 16_000, 1.015), (_whisper, 32, 16_000, 30.0)],
    ids=["clap", "ast", "whisper"],
)
def test_transformers_audio_towers_from_a_local_folder(make, dim, rate, window, tmp_path):
    torch.manual_seed(0)
    encoder = build_audio_encoder(f"hf:{make(tmp_path)}")
    assert (encoder.embed_dim, encoder.sample_rate) == (dim, rate)
    assert encoder.policy.window_s == pytest.approx(window) and encoder.policy.hop_s == encoder.policy.window_s
    a = embed_files(encoder, FILES, progress=False, batch_size=1).embeddings
    b = embed_files(encoder, FILES, progress=False, batch_size=4).embeddings
    again = embed_files(encoder, FILES, progress=False, batch_size=1).embeddings
    assert a.shape == (2, dim) and np.isfinite(a).all()
    assert np.abs(a - b).max() <= 1e-4 and np.abs(a - again).max() <= 1e-5


@pytest.mark.parametrize("device", DEVICES)
def test_trainable_transformers_tower_keeps_gradients(tmp_path, device):
    encoder = build_audio_encoder(f"hf:{_ast(tmp_path)}", trainable=True).to(device)
    out = encoder.encode_chunks(torch.randn(2, encoder.window, device=device) * 0.1)
    assert out.device.type == device
    out.sum().backward()
    assert any(p.grad is not None for p in encoder.parameters())


def test_whisper_pools_over_the_frames_that_hold_audio(tmp_path):
    chunks = torch.zeros(3, 480_000)
    chunks[0, :16_000] = 0.1  # 1 s of audio in a 30 s window
    chunks[1] = 0.1
    mask = TransformersAudioEncoder._audio_mask(chunks, 1500)
    assert mask.sum(1).flatten().tolist() == [50, 1500, 1]
    encoder = build_audio_encoder(f"hf:{_whisper(tmp_path)}")
    one_second = np.random.default_rng(0).standard_normal(16_000).astype(np.float32) * 0.1
    short, padded = embed_waveforms(encoder, [one_second, np.concatenate([one_second, np.zeros(16_000, np.float32)])])
    assert torch.allclose(short, padded, atol=1e-4)  # trailing digital silence is padding, not content


def test_a_folder_missing_weights_is_a_checkpoint_error(tmp_path):
    _ast(tmp_path)
    from safetensors.torch import load_file, save_file

    weights = load_file(str(tmp_path / "model.safetensors"))
    dropped = next(k for k in weights if "attention" in k)
    save_file({k: v for k, v in weights.items() if k != dropped}, str(tmp_path / "model.safetensors"),
              metadata={"format": "pt"})  # fmt: skip
    with pytest.raises(CheckpointError, match="missing"):
        build_audio_encoder(f"hf:{tmp_path}")


def test_unsupported_model_type_is_a_config_error(tmp_path):
    tf.BertModel(tf.BertConfig(**TEXT)).save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="not supported as an audio tower"):
        build_audio_encoder(f"hf:{tmp_path}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["bert", "t5", "clap"])
def test_transformers_text_towers_from_a_local_folder(kind, tmp_path, device):
    if kind == "bert":
        tf.BertModel(tf.BertConfig(**TEXT)).save_pretrained(tmp_path)
        tf.AutoTokenizer.from_pretrained(str(require("minilm"))).save_pretrained(tmp_path)
    elif kind == "t5":
        cfg = tf.T5Config(vocab_size=30522, d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=2)
        tf.T5Model(cfg).save_pretrained(tmp_path)
        tf.AutoTokenizer.from_pretrained(str(require("minilm"))).save_pretrained(tmp_path)
    else:
        _clap(tmp_path)
    enc = build_text_encoder(f"hf:{tmp_path}").to(device)
    out = enc.encode(["hello world", "a dog barks twice"])
    assert out.shape == (2, 32) and torch.allclose(out.norm(dim=1).cpu(), torch.ones(2), atol=1e-5)
    assert torch.allclose(enc.encode(["a dog barks twice"])[0], out[1], atol=1e-5)
