"""almkit's audio tools: thin wrappers over the library's models and tasks, each returning JSON with units and times.

==================  ===========================================================================================
``tag``             YAMNet's AudioSet classes per 0.96 s window, with times and scores
``classify``        zero-shot classification over given labels (the Two-Towers default)
``caption``         a caption per window (the Two-Heads default)
``ask``             an answer to a question about the audio (the Two-Heads default)
``transcribe``      what is said, with segment and word times (Whisper base)
``speech_segments`` when someone speaks (Silero VAD) and who (Resemblyzer voices, clustered)
``detect``          when a described sound occurs: the Two-Towers model on YAMNet frames every 0.24 s
``order``           whether one described sound starts before another (their first onsets, as ``detect`` finds them)
``loudness``        integrated loudness (ITU-R BS.1770-4, pyloudnorm), sample peak, duration, sample rate
``compare_speakers`` whether two recordings hold the same voice (Resemblyzer cosine)
``search``          rank clips against a text query (the Two-Towers default)
==================  ===========================================================================================

Models load on first use and are shared by every call of one :class:`AudioTools`. The functions take local
files; clients' audio (paths under allowed roots, base64 data) is turned into files before a call (see
:mod:`almkit.agents.sources`).
"""

from __future__ import annotations

import math
import threading
from functools import cached_property
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field

from almkit.agents.tools import Tool, ToolRegistry
from almkit.errors import AudioError

Audio = Annotated[str, Field(description="The audio file to analyse.")]
TAG_HOP = 0.96  # YAMNet's own patch hop
DETECT_HOP = 0.24  # finer frames for event times
SAME_SPEAKER = 0.75  # Resemblyzer cosine at or above which two voices are taken for one speaker


def _r(x: float, digits: int = 3) -> float:
    return round(float(x), digits)


def _span(start: float, end: float) -> str:
    return f"{start:.2f}-{end:.2f} s"


class AudioTools:
    """The models behind the tools, loaded once on first use (thread-safe), and the tools themselves."""

    def __init__(self, device: str = "cpu", whisper: str = "base"):
        self.device = device
        self.whisper_model = whisper
        self._lock = threading.RLock()

    # --- models (loaded on first use) ---------------------------------------------------------------------
    @cached_property
    def towers(self):
        with self._lock:
            from almkit.architectures.two_towers.factory import load_model

            return load_model("default", device=self.device)

    @cached_property
    def heads(self):
        with self._lock:
            from almkit.architectures.two_heads import load_generator

            return load_generator("default", device=self.device)

    @cached_property
    def whisper(self):
        with self._lock:
            from almkit.encoders.speech import WhisperTranscriber

            return WhisperTranscriber(self.whisper_model)

    @cached_property
    def voices(self):
        with self._lock:
            from almkit.encoders.speaker import SpeakerEncoder

            return SpeakerEncoder()

    def frames(self, audio: str, hop: float) -> tuple[np.ndarray, float]:
        """YAMNet ``[embedding | 521 class probabilities]`` for 0.975 s windows every ``hop`` seconds, and the
        clip's duration (the Two-Towers default's audio tower, so its projection applies to every row)."""
        from almkit.audio.io import load_audio
        from almkit.encoders.embed import frame_rows

        encoder = self.towers.audio_encoder
        wave = load_audio(audio, encoder.sample_rate)
        return frame_rows(encoder, wave, hop).numpy(), len(wave) / encoder.sample_rate

    def speech(self, audio: str) -> tuple[np.ndarray, list[tuple[float, float]], float]:
        """The 16 kHz wave, its speech segments (seconds; Silero VAD, short pauses split turns) and duration."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        from almkit.audio.io import load_audio

        wave = load_audio(audio, 16_000)
        options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=100, min_speech_duration_ms=200)
        stamps = get_speech_timestamps(np.clip(wave, -1, 1), options) if len(wave) else []
        return wave, [(s["start"] / 16_000, s["end"] / 16_000) for s in stamps], len(wave) / 16_000

    # --- tools ------------------------------------------------------------------------------------------
    def tag(
        self,
        audio: Audio,
        top_k: Annotated[int, Field(ge=1, le=20, description="How many classes to give.")] = 5,
    ) -> dict:
        """Sound-event tags: YAMNet's AudioSet classes with their best score and when it occurs, and the top
        classes of every 0.96 s window."""
        rows, duration = self.frames(audio, TAG_HOP)
        names = self.towers.audio_encoder.class_names
        scores = rows[:, -len(names) :]
        windows = []
        for i, s in enumerate(scores):
            start = i * TAG_HOP
            top = np.argsort(-s, kind="stable")[:top_k]
            windows.append({"start_s": _r(start), "end_s": _r(min(duration, start + 0.975)),
                            "tags": [{"label": names[j], "score": _r(s[j])} for j in top if s[j] >= 0.05]})  # fmt: skip
        best = scores.max(0)
        tags = []
        for j in np.argsort(-best, kind="stable")[:top_k]:
            i = int(scores[:, j].argmax())
            tags.append({"label": names[j], "score": _r(best[j]), "start_s": windows[i]["start_s"],
                         "end_s": windows[i]["end_s"]})  # fmt: skip
        return {"duration_s": _r(duration), "tags": tags, "windows": windows}

    def classify(
        self,
        audio: Audio,
        labels: Annotated[list[str], Field(min_length=1, description="Candidate labels, e.g. ['dog', 'rain'].")],
    ) -> dict:
        """Zero-shot classification of the whole clip over the given labels: softmax scores over them and the
        best label's cosine similarity in the joint audio-text space."""
        result = self.towers.classify([audio], labels, top_k=len(labels))[0]
        top = [{"label": label, "score": _r(score)} for label, score in result["top"]]
        return {"label": result["label"], "score": _r(result["score"]), "similarity": _r(result["similarity"]),
                "labels": top}  # fmt: skip

    def _generate(self, audio: str, instruction: str) -> dict:
        answers, failures = self.heads.run([audio], [instruction])
        if failures:
            raise AudioError(failures[0][1], source=audio)
        answer = answers[0]
        windows = [{"start_s": w["start"], "end_s": w["end"], "text": w["text"]} for w in answer.windows]
        return {"text": answer.text, "windows": windows}

    def caption(self, audio: Audio) -> dict:
        """A caption of the audio (one per window of a long file, with times), by the Two-Heads model."""
        return self._generate(audio, "Describe the audio.")

    def ask(
        self, audio: Audio, question: Annotated[str, Field(min_length=1, description="A question about the audio.")]
    ) -> dict:
        """The Two-Heads model's answer to a question about the audio (one per window of a long file)."""
        return self._generate(audio, question)

    def transcribe(self, audio: Audio) -> dict:
        """What is said, with segment and word times (Whisper base); empty text when nobody speaks."""
        from almkit.audio.io import load_audio

        result = self.whisper.transcribe(load_audio(audio, self.whisper.sample_rate))
        segments = [
            {"start_s": s["start"], "end_s": s["end"], "text": s["text"],
             "words": [{"word": w["word"], "start_s": w["start"], "end_s": w["end"],
                        "probability": w["probability"]} for w in s["words"]]}
            for s in result["segments"]
        ]  # fmt: skip
        return {"text": result["text"], "language": result["language"], "duration_s": _r(result["duration"]),
                "segments": segments}  # fmt: skip

    def speech_segments(self, audio: Audio) -> dict:
        """When someone speaks (Silero VAD) and who: each segment's speaker number from Resemblyzer voice
        embeddings clustered at a cosine of 0.75, and the number of speakers."""
        wave, segments, duration = self.speech(audio)
        embeddings = [self.voices.embed(wave[int(a * 16_000) : int(b * 16_000)]) for a, b in segments]
        labels = cluster_speakers(np.array(embeddings)) if embeddings else []
        rows = [{"start_s": _r(a), "end_s": _r(b), "speaker": k} for (a, b), k in zip(segments, labels, strict=True)]
        return {"duration_s": _r(duration), "speech_s": _r(sum(b - a for a, b in segments)),
                "speakers": len(set(labels)), "segments": rows}  # fmt: skip

    def detect(
        self,
        audio: Audio,
        query: Annotated[str, Field(min_length=1, description="The sound to find, e.g. 'a dog barking'.")],
        threshold: Annotated[float, Field(ge=-1, le=1, description="Cosine similarity that counts as present.")] = 0.3,
    ) -> dict:
        """When a described sound occurs: events with start and end times, from the Two-Towers model's
        audio-text similarity on 0.975 s frames every 0.24 s (median-filtered)."""
        import torch

        from almkit.architectures.queried_detector import median_filter, runs

        rows, duration = self.frames(audio, DETECT_HOP)
        model = self.towers
        with torch.no_grad():
            frames = model.project_audio(torch.from_numpy(rows)).cpu().numpy()
        text = model.embed_text(model.config.prompt.format(query))[0]
        score = median_filter(frames @ text, 3)
        centre = np.arange(len(score)) * DETECT_HOP + 0.4875
        events = [
            {"start_s": _r(max(0.0, centre[a] - DETECT_HOP / 2), 2), "end_s": _r(min(duration, centre[b - 1]
             + DETECT_HOP / 2), 2), "score": _r(score[a:b].max())}
            for a, b in runs(score >= threshold)
        ]  # fmt: skip
        return {"query": query, "duration_s": _r(duration), "threshold": threshold, "events": events,
                "best_score": _r(score.max()), "best_at_s": _r(centre[int(score.argmax())], 2)}  # fmt: skip

    def order(
        self,
        audio: Audio,
        first: Annotated[str, Field(min_length=1, description="The sound asked to come first, e.g. 'the bell'.")],
        second: Annotated[str, Field(min_length=1, description="The sound asked to come later, e.g. 'the drum'.")],
    ) -> dict:
        """Whether one described sound starts before another: the first onset of each, as ``detect`` finds it
        (its first event, or its best frame when no frame passes the threshold)."""
        onsets = []
        for query in (first, second):
            found = self.detect(audio, query)
            onsets.append(found["events"][0]["start_s"] if found["events"] else found["best_at_s"])
        return {"first": first, "second": second, "first_starts_s": onsets[0], "second_starts_s": onsets[1],
                "first_is_before": onsets[0] < onsets[1]}  # fmt: skip

    def loudness(self, audio: Audio) -> dict:
        """Integrated loudness in LUFS (ITU-R BS.1770-4, all channels), sample peak in dBFS, duration in
        seconds, sample rate and channels of the file as stored."""
        import pyloudnorm
        import soundfile as sf

        from almkit.audio.io import audio_info

        info = audio_info(audio)  # AudioError naming the file for anything unreadable
        data, rate = sf.read(audio, always_2d=True, dtype="float64")
        peak = float(np.abs(data).max()) if data.size else 0.0
        lufs = None
        if len(data) >= int(0.4 * rate) and peak > 0:  # BS.1770 needs one 400 ms block
            value = pyloudnorm.Meter(rate).integrated_loudness(data if data.shape[1] > 1 else data[:, 0])
            lufs = _r(value, 2) if math.isfinite(value) else None
        return {"integrated_lufs": lufs, "peak_dbfs": _r(20 * math.log10(peak), 2) if peak > 0 else None,
                "duration_s": _r(info.duration), "sample_rate_hz": info.sample_rate,
                "channels": info.channels}  # fmt: skip

    def compare_speakers(
        self, audio: Audio, other: Annotated[str, Field(description="The second audio file.")]
    ) -> dict:
        """Whether two recordings hold the same voice: cosine of their Resemblyzer embeddings (speech only) and
        the decision at 0.75."""
        embeddings, speech = [], []
        for path in (audio, other):
            wave, segments, _ = self.speech(path)
            if not segments:
                raise AudioError("no speech found", source=path, hint="compare recordings in which someone speaks")
            embeddings.append(self.voices.embed(np.concatenate([wave[int(a * 16_000) : int(b * 16_000)]
                                                                 for a, b in segments])))  # fmt: skip
            speech.append(_r(sum(b - a for a, b in segments)))
        cosine = float(embeddings[0] @ embeddings[1])
        return {"cosine": _r(cosine), "same_speaker": cosine >= SAME_SPEAKER, "threshold": SAME_SPEAKER,
                "speech_s": speech}  # fmt: skip

    def search(
        self,
        audio: Annotated[list[str], Field(min_length=1, description="The clips (or folders) to search.")],
        query: Annotated[str, Field(min_length=1, description="What to look for, e.g. 'a door slamming'.")],
        top_k: Annotated[int, Field(ge=1, le=100, description="How many clips to give.")] = 5,
    ) -> dict:
        """Rank clips by how well they match a text query (cosine in the Two-Towers joint space)."""
        from almkit.audio.inputs import expand_audio_inputs

        model = self.towers
        emb, paths, failures = model.embed_audio_files(expand_audio_inputs(audio))
        scores = emb @ model.embed_text(model.config.prompt.format(query))[0] if len(paths) else np.zeros(0)
        order = np.argsort(-scores, kind="stable")[:top_k]
        return {"query": query, "results": [{"audio": paths[i], "score": _r(scores[i])} for i in order],
                "failed": [{"audio": p, "error": m} for p, m in failures]}  # fmt: skip

    def registry(self) -> ToolRegistry:
        """Every tool, with its one-line summary for a language model."""
        return ToolRegistry(
            [Tool.from_function(getattr(self, name), SUMMARIES[name], ANSWERS[name]) for name in SUMMARIES]
        )


def cluster_speakers(embeddings: np.ndarray, threshold: float = SAME_SPEAKER) -> list[int]:
    """Average-linkage agglomerative clustering of unit voice embeddings: clusters merge while their mean
    cosine is at least ``threshold``; labels numbered by first appearance."""
    clusters = [[i] for i in range(len(embeddings))]
    sims = embeddings @ embeddings.T
    while len(clusters) > 1:
        best, pair = -2.0, None
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                s = float(sims[np.ix_(clusters[a], clusters[b])].mean())
                if s > best:
                    best, pair = s, (a, b)
        if best < threshold:
            break
        a, b = pair
        clusters[a] += clusters.pop(b)
    label = {i: k for k, members in enumerate(sorted(clusters, key=min)) for i in members}
    return [label[i] for i in range(len(embeddings))]


def _tags(out: dict) -> str:
    return "; ".join(f"{t['label']} {t['score']:.2f} at {_span(t['start_s'], t['end_s'])}" for t in out["tags"])


def _windows(out: dict) -> str:
    if len(out["windows"]) == 1:
        return out["text"]
    return " ".join(f"[{_span(w['start_s'], w['end_s'])}] {w['text']}" for w in out["windows"])


def _speech(out: dict) -> str:
    turns = ", ".join(f"speaker {s['speaker'] + 1} {_span(s['start_s'], s['end_s'])}" for s in out["segments"])
    return f"{out['speakers']} speaker(s), {out['speech_s']:.2f} s of speech" + (f": {turns}" if turns else "")


def _detect(out: dict) -> str:
    if not out["events"]:
        return f"'{out['query']}' not found (best score {out['best_score']:.2f} at {out['best_at_s']:.2f} s)"
    spans = ", ".join(f"{_span(e['start_s'], e['end_s'])} (score {e['score']:.2f})" for e in out["events"])
    return f"'{out['query']}' at {spans}; first starts at {out['events'][0]['start_s']:.2f} s"


def _loudness(out: dict) -> str:
    lufs = "n/a (silent or under 0.4 s)" if out["integrated_lufs"] is None else f"{out['integrated_lufs']:.1f} LUFS"
    peak = "-inf" if out["peak_dbfs"] is None else f"{out['peak_dbfs']:.1f}"
    return (f"loudness {lufs}, peak {peak} dBFS, duration {out['duration_s']:.2f} s, {out['sample_rate_hz']} Hz, "
            f"{out['channels']} channel(s)")  # fmt: skip


SUMMARIES = {
    "tag": _tags,
    "classify": lambda o: ", ".join(f"{x['label']} {x['score']:.2f}" for x in o["labels"]),
    "caption": _windows,
    "ask": _windows,
    "transcribe": lambda o: f'"{o["text"]}"' if o["text"] else "no speech",
    "speech_segments": _speech,
    "detect": _detect,
    "order": lambda o: (
        f"'{o['first']}' starts at {o['first_starts_s']:.2f} s, '{o['second']}' at {o['second_starts_s']:.2f} s"
    ),
    "loudness": _loudness,
    "compare_speakers": lambda o: f"{'same' if o['same_speaker'] else 'different'} speaker (cosine {o['cosine']:.2f})",
    "search": lambda o: ", ".join(f"{Path(r['audio']).name} {r['score']:.2f}" for r in o["results"]),
}


def _detect_answers(out: dict) -> list[tuple[str, str]]:
    if not out["events"]:  # a question that presupposes the sound still gets the closest frame, marked as such
        return [("start", f"'{out['query']}' not detected; closest match at {out['best_at_s']:.2f} s "
                          f"(score {out['best_score']:.2f})")]  # fmt: skip
    query, first = out["query"], out["events"][0]
    spans = [("span", f"'{query}' from {e['start_s']:.2f} s to {e['end_s']:.2f} s") for e in out["events"]]
    return [("start", f"'{query}' starts at {first['start_s']:.2f} s"), *spans]


def _loudness_answers(out: dict) -> list[tuple[str, str]]:
    lufs = "n/a" if out["integrated_lufs"] is None else f"{out['integrated_lufs']:.1f} LUFS"
    peak = "-inf dBFS" if out["peak_dbfs"] is None else f"{out['peak_dbfs']:.1f} dBFS"
    return [("loudness", f"loudness {lufs}"), ("peak", f"peak {peak}"), ("duration", f"duration "
            f"{out['duration_s']:.2f} s"), ("sample rate", f"sample rate {out['sample_rate_hz']} Hz")]  # fmt: skip


# The short answers each output supports, as (kind, text): a grounded answer is one of them, never free text.
ANSWERS = {
    "tag": lambda o: [
        ("tag", f"{t['label']} ({t['score']:.2f} at {_span(t['start_s'], t['end_s'])})") for t in o["tags"]
    ],  # fmt: skip
    "classify": lambda o: [("label", f"{x['label']} ({x['score']:.2f})") for x in o["labels"]],
    "caption": lambda o: [("text", o["text"])],
    "ask": lambda o: [("text", o["text"])],
    "transcribe": lambda o: [("said", f'said: "{o["text"]}"' if o["text"] else "no speech")],
    "speech_segments": lambda o: [
        ("speakers", f"{o['speakers']} speaker(s)"),
        ("speech time", f"{o['speech_s']:.2f} s of speech"),
        ("speaks", "yes, someone speaks" if o["speakers"] else "no, nobody speaks"),
    ],
    "detect": _detect_answers,
    "order": lambda o: [
        (
            "order",
            f"{'yes' if o['first_is_before'] else 'no'}: '{o['first']}' starts at "
            f"{o['first_starts_s']:.2f} s, '{o['second']}' at {o['second_starts_s']:.2f} s",
        )
    ],
    "loudness": _loudness_answers,
    "compare_speakers": lambda o: [("same", "same speaker" if o["same_speaker"] else "different speakers")],
    "search": lambda o: [("clip", f"{Path(r['audio']).name} (score {r['score']:.2f})") for r in o["results"]],
}
