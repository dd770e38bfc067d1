"""A throwaway PostgreSQL cluster for the tests: Debian's `postgresql` binaries, a fresh data directory, a free
loopback port, trust authentication, stopped and deleted at the end. scripts/test.sh installs the package.

Also runnable on its own to give a shell a database for manual checks:
    python -m tests.pg_cluster   (prints the URL; Ctrl-C stops and deletes the cluster)
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _bindir() -> Path:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found: install Debian's 'postgresql' package "
                           "(scripts/test.sh does this), or set DRAFTER_TEST_PG_URL to an existing database.")
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """Start with `start()`, use `.url`, stop with `stop()`."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="imr-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://drafter@127.0.0.1:{self.port}/drafter"
        # PostgreSQL refuses to run as root: run its programs as the 'postgres' system user then
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *cmd: str) -> None:
        out = subprocess.run([*self.as_user, *cmd], capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")

    def start(self) -> PgCluster:
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "drafter", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off", "start")
        self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "drafter", "drafter")
        return self

    def create_database(self, name: str) -> str:
        self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "drafter", name)
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":
    c = PgCluster().start()
    print(c.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        c.stop()
