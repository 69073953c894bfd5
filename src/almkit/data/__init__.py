"""Data: typed JSONL manifests, importers of the standard datasets, the everyday-sound bank, the scene builder,
instruction data and the evaluation suites."""

from almkit.data.manifest import QA, Clip, Event, Stem, read_manifest, write_manifest

__all__ = ["QA", "Clip", "Event", "Stem", "read_manifest", "write_manifest"]
