"""Two Heads with a tiny Llama built from a config (random weights, SmolLM2's real tokenizer and chat template)
and real YAMNet frames: label mask, projector shapes, save/load, determinism, windows, training, CLI."""

import json
import subprocess
import sys
from dataclasses import asdict, replace

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file, save_file

from almkit.architectures.two_heads import TwoHeads, TwoHeadsConfig, TwoHeadsGenerator, load_generator
from almkit.architectures.two_heads.generator import decoding_options
from almkit.architectures.two_heads.model import IGNORE
from almkit.device import resolve_device
from almkit.errors import AudioError, CheckpointError, ConfigError
from almkit.training.engine import TrainConfig, fit
from devices import DEVICES
from shared_data import FSDD


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from almkit.assets import require

    folder = tmp_path_factory.mktemp("lm")
    tok = AutoTokenizer.from_pretrained(str(require("smollm2")))
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        tie_word_embeddings=True,
        initializer_range=0.2,  # peaked logits: no near-ties in greedy decoding, a clear training signal
    )
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def make(tiny_lm, **kw):
    """A tiny model; without a transcriber unless asked (the config's default, Whisper, is tested on its own)."""
    torch.manual_seed(0)
    return TwoHeads(TwoHeadsConfig(lm=str(tiny_lm), **{"audio_dim": 1024, "lora_r": 4, "transcriber": "none", **kw}))


def test_loss_only_on_the_assistant_tokens(tiny_lm):
    model = make(tiny_lm)
    embeds, labels = model.sequence(torch.randn(5, 1024), "Describe the audio.", "a dog barks twice")
    pre, post = model.prompt_ids("Describe the audio.")
    answer = model.tokenizer("a dog barks twice", add_special_tokens=False)["input_ids"] + [model.eos_id]
    assert labels.tolist() == [IGNORE] * (len(pre) + 5 + len(post)) + answer
    assert model.tokenizer.decode(labels[labels != IGNORE]) == "a dog barks twice<|im_end|>"
    assert embeds.shape == (len(pre) + 5 + len(post) + len(answer), 32)
    assert model.tokenizer.decode(pre).startswith("<|im_start|>system\nAnswer about the audio.")
    assert model.tokenizer.decode(post).endswith("<|im_start|>assistant\n")  # the answer starts the reply


def test_earlier_turns_of_a_chat_are_context_not_targets(tiny_lm):
    model = make(tiny_lm)
    history = (("Is there speech?", "yes"),)
    _, labels = model.sequence(torch.randn(2, 1024), "What is said?", "seven", history=history)
    pre, post = model.prompt_ids("What is said?", history)
    text = model.tokenizer.decode(post)
    assert "Is there speech?<|im_end|>\n<|im_start|>assistant\nyes<|im_end|>" in text and "What is said?" in text
    assert model.tokenizer.decode(labels[labels != IGNORE]) == "seven<|im_end|>"
    assert (labels[: len(pre) + 2 + len(post)] == IGNORE).all()


def test_a_transcript_follows_the_audio_in_the_first_turn_and_is_not_a_target(tiny_lm):
    model = make(tiny_lm)
    history = (("Is there speech?", "yes"),)
    _, labels = model.sequence(torch.randn(3, 1024), "What is said?", "turn left", "turn left", history=history)
    pre, post = model.prompt_ids("What is said?", history, "turn left")
    assert model.tokenizer.decode(post).startswith("\nSpeech: turn left\nIs there speech?<|im_end|>")
    assert model.tokenizer.decode(labels[labels != IGNORE]) == "turn left<|im_end|>"
    assert (labels[: len(pre) + 3 + len(post)] == IGNORE).all()
    assert "Speech: (none)" in model.tokenizer.decode(model.prompt_ids("What is said?", speech="")[1])
    assert "Speech" not in model.tokenizer.decode(model.prompt_ids("What is said?")[1])  # no transcriber


def test_tags_name_the_windows_loudest_classes_in_the_prompt(tiny_lm):
    model = make(tiny_lm, audio_encoder="yamnet+scores", audio_dim=1545, tags=3)
    frames = torch.zeros(4, 1545)
    dog, bark, silence = (1024 + model.class_names.index(n) for n in ("dog", "bark", "silence"))
    frames[1, dog], frames[2, bark], frames[0, silence] = 0.91, 0.4, 0.02  # the highest frame counts, not the mean
    assert model.tag_text(frames) == "dog 0.91, bark 0.40"  # under 0.05 is left out (but the first is kept)
    assert model.tag_text(torch.zeros(2, 1545)).endswith(" 0.00")
    _, labels = model.sequence(frames, "Describe the audio.", "a dog barks")
    pre, post = model.prompt_ids("Describe the audio.", tags="dog 0.91, bark 0.40")
    assert model.tokenizer.decode(post).startswith("\nTags: dog 0.91, bark 0.40\nDescribe the audio.<|im_end|>")
    assert (labels[: len(pre) + 4 + len(post)] == IGNORE).all()  # the tags are context, never targets
    assert make(tiny_lm).tag_text(frames[:, :1024]) is None  # a model without tags
    with pytest.raises(ConfigError, match="tags"):
        TwoHeadsConfig(audio_encoder="yamnet", tags=5).validate()


def test_the_two_towers_match_precedes_the_question_and_tells_present_from_absent(tiny_lm):
    from almkit.architectures.two_heads.model import window_embedding
    from almkit.architectures.two_towers import load_model
    from almkit.encoders.cache import audio_features

    model = make(tiny_lm, audio_encoder="yamnet+scores", audio_dim=1545, match="default")
    path = str(FSDD / "3_theo_1.wav")  # a man saying "three"
    frames = audio_features(model.config.build_encoder(), "yamnet+scores", [path], pool=False)[0][path]
    speech, dog = model.match(frames, "Is there a speech sound?"), model.match(frames, "Is there a dog sound?")
    assert speech > dog + 0.1  # the joint space knows a voice from a bark
    towers = load_model("default")
    question = torch.from_numpy(towers.embed_text(["Is there a dog sound?"])[0])
    expected = float(window_embedding(towers, frames) @ question)
    assert dog == pytest.approx(expected, abs=1e-6)
    history = (("Describe the audio.", "a man speaks"),)
    _, labels = model.sequence(frames, "Is there a dog sound?", "no", history=history)
    pre, post = model.prompt_ids("Is there a dog sound?", history, tags=model.tag_text(frames), match=dog)
    text = model.tokenizer.decode(post)
    assert f"Match: {dog:.2f}\nIs there a dog sound?<|im_end|>" in text  # the last question's own score
    assert "Match" not in text.split("Describe the audio.")[0]  # not in the first turn, whose question it isn't
    assert (labels[: len(pre) + len(frames) + len(post)] == IGNORE).all()  # context, never a target
    given, _ = model.sequence(frames, "Is there a dog sound?", "no", match=0.5, history=history)  # training's own
    assert not torch.equal(given, model.sequence(frames, "Is there a dog sound?", "no", history=history)[0])
    assert make(tiny_lm).match(frames[:, :1024], "Is there a dog sound?") is None  # a model without it
    with pytest.raises(CheckpointError, match="another checkpoint"):
        make(tiny_lm, audio_encoder="yamnet+scores", audio_dim=1545, match="default", match_sha256="0" * 64)
    with pytest.raises(ConfigError, match=r"reads 'yamnet\+scores' audio"):
        make(tiny_lm, audio_encoder="yamnet", match="default")


def test_presence_questions_are_decided_by_the_lm_and_the_joint_space_together(tiny_lm, tmp_path):
    from almkit.encoders.cache import audio_features

    model = make(tiny_lm, audio_encoder="yamnet+scores", audio_dim=1545, match="default", match_line=False)
    path = str(FSDD / "3_theo_1.wav")  # a man saying "three"
    other = str(FSDD / "7_jackson_0.wav")  # a man saying "seven"
    feats = audio_features(model.config.build_encoder(), "yamnet+scores", [path, other], pool=False)[0]
    frames = feats[path]
    questions = ["Is there a dog sound?", "Describe the audio."]
    plain = model.generate([frames, frames], questions, max_new_tokens=4)
    assert "Match" not in model.tokenizer.decode(model.prompt_ids(questions[0], tags=model.tag_text(frames))[1])

    def answers(*weights, audio=frames):
        model.config = replace(model.config, presence=weights)
        return model.generate([audio, audio], questions, max_new_tokens=4)

    assert answers(0, 0, 0, 0, 1.0) == ["yes", plain[1]] and answers(0, 0, 0, 0, -1.0) == ["no", plain[1]]
    embeds, mask, _, positions = model.collate([model.sequence(frames, questions[0])])
    margin = float(model.yes_no_margins(embeds, mask, positions)[0])
    assert answers(1.0, 0, 0, 0, 0) == ["yes" if margin > 0 else "no", plain[1]]  # the LM's own preference
    dog = model.match(frames, model.towers.config.prompt.format("dog"))  # the named sound in the towers' prompt
    assert answers(0, 1.0, 0, 0, 1e-3 - dog)[0] == "yes" and answers(0, 1.0, 0, 0, -1e-3 - dog)[0] == "no"
    asked = model.match(frames, questions[0])  # the question as written
    assert answers(0, 0, 1.0, 0, 1e-3 - asked)[0] == "yes" and answers(0, 0, 1.0, 0, -1e-3 - asked)[0] == "no"
    two = torch.cat([frames, feats[other]])
    one_frame = [model.match(two[i : i + 1], model.towers.config.prompt.format("dog")) for i in range(len(two))]
    best = max(one_frame)  # the named sound's best frame, above the window's mean when the frames differ
    assert best > model.match(two, model.towers.config.prompt.format("dog"))
    assert answers(0, 0, 0, 1.0, 1e-3 - best, audio=two)[0] == "yes"
    assert answers(0, 0, 0, 1.0, -1e-3 - best, audio=two)[0] == "no"
    with pytest.raises(ConfigError, match="presence"):
        TwoHeadsConfig(presence=(1.0, 0, 0, 0, 0)).validate()  # no match
    with pytest.raises(ConfigError, match="presence"):
        TwoHeadsConfig(match="default", presence=(1.0, 0, 0, 0)).validate()  # the four weights of before
    older = tmp_path / "config.json"  # a folder fitted before the best frame: refused, and refittable
    older.write_text(json.dumps({**asdict(model.config), "presence": [1.0, 0, 0, 0]}))
    with pytest.raises(ConfigError, match="5 weights"):
        TwoHeadsConfig.load(older)
    assert TwoHeadsConfig.load(older, presence=()) == replace(model.config, presence=())


def test_caption_retrieval_answers_with_whichever_the_joint_space_puts_nearer(tiny_lm, tmp_path):
    from almkit.architectures.two_heads.model import CAPTION_BANK, CAPTION_INSTRUCTION
    from almkit.encoders.cache import audio_features

    kw = {"audio_encoder": "yamnet+scores", "audio_dim": 1545, "match": "default", "match_line": False}
    model = make(tiny_lm, **kw, caption_retrieval=True)
    path = str(FSDD / "3_theo_1.wav")  # a man saying "three"
    frames = audio_features(model.config.build_encoder(), "yamnet+scores", [path], pool=False)[0][path]
    bank = ["a dog barks twice", "a man says three", "rain falls on a tin roof"]
    model.set_caption_bank(bank)
    questions = [CAPTION_INSTRUCTION, "What is said?"]
    model.config.caption_retrieval = False
    lm = model.generate([frames, frames], questions, max_new_tokens=6)  # the random LM's own words
    model.config.caption_retrieval = True
    answers = model.generate([frames, frames], questions, max_new_tokens=6)
    assert answers == ["a man says three", lm[1]] and lm[0] != bank[1]  # other questions untouched
    assert model.choose_caption(frames, bank[0], None) == bank[1]  # the joint space knows a voice from a bark
    assert model.choose_caption(frames, lm[0], "three") == lm[0]  # speech heard: only the LM can say what
    model.set_caption_bank([bank[0], bank[2], "a man says a single word"])  # all farther than the LM's words
    assert model.choose_caption(frames, lm[0], None) == lm[0]
    model.set_caption_bank(bank)
    model.save_pretrained(tmp_path / "m")
    loaded = TwoHeads.from_pretrained(tmp_path / "m")
    assert loaded.caption_bank == bank and torch.equal(loaded._bank_vectors, model._bank_vectors)
    assert loaded.generate([frames], questions[:1], max_new_tokens=6) == answers[:1]
    (tmp_path / "m" / CAPTION_BANK).unlink()
    with pytest.raises(CheckpointError, match="caption bank is missing") as err:
        TwoHeads.from_pretrained(tmp_path / "m")
    assert CAPTION_BANK in str(err.value) and "two_heads_captions.py" in str(err.value)
    with pytest.raises(ConfigError, match="caption_retrieval needs match"):
        TwoHeadsConfig(caption_retrieval=True).validate()


def test_a_generator_with_a_transcriber_reads_each_window(tiny_lm, tmp_path):
    digits = "zero one two three four five six seven eight nine".split()
    model = make(tiny_lm, audio_encoder="yamnet", transcriber="pocketsphinx", phrases=tuple(digits))
    wave = np.concatenate([sf.read(FSDD / "3_theo_1.wav")[0], np.zeros(8000 * 10), sf.read(FSDD / "7_theo_1.wav")[0]])
    sf.write(tmp_path / "two.wav", wave, 8000)
    answers, failures = TwoHeadsGenerator(model).run([str(tmp_path / "two.wav")], ["What is said?"], max_new_tokens=2)
    assert not failures and [w["speech"] for w in answers[0].windows] == ["three", "seven"]
    model.config.save(tmp_path / "config.json")
    assert TwoHeadsConfig.load(tmp_path / "config.json").phrases == tuple(digits)
    with pytest.raises(ConfigError, match="transcriber"):
        TwoHeadsConfig(transcriber="wav2vec").validate()


def test_whisper_is_the_default_transcriber_and_reads_any_english(tiny_lm, tmp_path):
    """A sentence outside every phrase list reaches the prompt as spoken, in PocketSphinx's form (lower-case
    words, no punctuation); a window without speech gets no words."""
    assert TwoHeadsConfig().transcriber == "whisper"
    wav = tmp_path / "fox.wav"
    subprocess.run(
        ["flite", "-voice", "awb", "-t", "The source of the huge river is the clear spring.", "-o", str(wav)]
    )
    wave, sr = sf.read(wav)
    sf.write(wav, np.concatenate([wave, np.zeros(sr * 12)]), sr)  # a second, silent window
    model = make(tiny_lm, audio_encoder="yamnet", transcriber="whisper")
    generator = TwoHeadsGenerator(model)
    answers, failures = generator.run([str(wav)], ["What is said?"], max_new_tokens=2)
    speech = [w["speech"] for w in answers[0].windows]
    assert not failures and speech == ["the source of the huge river is the clear spring", ""]
    assert (
        generator.transcriber.cache_key
        != make(tiny_lm, transcriber="pocketsphinx").config.build_transcriber().cache_key
    )


@pytest.mark.parametrize("audio_dim", [1545, 512, 16])
def test_projector_shapes_for_any_encoder(tiny_lm, audio_dim):
    mlp = make(tiny_lm, audio_dim=audio_dim).projector
    qformer = make(tiny_lm, audio_dim=audio_dim, projector="qformer", n_queries=6).projector
    for frames in (1, 7):
        assert mlp(torch.randn(frames, audio_dim)).shape == (frames, 32)
        assert qformer(torch.randn(frames, audio_dim)).shape == (6, 32)


def test_soft_tokens_keep_the_scale_of_text_tokens(tiny_lm):
    for kind in ("mlp", "qformer"):
        model = make(tiny_lm, projector=kind)
        norm = model.lm.get_input_embeddings().weight.norm(dim=-1).mean()
        out = model.projector(torch.randn(5, 1024) * 100)
        assert torch.allclose(out.norm(dim=-1), norm.expand(len(out)), rtol=1e-4)


def test_class_score_prior_starts_at_the_class_name_embeddings(tiny_lm):
    model = make(tiny_lm, audio_encoder="yamnet+scores", audio_dim=1545, score_prior=True)
    names = model.config.build_encoder().class_names
    k = names.index("Dog")
    frames = torch.zeros(2, 1545)
    frames[:, :1024] = torch.randn(2, 1024)
    frames[:, 1024 + k] = 0.9  # the encoder is sure it hears a dog
    ids = model.tokenizer(" dog", add_special_tokens=False)["input_ids"]
    dog = model.lm.get_input_embeddings().weight[ids].mean(0)
    out = model.projector(frames)
    assert torch.allclose(out, (dog / dog.norm() * model.projector.scale).expand(2, -1), atol=1e-5)
    assert not any(k.endswith("prior") for k in model.state_dict())  # rebuilt from the LM, never saved
    with pytest.raises(ConfigError, match="score_prior"):
        TwoHeadsConfig(audio_encoder="yamnet", score_prior=True).validate()


def test_save_load_is_strict_and_exact(tiny_lm, tmp_path):
    model = make(tiny_lm, projector="qformer")
    with torch.no_grad():
        model.projector.out.bias.add_(1.0)  # a trained-looking projector, not the seeded initial one
    model.save_pretrained(tmp_path)
    state = load_file(str(tmp_path / "model.safetensors"))
    assert any("lora_A" in k for k in state) and any(k.startswith("projector.") for k in state)
    assert not any("embed_tokens" in k for k in state)  # the LM's own weights are never copied
    assert json.loads((tmp_path / "config.json").read_text())["projector"] == "qformer"
    loaded = TwoHeads.from_pretrained(tmp_path)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    frames = [torch.randn(4, 1024), torch.randn(2, 1024)]
    assert loaded.generate(frames, ["Describe the audio."] * 2, max_new_tokens=5) == model.generate(
        frames, ["Describe the audio."] * 2, max_new_tokens=5
    )
    save_file({**state, "projector.extra": torch.zeros(1)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match="unexpected keys"):
        TwoHeads.from_pretrained(tmp_path)
    state.pop(next(k for k in state if k.startswith("projector.")))
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match="missing keys"):
        TwoHeads.from_pretrained(tmp_path)


@pytest.mark.parametrize("device", DEVICES)
def test_greedy_generation_is_the_same_for_any_batch_size(tiny_lm, device):
    model = make(tiny_lm).to(device)
    frames = [torch.randn(n, 1024) for n in (3, 6, 1, 4)]
    questions = ["Describe the audio.", "Is there speech?", "How many sounds are there in this clip?", "Caption."]
    together = model.generate(frames, questions, max_new_tokens=8)
    pairs = [model.generate(frames[i : i + 2], questions[i : i + 2], max_new_tokens=8) for i in (0, 2)]
    alone = [model.generate([f], [q], max_new_tokens=8)[0] for f, q in zip(frames, questions, strict=True)]
    assert together == alone == pairs[0] + pairs[1]
    assert len(set(together)) > 1  # the audio and the question change the answer
    beam = model.generate(frames, questions, max_new_tokens=6, num_beams=3)
    assert beam == model.generate(frames, questions, max_new_tokens=6, num_beams=3)
    sample = dict(do_sample=True, temperature=1.0, top_p=0.95, max_new_tokens=8)
    assert model.generate(frames, questions, seed=3, **sample) == model.generate(frames, questions, seed=3, **sample)
    assert model.generate(frames, questions, seed=3, **sample) != model.generate(frames, questions, seed=4, **sample)


def test_long_audio_is_answered_window_by_window(tiny_lm, tmp_path):
    digits = [sf.read(FSDD / f"{d}_george_0.wav")[0] for d in range(10)]
    wave = np.concatenate([np.pad(d, (0, 8000 * 2)) for d in digits] + [np.zeros(8000 * 3)])
    sf.write(tmp_path / "long.wav", wave, 8000)
    duration = len(wave) / 8000
    generator = TwoHeadsGenerator(make(tiny_lm, audio_encoder="yamnet", window_s=10.0))
    answers, failures = generator.run([str(tmp_path / "long.wav")], ["Describe the audio."], max_new_tokens=4)
    windows = answers[0].windows
    assert not failures and 21 < duration < 31 and len(windows) == 3  # 21 frames of 0.48 s per window
    assert [w["start"] for w in windows] == pytest.approx([0.0, 10.08, 20.16])
    assert windows[-1]["end"] == pytest.approx(duration, abs=0.01)  # the whole file, nothing truncated
    assert answers[0].text.startswith(f"[0.0-{windows[0]['end']:.1f} s] {windows[0]['text']}")
    short = generator.run([str(FSDD / "3_theo_1.wav")], ["Describe the audio."], max_new_tokens=4)[0][0]
    assert len(short.windows) == 1 and short.text == short.windows[0]["text"]  # no stamps for one window


def test_bad_audio_is_named(tiny_lm, tmp_path):
    generator = TwoHeadsGenerator(make(tiny_lm, audio_encoder="yamnet"))
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really")
    good = str(FSDD / "3_theo_1.wav")
    answers, failures = generator.run([good, str(tmp_path / "broken.wav")], ["Caption."] * 2, max_new_tokens=2)
    assert answers[0] is not None and answers[1] is None and failures[0][0] == str(tmp_path / "broken.wav")
    with pytest.raises(AudioError, match="broken.wav"):
        generator.caption([good, tmp_path / "broken.wav"], max_new_tokens=2)


@pytest.mark.parametrize("device", DEVICES)
def test_training_lowers_the_loss(tiny_lm, tmp_path, device):
    model = make(tiny_lm, lora_targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"))
    g = torch.Generator().manual_seed(0)
    data = [
        (torch.randn(3, 1024, generator=g), "Describe the audio.", ["a dog barks", "rain falls"][i % 2])
        for i in range(32)
    ]
    with torch.no_grad():
        before = model.training_step(data).item()
    fit(
        model,
        data,
        TrainConfig(
            out_dir=str(tmp_path), max_steps=12, batch_size=8, lr=1e-2, log_every=1, progress=False, accelerator=device
        ),
        collate_fn=lambda b: b,
    )
    assert {p.device.type for p in model.parameters()} == {"cpu"}  # returned where inference starts
    with torch.no_grad():
        after = model.training_step(data).item()
    assert after < before - 2.0, (before, after)  # seeded: 11.5 -> ~6 here
    assert (tmp_path / "checkpoints" / "step-0000012" / "model.safetensors").is_file()


def test_decoding_options_are_validated():
    assert decoding_options({"strategy": "beam", "num_beams": 3}) == {"max_new_tokens": 40, "num_beams": 3}
    with pytest.raises(ConfigError, match="strategy"):
        decoding_options({"strategy": "nucleus"})
    with pytest.raises(ConfigError, match="unknown decoding"):
        decoding_options({"max_new_tokens": 5, "temprature": 0.3})
    with pytest.raises(ConfigError, match="projector"):
        TwoHeadsConfig(projector="perceiver").validate()


def test_devices_and_dtypes_are_validated(tiny_lm, tmp_path):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("tpu", "gpu0", "cuda:99"):
        with pytest.raises(ConfigError, match="device"):
            resolve_device(bad)
    make(tiny_lm).save_pretrained(tmp_path / "model")
    with pytest.raises(ConfigError, match="float32"):
        load_generator(str(tmp_path / "model"), dtype="bfloat16")
    generator = load_generator(str(tmp_path / "model"), device="cpu")
    assert {p.device.type for p in generator.model.parameters()} == {"cpu"}


def test_caption_ask_chat_commands(tiny_lm, tmp_path):
    from typer.testing import CliRunner

    from almkit.cli import app

    model = make(tiny_lm, audio_encoder="yamnet")
    model.save_pretrained(tmp_path / "model")
    wav = str(FSDD / "3_theo_1.wav")
    opts = ["--model", str(tmp_path / "model"), "--max-new-tokens", "3", "--format", "json"]
    r = subprocess.run(
        [sys.executable, "-m", "almkit", "caption", wav, "/no/such.wav", *opts], capture_output=True, text=True
    )
    assert r.returncode == 1 and "/no/such.wav" in r.stderr  # the good file is answered, the bad one listed
    row = json.loads(r.stdout)
    assert row["audio"] == wav and row["windows"][0]["start"] == 0.0 and row["text"] == row["windows"][0]["text"]
    runner = CliRunner()
    r = runner.invoke(app, ["ask", wav, "-q", "Is there speech?", *opts])
    assert r.exit_code == 0 and json.loads(r.stdout)["question"] == "Is there speech?"
    chat = ["chat", wav, "--model", str(tmp_path / "model"), "--max-new-tokens", "3"]
    r = runner.invoke(app, chat, input="Is there speech?\nHow many sounds?\n\n")
    assert r.exit_code == 0 and r.stdout.count("almkit> ") == 2
    r = runner.invoke(app, ["caption", wav, "--model", str(tmp_path / "nothing")])
    assert isinstance(r.exception, CheckpointError) and "recipes/two_heads.py" in str(r.exception)
    r = runner.invoke(app, ["ask", wav, "-q", "Is there speech?", *opts, "--device", "tpu"])
    assert isinstance(r.exception, ConfigError) and "'tpu'" in str(r.exception)
    r = runner.invoke(app, ["ask", wav, "-q", "  ", *opts])
    assert isinstance(r.exception, ConfigError) and "--question is empty" in str(r.exception)
    r = subprocess.run(
        [sys.executable, "-m", "almkit", "caption", "/no/such.wav", *opts], capture_output=True, text=True
    )
    assert r.returncode == 2 and "no usable input" in r.stderr and not r.stdout


def test_train_two_heads_from_examples_and_continue_from_a_model(tiny_lm, tmp_path):
    from almkit.training.two_heads import train_two_heads

    config = TwoHeadsConfig(lm=str(tiny_lm), audio_encoder="yamnet+scores", lora_r=4, transcriber="none")
    g = torch.Generator().manual_seed(0)
    data = [(torch.rand(3, 1545, generator=g), "Describe the audio.", "a dog barks", None) for _ in range(16)]
    train = TrainConfig(out_dir=str(tmp_path / "a"), max_steps=4, batch_size=1, lr=1e-2, progress=False)
    model, result = train_two_heads(data, config, train, batch_size=4)
    assert result.steps == 4 and np.isfinite(result.last_loss)
    model.save_pretrained(tmp_path / "m")
    again = TrainConfig(out_dir=str(tmp_path / "b"), max_steps=2, batch_size=1, lr=1e-2, progress=False)
    _, result = train_two_heads(data, config, again, batch_size=4, init=tmp_path / "m")
    assert result.steps == 2
    reading = replace(config, match="default")  # a model learns to read the match line besides: allowed
    scored = [(*item, 0.25) for item in data]  # the recipe's cross-fitted scores
    again = replace(again, out_dir=str(tmp_path / "c"))
    model, result = train_two_heads(scored, reading, again, batch_size=4, init=tmp_path / "m")
    assert result.steps == 2 and model.config.match == "default"
    other = TwoHeadsConfig(lm=str(tiny_lm), audio_encoder="yamnet+scores", lora_r=8, transcriber="none")
    with pytest.raises(ConfigError, match="differs"):
        train_two_heads(data, other, again, batch_size=4, init=tmp_path / "m")
