"""Encoders on real audio: determinism across calls and batch sizes, bad files, each tower, transformers paths
with tiny models built from configs (random weights, no download)."""

import numpy as np
import pytest
import torch

from almkit.encoders import build_audio_encoder, build_text_encoder
from almkit.encoders.embed import embed_files, embed_waveforms
from almkit.errors import ConfigError
from shared_data import FSDD

FILES = [
    str(FSDD / "7_jackson_3.wav"),
    "/usr/share/sounds/freedesktop/stereo/phone-incoming-call.oga",
    "/usr/share/hydrogen/data/drumkits/ColomboAcousticDrumkit/snare-opaque-2mics_normal-shot1.flac",
]


@pytest.fixture(scope="module")
def yamnet():
    return build_audio_encoder("yamnet+scores")


@pytest.mark.parametrize("spec", ["yamnet", "aisfx", "cnn"])
def test_same_embedding_for_two_calls_and_any_batch_size(spec):
    torch.manual_seed(0)
    encoder = build_audio_encoder(spec)
    a = embed_files(encoder, FILES, batch_size=1, progress=False).embeddings
    b = embed_files(encoder, FILES, batch_size=7, progress=False).embeddings
    c = embed_files(encoder, FILES, batch_size=64, progress=False).embeddings
    assert a.shape == (3, encoder.embed_dim) and np.isfinite(a).all()
    assert np.abs(a - b).max() <= 1e-5 and np.abs(a - c).max() <= 1e-5


def test_yamnet_scores_are_sensible_on_real_audio(yamnet):
    emb = embed_files(yamnet, FILES[:2], progress=False).embeddings
    top = [[yamnet.class_names[i] for i in np.argsort(-e[1024:])[:3]] for e in emb]
    assert "Speech" in top[0]  # a spoken FSDD digit
    assert any("Telephone" in name or "Ringtone" in name for name in top[1])


def test_files_keep_going_and_failures_are_listed(yamnet, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFFgarbage")
    result = embed_files(yamnet, [FILES[0], str(bad), "/no/such.flac", FILES[1]], progress=False)
    assert result.paths == [FILES[0], FILES[1]] and result.embeddings.shape[0] == 2
    assert [p for p, _ in result.failures] == [str(bad), "/no/such.flac"]
    assert "not found" in result.failures[1][1]


def test_silence_embeds_to_finite_values(yamnet):
    out = embed_waveforms(yamnet, [np.zeros(16_000, np.float32)])
    assert torch.isfinite(out).all()


def test_frame_sequences_for_two_heads(yamnet):
    seqs = embed_waveforms(yamnet, [np.zeros(16_000 * 5, np.float32), np.zeros(8_000, np.float32)], pool=False)
    assert [s.shape[0] for s in seqs] == [6, 1] and seqs[0].shape[1] == 1545


def test_minilm_is_normalised_and_semantic():
    text = build_text_encoder("minilm")
    e = text.encode(["a dog barking", "a dog barks loudly", "a piano melody"])
    assert torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5)
    assert (e[0] @ e[1]) > (e[0] @ e[2]) + 0.3
    single = torch.cat([text.encode([s]) for s in ["a dog barking", "a piano melody"]])
    assert torch.allclose(single, e[[0, 2]], atol=1e-5)  # padding in a batch does not change results


def test_unknown_specs_are_config_errors():
    with pytest.raises(ConfigError, match="unknown audio encoder"):
        build_audio_encoder("wav2vec9")
    with pytest.raises(ConfigError, match="cannot be fine-tuned"):
        build_audio_encoder("yamnet", trainable=True)


def _tiny(kind, folder):
    import transformers as tf

    if kind == "clap":  # HTSAT layout with tiny widths: 16 -> 128 channels after three patch merges
        audio = dict(
            depths=[1, 1, 1, 1],
            num_attention_heads=[2, 2, 2, 2],
            patch_embeds_hidden_size=16,
            hidden_size=128,
            projection_hidden_size=32,
        )
        text = dict(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=37,
            vocab_size=99,
            max_position_embeddings=80,
            projection_hidden_size=32,
        )
        tf.ClapModel(tf.ClapConfig(text_config=text, audio_config=audio, projection_dim=16)).save_pretrained(folder)
    elif kind == "ast":
        cfg = tf.ASTConfig(
            hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37, max_length=100
        )
        tf.ASTModel(cfg).save_pretrained(folder)
        tf.ASTFeatureExtractor(max_length=100).save_pretrained(folder)
    else:
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


@pytest.mark.parametrize("kind, dim", [("clap", 16), ("ast", 32), ("whisper", 32)])
def test_transformers_audio_towers_from_a_local_folder(kind, dim, tmp_path):
    torch.manual_seed(0)
    encoder = build_audio_encoder(f"hf:{_tiny(kind, tmp_path)}")
    a = embed_files(encoder, FILES[:2], progress=False, batch_size=1).embeddings
    b = embed_files(encoder, FILES[:2], progress=False, batch_size=4).embeddings
    assert a.shape == (2, dim) and np.isfinite(a).all() and np.abs(a - b).max() <= 1e-4


def test_transformers_text_tower_from_a_local_folder(tmp_path):
    import transformers as tf

    from almkit.assets import require

    cfg = tf.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
    tf.BertModel(cfg).save_pretrained(tmp_path)
    tf.AutoTokenizer.from_pretrained(str(require("minilm"))).save_pretrained(tmp_path)
    enc = build_text_encoder(f"hf:{tmp_path}")
    out = enc.encode(["hello world", "a dog"])
    assert out.shape == (2, 32) and torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-5)
