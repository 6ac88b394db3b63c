"""A real OpenSSH ``sshd`` on a loopback port for the remote tier, and "hosts" behind it.

Everything lives in a temp dir: the sshd's own host key and config, one client key per simulated host, and
an ``authorized_keys`` whose ``environment=`` options give each key's login its own HOME, SPECFLOW_HOME and
daemon socket — so ``ssh hosta`` reaches one specflowd and ``ssh hostb`` another, on this machine. The
machine's own sshd (port 22), its host keys and the user's keys are never used. An ssh client config file
(``ssh -F``) names the hosts; tests pass it as ``SPECFLOWCTL_SSH="ssh -F <file>"``.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import wait_until

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
SSH = shutil.which("ssh")
SSH_KEYGEN = shutil.which("ssh-keygen")
VENV_BIN = Path(sys.executable).parent
_AGENT_VARIABLES = ("SPECFLOW_CLAUDE", "SPECFLOW_SIM_DELAY", "FAKE_CLAUDE_SCRIPT", "FAKE_CLAUDE_ARGV_LOG")


def missing() -> str | None:
    """Why the remote tier cannot run here, or None."""
    if not (SSHD and SSH and SSH_KEYGEN):
        return "OpenSSH (sshd, ssh, ssh-keygen) is not installed: apt-get install openssh-server openssh-client"
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        try:  # the privilege-separation directory a root sshd chroots into; the package's service creates it
            Path("/run/sshd").mkdir(mode=0o755)
        except OSError as exc:
            return f"sshd needs /run/sshd and it cannot be created ({exc})"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Host:
    """A simulated host: the environment its logins get (its own HOME and daemon socket)."""

    name: str
    env: dict[str, str]
    key: Path


@dataclass
class Sshd:
    root: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    hosts: dict[str, Host] = field(default_factory=dict)
    down_port: int = 0

    @property
    def ssh_config(self) -> Path:
        return self.root / "ssh_config"

    @property
    def ssh_command(self) -> str:
        return f"ssh -F {self.ssh_config}"

    def add_host(self, name: str, env: dict[str, str], *, path: str | None = None) -> Host:
        """A host whose logins get ``env``'s HOME, SPECFLOW_HOME, XDG dirs and socket, and ``path`` as PATH
        (default: this venv first, so ``specflowctl`` is found there)."""
        assert SSH_KEYGEN is not None
        key = self.root / f"key_{name}"
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        login = {k: env[k] for k in ("HOME", "SPECFLOW_HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "SPECFLOWD_SOCKET")}
        # the agent a daemon started on demand by the bridge must use, as the test's own daemon does
        login.update({k: env[k] for k in _AGENT_VARIABLES if k in env})
        login["PATH"] = path if path is not None else f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin"
        login["SPECFLOWCTL_NO_VERSION_WARNING"] = ""
        options = ",".join(f'environment="{k}={v}"' for k, v in login.items())
        with (self.root / "authorized_keys").open("a") as f:
            f.write(f"{options} {(key.with_suffix('.pub')).read_text().strip()}\n")
        host = self.hosts[name] = Host(name, env, key)
        self._write_client_config()
        return host

    def _write_client_config(self) -> None:
        blocks = []
        for host in self.hosts.values():
            blocks.append(f"Host {host.name}\n  HostName 127.0.0.1\n  Port {self.port}\n  IdentityFile {host.key}\n")
        first = next(iter(self.hosts.values()), None)
        if first is not None:  # `--host 127.0.0.1:PORT` is the first host
            blocks.append(f"Host 127.0.0.1\n  IdentityFile {first.key}\n")
        blocks.append(f"Host down\n  HostName 127.0.0.1\n  Port {self.down_port}\n")
        blocks.append(
            f"Host *\n  User {getpass.getuser()}\n  IdentitiesOnly yes\n  BatchMode yes\n"
            "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
        )
        self.ssh_config.write_text("".join(blocks))

    def start(self) -> Sshd:
        assert SSHD is not None and SSH_KEYGEN is not None
        self.port, self.down_port = free_port(), free_port()
        host_key = self.root / "host_key"
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
        (self.root / "authorized_keys").touch(mode=0o600)
        config = self.root / "sshd_config"
        config.write_text(
            f"ListenAddress 127.0.0.1\nPort {self.port}\nHostKey {host_key}\nPidFile {self.root / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\nPermitUserEnvironment yes\nPrintMotd no\nLogLevel VERBOSE\n"
            f"AllowUsers {getpass.getuser()}\n"
        )
        log = (self.root / "sshd.log").open("wb")
        self.proc = subprocess.Popen([SSHD, "-f", str(config), "-D", "-e"], stdout=log, stderr=log)
        wait_until(self._listening, timeout=20, what="sshd listening")
        self._write_client_config()
        return self

    def _listening(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"sshd exited {self.proc.returncode}: {self.log()}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def log(self) -> str:
        path = self.root / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def short_root() -> Path:
    """A short temp dir (sshd refuses nothing here, but socket paths under it must stay under 107 bytes)."""
    return Path(tempfile.mkdtemp(prefix="sfssh-", dir="/tmp"))
