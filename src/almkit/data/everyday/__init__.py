"""The everyday-sound bank: real recordings of animals, weather, water, fire, vehicles, machines, households,
crowds and nature, taken out of Debian game-data packages, each mapped by a reviewed table to a label of a
shared vocabulary aligned with the AudioSet ontology and to a caption written for that clip.

``almkit data build-bank --out DIR`` installs the packages and writes ``DIR/everyday.jsonl``; whole packages
are held out for validation and test (:data:`~almkit.data.everyday.build.PACKAGE_SPLIT`).
"""

from almkit.data.everyday.build import PACKAGE_SPLIT, BankBuild, build_everyday
from almkit.data.everyday.tables import GROUPS, Row, Term, packages, read_table, vocabulary

__all__ = [
    "PACKAGE_SPLIT",
    "GROUPS",
    "BankBuild",
    "Row",
    "Term",
    "build_everyday",
    "packages",
    "read_table",
    "vocabulary",
]
