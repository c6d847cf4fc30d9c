"""The skip rule of every QEMU test: skipped with the missing tools named where the ARM toolchain or
QEMU is absent, but never in CI (`CI` set), where .ci/run installs them: there a missing tool fails."""

from __future__ import annotations

import os

import pytest

from digitedge.cgen.qemu import install_hint, missing_tools

needs_arm_toolchain = pytest.mark.skipif(
    bool(missing_tools()) and not os.environ.get("CI"),
    reason=f"ARM toolchain/QEMU not installed (missing {', '.join(missing_tools())}); install with: {install_hint()}")
