"""Where the deployment files are; they are validated statically (no container runtime here)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
# The uid the image runs as; Kubernetes' runAsUser and the compose file must agree.
IMAGE_UID = 10001
