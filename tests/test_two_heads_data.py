"""Instruction data from a real scene manifest: every task, several phrasings, stable choices, length batches."""

from collections import Counter

import pytest

from almkit.data.instructions import CAPTION_PROMPTS, SILENCE, clip_examples, length_batches, silence_clips
from almkit.data.manifest import QA, Clip, Event


def clip(i: int) -> Clip:
    return Clip(
        audio=f"/data/scene-{i}.flac",
        captions=["A dog barks, then a bell rings.", "A bell after a dog.", "Two sounds."],
        events=[Event("bell", 2.0, 3.1), Event("dog bark", 0.5, 1.25)],
        labels=["bell", "dog bark"],
        qa=[QA("Is there a bell sound?", "yes", "presence"), QA("How many sounds are there?", "two", "count")],
    )


def test_every_task_with_its_answer():
    ex = clip_examples(clip(0))
    tasks = Counter(e.task for e in ex)
    assert tasks == {"caption": 2, "qa/presence": 1, "qa/count": 1, "events": 1, "free": 1}
    assert [e.answer for e in ex if e.task == "caption"] == ["A dog barks, then a bell rings.", "A bell after a dog."]
    assert next(e for e in ex if e.task == "events").answer == "dog bark 0.5-1.2 s; bell 2.0-3.1 s"
    assert next(e for e in ex if e.task == "qa/presence").instruction.count("Is there a bell sound?") == 1
    assert next(e for e in ex if e.task == "free").answer in ("dog bark and bell", "dog bark")


def test_phrasings_vary_across_clips_and_are_stable():
    prompts = {e.instruction for i in range(40) for e in clip_examples(clip(i)) if e.task == "caption"}
    assert len(prompts) >= 4 and prompts <= set(CAPTION_PROMPTS)
    assert clip_examples(clip(7)) == clip_examples(clip(7))
    qa = {e.instruction for i in range(40) for e in clip_examples(clip(i)) if e.task == "qa/count"}
    assert "How many sounds are there?" in qa and len(qa) >= 3


@pytest.mark.parametrize("batch_size", [1, 4])
def test_length_batches_are_full_and_similar(batch_size):
    items = list(range(100))
    lengths = [(i * 37) % 101 for i in items]
    batches = length_batches(items, lengths, batch_size, seed=0, pool=5)
    assert all(len(b) == batch_size for b in batches) and len(batches) == 100 // batch_size
    assert len({i for b in batches for i in b}) == batch_size * len(batches)
    assert batches == length_batches(items, lengths, batch_size, seed=0, pool=5)
    if batch_size > 1:
        spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
        assert spread < 15  # random batches of 4 would spread ~50


def test_silence_clips_are_silent_captioned_silence_and_asked_about_absent_sounds(tmp_path):
    import soundfile as sf

    clips = silence_clips(tmp_path, 4, ["dog", "rain", "siren"], seed=1)
    assert [c.captions for c in clips] == [[SILENCE]] * 4
    for c in clips:
        wave, sr = sf.read(c.audio)
        assert sr == 16000 and 1.0 <= len(wave) / sr <= 10.0 and (wave**2).mean() ** 0.5 < 10 ** (-64 / 20)  # RMS
        assert [q.answer for q in c.qa] == ["no", "no"] and len({q.question for q in c.qa}) == 2
    assert [c.qa for c in silence_clips(tmp_path, 4, ["dog", "rain", "siren"], seed=1)] == [c.qa for c in clips]


def test_a_clip_with_only_a_label_is_asked_to_name_it():
    examples = clip_examples(Clip(audio="cow.flac", label="cow", captions=["a cow moos"]))
    assert [(e.task, e.answer) for e in examples] == [("caption", "a cow moos"), ("free", "cow")]
