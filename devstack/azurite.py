"""Start Azurite's table service (from node_modules, pinned in package.json) on a free loopback port."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
# Azurite's published development key: public by design, valid only against the local emulator.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteError(RuntimeError):
    pass


def azurite_binary() -> str:
    local = ROOT / "node_modules" / ".bin" / "azurite-table"
    if local.exists():
        return str(local)
    found = shutil.which("azurite-table")
    if found:
        return found
    raise AzuriteError("azurite-table not found: run `make install` (npm ci installs the pinned Azurite)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Azurite:
    """Azurite's table service on a private port: in memory (a clean store per start) or in a folder."""

    def __init__(self, location: Path | None = None) -> None:
        """``location``: keep the data in this folder across runs; None keeps it in memory only."""
        self.location = location
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir = tempfile.mkdtemp(prefix="lam-azurite-")
        self._log = open(Path(self._workdir) / "azurite.log", "ab")  # noqa: SIM115 - closed in __exit__

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"TableEndpoint=http://127.0.0.1:{self.port}/{ACCOUNT};"
        )

    def start(self, timeout: float = 30.0, port: int = 0) -> Azurite:
        """Start on a free port, or on ``port`` (the same one again: storage coming back after an outage)."""
        binary = azurite_binary()
        if self.location:
            self.location.mkdir(parents=True, exist_ok=True)
        for _attempt in range(1 if port else 3):  # another process may grab the port between probe and bind
            self.port = port or _free_port()
            storage = ["--location", str(self.location)] if self.location else ["--inMemoryPersistence"]
            self._process = subprocess.Popen(  # noqa: S603 - our own pinned binary, fixed arguments
                [
                    binary,
                    *storage,
                    "--disableTelemetry",
                    "--silent",
                    "--skipApiVersionCheck",
                    "--tableHost",
                    "127.0.0.1",
                    "--tablePort",
                    str(self.port),
                ],
                cwd=self._workdir,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    break
                if _listening(self.port):
                    return self
                time.sleep(0.1)
            self.stop()
        log = (Path(self._workdir) / "azurite.log").read_text(errors="replace")[-2000:]
        raise AzuriteError(f"Azurite did not start on a loopback port; is Node.js 20 installed?\n{log}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            # SIGINT lets Azurite flush its on-disk database; SIGTERM would lose recent writes.
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()
        shutil.rmtree(self._workdir, ignore_errors=True)
