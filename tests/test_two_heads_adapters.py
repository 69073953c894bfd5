"""Public audio-LMs through almkit's generator interface: Qwen2-Audio from a local folder, here a tiny random
Qwen2AudioForConditionalGeneration built from a config (real Whisper front end, SmolLM2's tokenizer with the
three audio tokens added), run on real FSDD audio through the Python API and ``almkit ask --model``."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from almkit.architectures.two_heads import load_generator
from almkit.architectures.two_heads.hf_audio_lm import TransformersAudioLM
from almkit.errors import AudioError, ConfigError
from devices import DEVICES
from shared_data import FSDD


@pytest.fixture(scope="module")
def tiny_qwen2_audio(tmp_path_factory):
    from transformers import (
        AutoTokenizer,
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    from almkit.assets import require

    folder = tmp_path_factory.mktemp("qwen2-audio")
    tok = AutoTokenizer.from_pretrained(str(require("smollm2")))
    tok.add_special_tokens({"additional_special_tokens": ["<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]})
    processor = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tok)
    cfg = Qwen2AudioConfig(
        audio_config={
            "d_model": 16,
            "encoder_layers": 1,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 32,
            "num_mel_bins": 128,
        },
        text_config={
            "model_type": "qwen2",
            "vocab_size": len(tok),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "initializer_range": 0.2,
        },
        audio_token_index=tok.convert_tokens_to_ids("<|AUDIO|>"),
    )
    torch.manual_seed(0)
    Qwen2AudioForConditionalGeneration(cfg).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("device", DEVICES)
def test_qwen2_audio_answers_through_the_same_interface(tiny_qwen2_audio, tmp_path, device):
    generator = load_generator(str(tiny_qwen2_audio), device=device)
    assert isinstance(generator, TransformersAudioLM) and generator.model.device.type == device
    wav = str(FSDD / "3_theo_1.wav")
    questions = ["Is there speech?", "What is said?", "Describe the audio."]
    together = generator.ask([wav] * 3, questions, max_new_tokens=5)
    assert together == [generator.ask([wav], [q], max_new_tokens=5)[0] for q in questions]  # batch-independent
    assert all(isinstance(t, str) and t for t in together)
    with pytest.raises(AudioError, match="missing.wav"):
        generator.caption([wav, tmp_path / "missing.wav"], max_new_tokens=2)


def test_qwen2_audio_rejects_an_unknown_dtype(tiny_qwen2_audio):
    with pytest.raises(ConfigError, match="int8"):
        load_generator(str(tiny_qwen2_audio), dtype="int8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="bfloat16 generation is checked on a CUDA GPU (CI has none)")
def test_qwen2_audio_in_bfloat16_on_a_gpu(tiny_qwen2_audio):
    generator = load_generator(str(tiny_qwen2_audio), device="cuda", dtype="bfloat16")
    assert generator.model.dtype == torch.bfloat16
    answers = generator.ask([str(FSDD / "3_theo_1.wav")] * 2, ["Is there speech?", "What is said?"], max_new_tokens=4)
    assert all(isinstance(t, str) and t for t in answers)


def test_qwen2_audio_long_audio_uses_30_s_windows(tiny_qwen2_audio, tmp_path):
    wave, sr = sf.read(FSDD / "3_theo_1.wav")
    long = np.concatenate([wave, np.zeros(sr * 40)])
    sf.write(tmp_path / "long.wav", long, sr)
    answers, failures = load_generator(str(tiny_qwen2_audio)).run(
        [str(tmp_path / "long.wav")], ["Describe the audio."], max_new_tokens=2
    )
    assert not failures
    assert [(w["start"], w["end"]) for w in answers[0].windows] == [(0.0, 30.0), (30.0, round(len(long) / sr, 2))]


def test_almkit_ask_with_a_qwen2_audio_folder(tiny_qwen2_audio):
    wav = str(FSDD / "3_theo_1.wav")
    r = subprocess.run(
        [sys.executable, "-m", "almkit", "ask", wav, "-q", "Is there speech?", "--model", str(tiny_qwen2_audio)]
        + ["--max-new-tokens", "3", "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert row["audio"] == wav and row["question"] == "Is there speech?" and row["windows"][0]["end"] > 0
