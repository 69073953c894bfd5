"""Encoders on real audio: determinism across calls and batch sizes, long files embedded whole, bad files
listed while the rest go on, silence, sensible outputs (YAMNet classes, drum types), front-ends checked
against reference implementations."""

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from almkit.audio.io import load_audio
from almkit.encoders import build_audio_encoder, build_text_encoder
from almkit.encoders.embed import embed_files, embed_waveforms
from almkit.errors import AudioError, ConfigError
from shared_data import FSDD

KITS = Path("/usr/share/hydrogen/data/drumkits")
FILES = [
    str(FSDD / "7_jackson_3.wav"),
    "/usr/share/sounds/freedesktop/stereo/phone-incoming-call.oga",
    str(KITS / "Millo-Drums_v.1/snare1.flac"),
]
SPECS = ["yamnet", "aisfx", "whisper", "cnn"]


@pytest.fixture(scope="module")
def encoders():
    return {spec: build_audio_encoder(spec) for spec in SPECS}


@pytest.fixture(scope="module")
def yamnet():
    return build_audio_encoder("yamnet+scores")


@pytest.mark.parametrize("spec", SPECS)
def test_same_embedding_for_two_calls_and_any_batch_size(encoders, spec):
    encoder = encoders[spec]
    a = embed_files(encoder, FILES, batch_size=1, progress=False).embeddings
    again = embed_files(encoder, FILES, batch_size=1, progress=False).embeddings
    b = embed_files(encoder, FILES, batch_size=7, progress=False).embeddings
    c = embed_files(encoder, FILES, batch_size=64, progress=False).embeddings
    assert a.shape == (3, encoder.embed_dim) and np.isfinite(a).all()
    assert np.array_equal(a, again)
    assert np.array_equal(a, b) and np.array_equal(a, c)  # the same bits: forward passes have a fixed shape
    waves = [load_audio(f, encoder.sample_rate) for f in FILES]
    d = embed_waveforms(encoder, waves, batch_size=7).numpy()
    assert np.array_equal(a, d)  # files and waveforms take the same path
    alone = [embed_files(encoder, [f], batch_size=32, progress=False).embeddings[0] for f in FILES]
    assert np.array_equal(np.stack(alone), a)  # a clip alone gives what it gives among others


@pytest.mark.parametrize("spec", SPECS)
def test_silence_and_tiny_clips_embed_to_finite_values(encoders, spec):
    encoder = encoders[spec]
    out = embed_waveforms(encoder, [np.zeros(encoder.sample_rate, np.float32), np.full(3, 0.5, np.float32)])
    assert out.shape == (2, encoder.embed_dim) and torch.isfinite(out).all()


def test_ten_minute_file_is_embedded_whole(yamnet, tmp_path):
    """600 s of real speech (FSDD recordings back to back): all 625 chunks, the last one holds the last word."""
    recordings = sorted(FSDD.glob("*.wav"))
    parts, total = [], 0
    for path in recordings:
        wave = load_audio(path)  # 8 kHz
        parts.append(wave)
        total += len(wave)
        if total >= 600 * 8000:
            break
    wave = np.concatenate(parts)[-600 * 8000 :]
    sf.write(tmp_path / "long.flac", wave, 8000)
    result = embed_files(yamnet, [tmp_path / "long.flac"], pool=False, progress=False)
    frames = result.embeddings[0]
    assert frames.shape == (625, 1545) and np.isfinite(frames).all()
    assert yamnet.policy.count(600 * 16000, 16000) == 625
    silence = embed_waveforms(yamnet, [np.zeros(16000, np.float32)], pool=False)[0][0].numpy()
    assert np.abs(frames[-1] - silence).max() > 0.1  # the tail was embedded, not dropped
    pooled = embed_files(yamnet, [tmp_path / "long.flac"], progress=False).embeddings[0]
    assert np.allclose(pooled, frames.mean(0), atol=1e-5)


def test_every_bad_file_is_listed_and_the_good_ones_are_embedded(yamnet, tmp_path):
    bad = {
        "corrupt.wav": lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEgarbage garbage"),
        "empty.flac": lambda p: p.write_bytes(b""),
        "zero.wav": lambda p: sf.write(p, np.zeros(0, np.float32), 16000),
        "nan.wav": lambda p: sf.write(p, np.array([0.0, np.nan], np.float32), 16000, subtype="FLOAT"),
        "notes.txt": lambda p: p.write_text("not audio"),
    }
    paths = [FILES[0]]
    for name, make in bad.items():
        make(tmp_path / name)
        paths.append(str(tmp_path / name))
    paths += ["/no/such/file.wav", FILES[1]]
    result = embed_files(yamnet, paths, progress=False)
    assert result.paths == [FILES[0], FILES[1]] and result.embeddings.shape == (2, 1545)
    assert [p for p, _ in result.failures] == paths[1:-1]
    messages = dict(result.failures)
    assert "corrupt" in messages[str(tmp_path / "corrupt.wav")] and "empty" in messages[str(tmp_path / "empty.flac")]
    assert "zero-length" in messages[str(tmp_path / "zero.wav")] and "NaN" in messages[str(tmp_path / "nan.wav")]
    assert "unsupported" in messages[str(tmp_path / "notes.txt")] and "not found" in messages["/no/such/file.wav"]
    single = embed_files(yamnet, [FILES[1]], progress=False).embeddings
    assert np.abs(single[0] - result.embeddings[1]).max() <= 1e-5  # neighbours' failures change nothing
    with pytest.raises(AudioError, match="notes.txt"):
        load_audio(tmp_path / "notes.txt")


def test_yamnet_scores_are_sensible_on_real_audio(yamnet):
    assert len(yamnet.class_names) == len(yamnet.class_mids) == 521 and yamnet.embed_dim == 1545
    frames = embed_files(yamnet, FILES, pool=False, progress=False).embeddings
    scores = np.stack([f[:, 1024:].max(0) for f in frames])  # strongest chunk: a one-shot's tail is silence
    top = [[yamnet.class_names[i] for i in np.argsort(-s)[:3]] for s in scores]
    assert "Speech" in top[0], top[0]  # a spoken FSDD digit
    assert any("Telephone" in name or "Ringtone" in name for name in top[1]), top[1]
    assert {"Snare drum", "Drum", "Percussion", "Drum kit"} & set(top[2]), top[2]  # a Millo snare
    assert ((scores >= 0) & (scores <= 1)).all()


def test_yamnet_int8_kernels_match_the_unfused_graph(yamnet):
    """ONNX Runtime's fused int8 kernels give what the quantised graph means (its QDQ nodes run one by one) on
    this CPU, up to requantisation rounding. The export's int8 weights went through u8s8 kernels that saturate
    on CPUs without VNNI; the pulled asset re-expresses them as uint8 (assets.convert), which no CPU saturates."""
    import onnxruntime as ort

    from almkit.assets import require

    waves = [load_audio(f, 16_000) for f in FILES]
    patches = np.concatenate([yamnet.prepare(torch.from_numpy(yamnet.policy.chunks(w, 16_000))) for w in waves])
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    reference = ort.InferenceSession(str(require("yamnet")), options, providers=["CPUExecutionProvider"])
    names = ["class_scores", "/model/Reshape_output_0_qdq"]
    (scores, emb), (ref_scores, ref_emb) = (s.run(names, {"audio": patches}) for s in (yamnet.session, reference))
    steps = np.abs(scores.astype(int) - ref_scores.astype(int))  # uint8 quantisation steps
    # measured on an AVX2 CPU: uint8 weights max 5, mean 0.9 steps; the export's int8 weights max 25, mean 6.3
    assert steps.max() <= 8 and steps.mean() < 2
    assert np.abs(emb - ref_emb).mean() < 0.02  # 0.009 and 0.037


def test_yamnet_frontend_matches_a_float64_reference(yamnet):
    """The batched torch log-mel equals a plain numpy float64 implementation of YAMNet's features."""
    from almkit.encoders.yamnet import IN_SCALE, IN_ZERO, mel_matrix

    wave = np.pad(load_audio(FILES[0], 16000), (0, 15600))[:15600]
    frames = np.stack([wave[i * 160 : i * 160 + 400] for i in range(96)]).astype(np.float64)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    mag = np.abs(np.fft.rfft(frames * window, n=512))
    ref = np.clip(np.round(np.log(mag @ mel_matrix().astype(np.float64) + 0.001) / IN_SCALE) + IN_ZERO, 0, 255)
    ours = yamnet.patches(torch.from_numpy(wave[None]))[0, 0].astype(np.float64)
    assert np.mean(ours != ref) < 0.01 and np.abs(ours - ref).max() <= 1  # float32 rounding at .5 only
    whole = yamnet.log_mel(wave).numpy()  # the same front-end over a whole wave, unquantised (the detector's cells)
    assert whole.shape == (-(-15600 // 160), 64)
    assert np.abs((ours - IN_ZERO) * IN_SCALE - whole[:96]).max() <= IN_SCALE  # within the quantisation step


def test_aisfx_frontend_matches_the_aisfx_package_librosa_path(encoders):
    """aisfx's own `spectrogram_librosa.compute_spectrogram` recomputed with librosa (the package itself is
    never imported): peak-normalise, melspectrogram(norm=1, htk, power 2), log10(1e4 x + 1), / 9.4578."""
    librosa = pytest.importorskip("librosa")
    from almkit.encoders.aisfx import SPEC_MAX

    encoder = encoders["aisfx"]
    wave = load_audio(FILES[2], 44100)
    wave = wave / np.abs(wave).max()
    ref = librosa.feature.melspectrogram(
        y=wave,
        sr=44100,
        n_mels=96,
        norm=1.0,
        fmin=0,
        fmax=22050,
        htk=True,
        power=2.0,
        hop_length=1024,
        win_length=2048,
    )
    ref = (np.log10(ref * 10000.0 + 1) / SPEC_MAX).T
    ours = encoder.spectrogram(torch.from_numpy(encoder.policy.chunks(wave, 44100)[:1]))[0].numpy()
    assert np.abs(ours[: len(ref)] - ref).max() < 1e-5


def _drums(per_class: int = 3):
    """Real Hydrogen one-shots labelled kick / snare / hi-hat from their file names, several kits."""
    pattern = {"kick": r"kick|bassdrum|^bd", "snare": r"snare|^sd", "hihat": r"hat|^hh"}
    kits = ["BJA_Pacific", "ColomboAcousticDrumkit", "ForzeeStereo", "Millo_MultiLayered2", "The Black Pearl 1.0",
            "ElectricEmpireKit", "VariBreaks"]  # fmt: skip
    rows = []
    for kit in kits:
        names = sorted(p for p in (KITS / kit).iterdir() if p.suffix.lower() in (".wav", ".flac", ".aiff"))
        for label, pat in pattern.items():
            only = [
                p
                for p in names
                if [re.search(q, p.name.lower()) is not None for q in pattern.values()].count(True) == 1
            ]
            rows += [(str(p), label, kit) for p in only if re.search(pat, p.name.lower())][:per_class]
    return rows


def test_pretrained_encoders_tell_drum_types_apart_across_kits(encoders):
    """Leave-one-kit-out nearest class centroid: the pretrained towers beat chance (1/3) and an untrained CNN."""
    rows = _drums()
    labels, kits = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    accuracy = {}
    for spec, encoder in encoders.items():
        e = embed_files(encoder, [r[0] for r in rows], progress=False).embeddings
        e = e / np.linalg.norm(e, axis=1, keepdims=True)
        hits = 0
        for i in range(len(rows)):
            other = kits != kits[i]
            centroids = {lab: e[other & (labels == lab)].mean(0) for lab in set(labels)}
            hits += max(centroids, key=lambda lab: e[i] @ centroids[lab] / np.linalg.norm(centroids[lab])) == labels[i]
        accuracy[spec] = hits / len(rows)
    assert len(rows) >= 50, len(rows)
    assert accuracy["yamnet"] >= 0.65 and accuracy["aisfx"] >= 0.75, accuracy
    assert min(accuracy["yamnet"], accuracy["aisfx"], accuracy["whisper"]) > accuracy["cnn"] + 0.15, accuracy


def test_the_cnn_trains_and_its_initial_weights_come_from_the_seed(encoders):
    from almkit.encoders.cnn import CNNEncoder

    cnn = encoders["cnn"]
    assert cnn.trainable and all(p.requires_grad for p in cnn.parameters())
    again = CNNEncoder(seed=0)
    assert all(torch.equal(a, b) for a, b in zip(cnn.state_dict().values(), again.state_dict().values(), strict=True))
    assert not torch.equal(CNNEncoder(seed=1).head.weight, cnn.head.weight)
    x = torch.from_numpy(cnn.policy.chunks(load_audio(FILES[0], 16000), 16000))
    cnn.encode_chunks(x).pow(2).mean().backward()
    assert cnn.blocks[0][0].weight.grad is not None and cnn.blocks[0][0].weight.grad.abs().sum() > 0
    cnn.zero_grad(set_to_none=True)


def test_whisper_pools_the_sounding_frames_only(encoders):
    """A 2 s sound in a 10 s window is the mean of the first ~100 encoder states (20 ms each), not of
    all 500 with 8 s of padding; a silent window is the mean of every state."""
    whisper = encoders["whisper"]
    window = np.zeros(160_000, np.float32)
    window[:32_000] = np.random.default_rng(0).normal(0, 0.1, 32_000)  # 2 s of noise: every frame sounds
    mel = whisper.prepare(torch.from_numpy(window)[None])
    import ctranslate2

    states = np.asarray(whisper._whisper.model.encode(ctranslate2.StorageView.from_array(mel), to_cpu=True))
    got = whisper.encode_prepared(mel)[0].numpy()
    # 202 log-mel frames hold sound (the STFT windows that straddle 2 s included): encoder states 0-100
    assert np.allclose(got, states[0, :101].mean(0), atol=1e-5) and not np.allclose(got, states[0].mean(0), atol=1e-3)
    silent = whisper.prepare(torch.zeros(1, 160_000))
    states = np.asarray(whisper._whisper.model.encode(ctranslate2.StorageView.from_array(silent), to_cpu=True))
    assert np.allclose(whisper.encode_prepared(silent)[0].numpy(), states[0].mean(0), atol=1e-5)
    with pytest.raises(ConfigError, match="cannot be fine-tuned"):
        build_audio_encoder("whisper", trainable=True)


def test_trainable_aisfx_keeps_gradients():
    aisfx = build_audio_encoder("aisfx", trainable=True)
    chunk = torch.from_numpy(aisfx.policy.chunks(load_audio(FILES[2], 44100), 44100))
    aisfx.encode_chunks(chunk).sum().backward()
    assert aisfx.embedding_net.conv_block1.conv1.weight.grad is not None


def test_minilm_is_normalised_and_semantic():
    text = build_text_encoder("minilm")
    assert text.embed_dim == 384
    e = text.encode(["a dog barking", "a dog barks loudly", "a piano melody"])
    assert torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5)
    assert (e[0] @ e[1]) > (e[0] @ e[2]) + 0.3
    single = torch.cat([text.encode([s]) for s in ["a dog barking", "a piano melody"]])
    assert torch.equal(single, e[[0, 2]])  # a text's vector does not depend on its batch mates


def test_minilm_runs_in_onnx_runtime_and_agrees_with_torch():
    frozen, trainable = build_text_encoder("minilm"), build_text_encoder("minilm", trainable=True).eval()
    texts = ["a door slams", "someone whistles a tune while rain falls on the roof of a car", "x"]
    fast = frozen.encode(texts)
    assert frozen._onnx is not None  # the export was made, checked against torch and kept
    with torch.no_grad():
        reference = trainable.encode(texts)  # torch, fixed-shape blocks
    assert trainable._onnx is None and (fast - reference).abs().max() < 1e-5


def test_unknown_specs_are_config_errors():
    with pytest.raises(ConfigError, match="unknown audio encoder"):
        build_audio_encoder("wav2vec9")
    with pytest.raises(ConfigError, match="unknown text encoder"):
        build_text_encoder("word2vec")
    with pytest.raises(ConfigError, match="cannot be fine-tuned"):
        build_audio_encoder("yamnet", trainable=True)
    with pytest.raises(ConfigError, match="no config.json"):
        build_audio_encoder("hf:/no/such/folder")
