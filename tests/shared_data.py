"""Where the shared real data lies: ``../shared`` beside the checkout (as on the developers' machines and in
CI's clean clone), or ``$ALMKIT_SHARED``."""

import os
from pathlib import Path

SHARED = Path(os.environ.get("ALMKIT_SHARED", Path(__file__).resolve().parents[2] / "shared"))
FSDD_ROOT = SHARED / "data" / "fsdd"
FSDD = FSDD_ROOT / "recordings"
ONTOLOGY = SHARED / "data" / "audioset" / "ontology.json"
