"""Manifest schema: minimal forms, round trip, path resolution, errors naming file:line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from almkit.cli import app
from almkit.data.manifest import QA, SCHEMA_VERSION, Clip, Event, Stem, read_manifest, write_manifest
from almkit.errors import ManifestError


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_minimal_forms_are_valid_and_resolve_relative_to_manifest(tmp_path):
    sub = tmp_path / "m"
    sub.mkdir()
    m = _write(
        sub / "m.jsonl",
        ['{"audio": "a/dog.wav", "captions": ["a dog barks"]}', "", '{"audio": "/abs/cat.wav", "label": "cat"}'],
    )
    clips = list(read_manifest(m, allow_outside=True))
    assert len(clips) == 2
    assert clips[0].id == "a/dog" and clips[0].captions == ["a dog barks"]
    assert clips[0].audio_path == (sub / "a" / "dog.wav").absolute()
    assert clips[1].label == "cat" and clips[1].all_labels == ["cat"]
    assert str(clips[1].audio_path) == "/abs/cat.wav"


def test_parent_paths_climb_from_the_real_folder_of_a_symlinked_manifest(tmp_path):
    """``../`` in a manifest read through a symlinked folder reaches the file the OS would open."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "a.wav").write_bytes(b"")
    real = tmp_path / "build" / "suites" / "fsdd"
    real.mkdir(parents=True)
    _write(real / "m.jsonl", ['{"audio": "../../../shared/a.wav"}'])
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "suites").symlink_to(real.parent)
    clip = next(iter(read_manifest(tmp_path / "data" / "suites" / "fsdd" / "m.jsonl", allow_outside=True)))
    assert clip.audio_path == (tmp_path / "shared" / "a.wav").resolve() and clip.audio_path.is_file()


def test_full_round_trip(tmp_path):
    clip = Clip(
        audio="x.wav",
        offset=1.5,
        duration=4.0,
        captions=["a", "b"],
        labels=["dog", "bark"],
        events=[Event("dog", 0.1, 0.9)],
        qa=[QA("is there a dog?", "yes", "presence")],
        stems=[Stem("x_0.wav", "a dog")],
        split="test",
        source="unit",
        license="CC0",
        extra={"k": 1},
    )
    assert clip.id == "x@1.5"
    n = write_manifest(tmp_path / "out.jsonl", [clip, {"audio": "y.wav", "label": "y"}])
    assert n == 2
    line = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert line["schema"] == SCHEMA_VERSION
    back = list(read_manifest(tmp_path / "out.jsonl"))
    assert back[0] == clip
    assert back[0].stems[0].audio_path == tmp_path / "x_0.wav"
    assert back[1].label == "y"


def test_write_rebases_relative_paths(tmp_path):
    (tmp_path / "a").mkdir()
    m = _write(tmp_path / "a" / "m.jsonl", ['{"audio": "s.wav", "label": "s"}'])
    write_manifest(tmp_path / "b" / "m.jsonl", read_manifest(m))
    [clip] = read_manifest(tmp_path / "b" / "m.jsonl", allow_outside=True)
    assert clip.audio_path == (tmp_path / "a" / "s.wav").absolute()


@pytest.mark.parametrize(
    "line",
    [
        '{"audio": "../../../etc/passwd"}',
        '{"audio": "/etc/passwd"}',
        '{"audio": "ok/../../secret.wav"}',
        '{"audio": "a.wav", "stems": [{"audio": "../b.wav", "caption": "b"}]}',
    ],
)
def test_paths_outside_the_manifest_folder_need_allow_outside(tmp_path, line):
    (tmp_path / "data").mkdir()
    m = _write(tmp_path / "data" / "m.jsonl", ['{"audio": "in/side.wav", "label": "x"}', line])
    with pytest.raises(ManifestError) as info:
        list(read_manifest(m))
    message = str(info.value)
    assert f"{m}:2" in message and "points outside the manifest's folder" in message and "--allow-outside" in message
    assert "exist" not in message  # nothing is opened, so nothing is told about the file
    assert len(list(read_manifest(m, allow_outside=True))) == 2
    refused = CliRunner().invoke(app, ["data", "stats", str(m)])
    assert isinstance(refused.exception, ManifestError) and "--allow-outside" in str(refused.exception)
    assert CliRunner().invoke(app, ["data", "stats", str(m), "--allow-outside"]).exit_code == 0


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("{not json", "not valid JSON"),
        ('{"captions": ["x"]}', "'audio'"),
        ('{"audio": "a.wav", "pitch": 60, "extra": {"pitch": 61}}', "both at the top level"),
        ('{"audio": "a.wav", "events": [{"label": "x", "onset": 2, "offset": 1}]}', "offset"),
        ('{"audio": "a.wav", "duration": -1}', "duration"),
        ('{"audio": "a.wav", "qa": [{"question": "q"}]}', "qa.answer"),
        ('{"audio": "a.wav", "schema": 99}', "upgrade almkit"),
        ('{"audio": "a.wav", "captions": "one string"}', "must be a list"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_errors_name_file_and_line(tmp_path, line, needle):
    m = _write(tmp_path / "bad.jsonl", ['{"audio": "ok.wav", "label": "ok"}', line])
    it = read_manifest(m)
    assert next(it).label == "ok"  # lazy: the first line is yielded before the bad one is read
    with pytest.raises(ManifestError) as info:
        next(it)
    assert info.value.source == f"{m}:2"
    assert needle in str(info.value)


def test_missing_manifest(tmp_path):
    with pytest.raises(ManifestError, match="not found"):
        list(read_manifest(tmp_path / "nope.jsonl"))


def test_unknown_keys_kept_under_extra_with_one_warning(tmp_path):
    m = _write(
        tmp_path / "other.jsonl",
        [
            '{"audio": "a.wav", "label": "a", "pitch": 60, "caption": "x", "extra": {"kit": "k"}}',
            '{"audio": "b.wav", "label": "b", "pitch": 62}',
        ],
    )
    with pytest.warns(UserWarning) as record:
        clips = list(read_manifest(m))
    assert len(record) == 1  # one warning, naming the keys (and the likely typo)
    message = str(record[0].message)
    assert "'caption'" in message and "'pitch'" in message and "'captions'" in message
    assert clips[0].extra == {"kit": "k", "pitch": 60, "caption": "x"}
    assert clips[1].extra == {"pitch": 62}
    write_manifest(tmp_path / "out.jsonl", clips)  # the kept keys round-trip under extra, without a warning
    assert [c.extra for c in read_manifest(tmp_path / "out.jsonl")] == [c.extra for c in clips]


def test_strict_refuses_unknown_keys(tmp_path):
    m = _write(tmp_path / "other.jsonl", ['{"audio": "a.wav", "caption": "x"}'])
    with pytest.raises(ManifestError) as info:
        list(read_manifest(m, strict=True))
    assert info.value.source == f"{m}:1"
    assert "unknown key(s) ['caption']" in str(info.value) and "'captions'" in str(info.value)


def test_cli_stats_strict(tmp_path):
    from typer.testing import CliRunner

    from almkit.cli import app

    m = _write(tmp_path / "other.jsonl", ['{"audio": "a.wav", "label": "a", "duration": 1.0, "pitch": 60}'])
    loose = CliRunner().invoke(app, ["data", "stats", str(m)])
    assert loose.exit_code == 0 and "1 clips" in loose.output
    strict = CliRunner().invoke(app, ["data", "stats", str(m), "--strict"])
    assert strict.exit_code != 0 and "unknown key(s) ['pitch']" in str(strict.exception)


def test_default_ids_keep_folders_apart_and_duplicates_are_refused(tmp_path):
    from almkit.data.manifest import ManifestError

    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"audio": "dog/1.wav", "label": "dog"}\n{"audio": "cat/1.wav", "label": "cat"}\n')
    assert [c.id for c in read_manifest(manifest)] == ["dog/1", "cat/1"]
    manifest.write_text('{"audio": "a.wav", "label": "dog"}\n{"audio": "b.wav", "id": "a", "label": "cat"}\n')
    with pytest.raises(ManifestError, match=r"m\.jsonl:2.*also the id of line 1"):
        list(read_manifest(manifest))
