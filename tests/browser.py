"""Headless Chromium (Debian's package, installed by `make install`) for tests that look at pages."""

from __future__ import annotations

import shutil
import subprocess
import tempfile


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
