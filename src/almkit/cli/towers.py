"""Two-Towers commands: classify, embed, retrieve, train, demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from almkit.cli._common import (
    ALLOW_OUTSIDE,
    DEVICE,
    FORMAT,
    Format,
    check_writable,
    report_failures,
    require_usable,
    short_names,
    table,
    write_atomic,
)
from almkit.errors import ConfigError

MODEL = Annotated[str, typer.Option("--model", "-m", help="'default' or a model folder from `almkit train`.")]
BATCH = Annotated[int, typer.Option("--batch-size", min=1, help="Clips per encoder batch.")]


def _load(model: str, device: str = "auto"):
    from almkit import load_model

    return load_model(model, device=device)


def classify(
    audio: Annotated[list[str], typer.Argument(help="Audio files or folders.")],
    labels: Annotated[
        str | None, typer.Option("--labels", "-l", help='Comma-separated labels, e.g. "dog,rain,siren".')
    ] = None,
    labels_file: Annotated[
        Path | None, typer.Option("--labels-file", help="One label per line (labels may hold commas).")
    ] = None,
    model: MODEL = "default",
    prompt: Annotated[str | None, typer.Option(help="Prompt template with {} for the label.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1)] = 5,
    fmt: FORMAT = Format.table,
    batch_size: BATCH = 32,
    device: DEVICE = "auto",
    threshold: Annotated[
        float | None,
        typer.Option(help='Open set: a clip whose best cosine similarity is below this gets "none".'),
    ] = None,
) -> None:
    """Zero-shot classification of audio against free-text labels (softmax over them; --threshold lets a clip
    match none of them)."""
    from almkit.audio.inputs import expand_audio_inputs

    if (labels is None) == (labels_file is None):
        raise ConfigError("give either --labels or --labels-file", hint='e.g. --labels "dog,rain,siren"')
    if labels_file is not None:
        if not labels_file.is_file():
            raise ConfigError("labels file not found", source=labels_file)
        names = [x.strip() for x in labels_file.read_text(encoding="utf-8").splitlines() if x.strip()]
    else:
        names = [x.strip() for x in labels.split(",") if x.strip()]
    if not names:
        raise ConfigError("no labels given", hint='pass --labels "dog,rain,siren" or a --labels-file')
    m = _load(model, device)
    emb, paths, failures = m.embed_audio_files(expand_audio_inputs(audio), batch_size, progress=fmt != Format.json)
    require_usable(paths, failures)
    results = m.rank_labels(emb, paths, names, prompt, top_k, threshold)
    if fmt == Format.json:
        for r in results:
            print(json.dumps(r))
    else:
        root, names = short_names([r["audio"] for r in results])
        rows = [
            [
                name,
                r["label"] or f"(none; best {r['top'][0][0]})",
                f"{r['score']:.3f}",
                f"{r['similarity']:.3f}",
                ", ".join(f"{lab} {s:.2f}" for lab, s in r["top"][1:]),
            ]
            for name, r in zip(names, results, strict=True)
        ]
        columns = ["audio", "label", "score", "cosine", "next"]
        table(f"zero-shot classification ({root})", columns, rows)
    report_failures(failures)


def embed(
    audio: Annotated[list[str] | None, typer.Argument(help="Audio files or folders.")] = None,
    text: Annotated[list[str] | None, typer.Option("--text", "-t", help="Text(s) to embed instead of audio.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output .npy or .safetensors.")] = None,
    model: MODEL = "default",
    batch_size: BATCH = 32,
    device: DEVICE = "auto",
) -> None:
    """Joint-space embeddings of audio files or texts (unit norm)."""
    from almkit.audio.inputs import expand_audio_inputs

    if bool(audio) == bool(text):
        raise ConfigError("give either audio files or --text", hint="almkit embed a.wav --out e.npy")
    if out is not None:
        if out.suffix not in (".npy", ".safetensors"):
            raise ConfigError(f"unsupported output type {out.suffix!r}", source=out, hint="use .npy or .safetensors")
        check_writable(out)
    m = _load(model, device)
    failures: list[tuple[str, str]] = []
    if text:
        emb, names = m.embed_text(text), list(text)
    else:
        emb, names, failures = m.embed_audio_files(expand_audio_inputs(audio), batch_size, progress=out is not None)
        require_usable(names, failures)  # before anything is written
    if out is None:
        for name, vec in zip(names, emb, strict=True):
            print(json.dumps({"input": name, "embedding": [round(float(v), 6) for v in vec]}))
    elif out.suffix == ".npy":
        import numpy as np

        write_atomic(out, lambda tmp: np.save(tmp, emb))
        listing = "".join(n.replace("\n", " ") + "\n" for n in names)
        write_atomic(out.with_suffix(".txt"), lambda tmp: tmp.write_text(listing))
        typer.echo(f"wrote {emb.shape[0]} x {emb.shape[1]} to {out} (inputs listed in {out.with_suffix('.txt')})")
    else:
        import torch
        from safetensors.torch import save_file

        tensors, meta = {"embeddings": torch.from_numpy(emb)}, {"inputs": json.dumps(names)}
        write_atomic(out, lambda tmp: save_file(tensors, str(tmp), metadata=meta))
        typer.echo(f"wrote {emb.shape[0]} x {emb.shape[1]} to {out}")
    report_failures(failures)


def retrieve(
    audio: Annotated[list[str], typer.Argument(help="Audio files or folders to search (or to caption).")],
    query: Annotated[list[str] | None, typer.Option("--query", "-q", help="Text query (text-to-audio).")] = None,
    captions: Annotated[
        Path | None, typer.Option("--captions", help="File with one caption per line (audio-to-text).")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1)] = 5,
    model: MODEL = "default",
    fmt: FORMAT = Format.table,
    batch_size: BATCH = 32,
    device: DEVICE = "auto",
) -> None:
    """Search audio with text (--query), or find the best captions for each audio file (--captions)."""
    from almkit.audio.inputs import expand_audio_inputs
    from almkit.tasks.retrieval import search

    if bool(query) == bool(captions):
        raise ConfigError("give either --query (text-to-audio) or --captions FILE (audio-to-text)")
    texts = query or []
    if captions:
        if not captions.is_file():
            raise ConfigError("captions file not found", source=captions)
        texts = [line.strip() for line in captions.read_text().splitlines() if line.strip()]
        if not texts:
            raise ConfigError("captions file has no captions", source=captions)
    m = _load(model, device)
    audio_emb, paths, failures = m.embed_audio_files(
        expand_audio_inputs(audio), batch_size, progress=fmt != Format.json
    )
    require_usable(paths, failures)
    if paths:
        text_emb = m.embed_text(texts)
        q, items, q_names, item_names = (
            (text_emb, audio_emb, texts, paths) if query else (audio_emb, text_emb, paths, texts)
        )
        scores, idx = search(q, items, top_k)
        for name, s_row, i_row in zip(q_names, scores, idx, strict=True):
            hits = [[item_names[i], round(float(s), 6)] for s, i in zip(s_row, i_row, strict=True)]
            if fmt == Format.json:
                print(json.dumps({"query": name, "results": hits}))
            else:
                root, short = short_names([h for h, _ in hits]) if query else (".", [h for h, _ in hits])
                table(
                    f"query: {name}" + (f" ({root})" if root != "." else ""),
                    ["rank", "match", "cosine"],
                    [[r + 1, h, f"{s:.3f}"] for r, (h, (_, s)) in enumerate(zip(short, hits, strict=True))],
                )
    report_failures(failures)


def train(
    manifest: Annotated[Path, typer.Option("--manifest", help="JSONL manifest with audio + captions/label.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (checkpoints, logs, model/).")],
    init: Annotated[str | None, typer.Option(help="Start from a model ('default' or a folder).")] = None,
    audio_encoder: Annotated[
        str, typer.Option(help="yamnet, yamnet+scores, aisfx, whisper, cnn, hf:PATH")
    ] = "yamnet+scores",
    text_encoder: Annotated[str, typer.Option(help="minilm or hf:PATH")] = "minilm",
    audio_projector: Annotated[str, typer.Option(help="identity, linear, mlp, residual, conse")] = "conse",
    text_projector: Annotated[str, typer.Option(help="identity, linear, mlp, residual, conse")] = "identity",
    embed_dim: Annotated[int, typer.Option(min=1)] = 384,
    loss: Annotated[str, typer.Option(help="infonce or sigmoid")] = "infonce",
    train_audio: Annotated[bool, typer.Option("--train-audio/--freeze-audio")] = False,
    train_text: Annotated[bool, typer.Option("--train-text/--freeze-text")] = False,
    split: Annotated[str, typer.Option(help="Manifest split to train on (ignored if none has one).")] = "train",
    steps: Annotated[int | None, typer.Option(min=1, help="Total optimizer steps (default: epochs).")] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 10,
    batch_size: Annotated[int, typer.Option(min=2)] = 64,
    lr: Annotated[float, typer.Option(min=0)] = 1e-3,
    warmup: Annotated[int, typer.Option(min=0)] = 0,
    accelerator: Annotated[str, typer.Option(help="auto (a CUDA GPU when there is one), cpu or cuda.")] = "auto",
    devices: Annotated[int, typer.Option(min=1, help="Processes (DDP: gloo on CPU, NCCL on GPUs).")] = 1,
    seed: int = 0,
    checkpoint_every: Annotated[int, typer.Option(min=0)] = 0,
    extend: Annotated[
        bool, typer.Option("--extend", help="Resume a run with a new --steps (the lr schedule is recomputed).")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse manifest keys outside the schema.")] = False,
    allow_outside: ALLOW_OUTSIDE = False,
) -> None:
    """Train a Two-Towers model contrastively from a manifest (resumes from OUT if it holds checkpoints)."""
    from almkit.architectures.two_towers import TwoTowersConfig
    from almkit.training.engine import TrainConfig
    from almkit.training.two_towers import train_two_towers

    if not manifest.is_file():
        raise ConfigError("manifest not found", source=manifest)
    out.mkdir(parents=True, exist_ok=True)  # an unusable --out fails now, not after the features are computed
    model_config = TwoTowersConfig(
        audio_encoder=audio_encoder,
        text_encoder=text_encoder,
        embed_dim=embed_dim,
        audio_projector=audio_projector,
        text_projector=text_projector,
        loss=loss,
        freeze_audio=not train_audio,
        freeze_text=not train_text,
    )
    config = TrainConfig(
        out_dir=str(out),
        max_steps=steps,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        warmup_steps=warmup,
        accelerator=accelerator,
        devices=devices,
        seed=seed,
        checkpoint_every=checkpoint_every,
        progress=sys.stderr.isatty(),
        extend=extend,
    )
    _, result, failures = train_two_towers(
        manifest,
        config,
        model_config=None if init else model_config,
        init=init,
        split=split,
        strict=strict,
        allow_outside=allow_outside,
    )
    if result.is_global_zero:
        typer.echo(f"trained {result.steps} steps, final loss {result.last_loss:.4f}; model in {out / 'model'}")
        report_failures(failures)


def demo(
    folder: Annotated[Path, typer.Option("--folder", help="Where to build the example audio.")] = Path("examples"),
    model: MODEL = "default",
) -> None:
    """The main job on the default model: zero-shot tags and a text search over real example audio."""
    from almkit.examples import LABELS, build_examples

    files = build_examples(folder)
    typer.echo(f"example audio: {len(files)} real recordings in {folder}/ (Debian packages)")
    classify(
        [str(folder)],
        labels=",".join(LABELS),
        model=model,
        prompt=None,
        top_k=3,
        fmt=Format.table,
        batch_size=32,
    )
    retrieve(
        [str(folder)],
        query=["a bell ringing", "someone speaking"],
        captions=None,
        top_k=3,
        model=model,
        fmt=Format.table,
        batch_size=32,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    for command in (classify, embed, retrieve, train, demo):
        app.command()(command)
