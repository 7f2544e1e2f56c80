"""Headless Chromium (Debian's package, installed by `make install`) for tests that look at pages."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SCREENSHOT_DIR = "LAM_SCREENSHOT_DIR"
"""Environment variable: a folder for the browser tests' screenshots (created if missing; a relative path
is from where pytest runs). Unset, they go to the test's tmp_path and the work tree stays clean. To refresh
the pictures in docs/:
`LAM_SCREENSHOT_DIR=docs .venv/bin/python -m pytest tests/test_admin_views.py tests/test_email.py`."""


def screenshot_dir(tmp_path: Path) -> Path:
    """The folder ``LAM_SCREENSHOT_DIR`` names, else ``tmp_path`` (pytest's, gone with the test run)."""
    chosen = os.environ.get(SCREENSHOT_DIR, "").strip()
    folder = Path(chosen) if chosen else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "chromium is missing: `make install` installs Debian's chromium package"
    profile = tempfile.mkdtemp(prefix="lam-chromium-")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ]
    try:
        return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
