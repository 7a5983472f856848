"""Throwaway servers for the Python tests, each on a free 127.0.0.1 port,
killed with the test process (PR_SET_PDEATHSIG) and stopped on exit even when
a test fails: a PostgreSQL cluster (initdb + postgres, as the "postgres" user
when running as root, since PostgreSQL refuses root), redis-server, and the
simulated vendor API (recovery_fixture_api). Standard library only."""
import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=30.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class PostgresCluster:
    """`dsn`; `sql(statement)` runs it with psql and returns stdout."""

    def __enter__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        if not bins:
            raise RuntimeError("no /usr/lib/postgresql/*/bin/postgres: apt-get install postgresql")
        self.bin = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix="recovery-pg-")
        os.chmod(self.dir, 0o711)
        self.data = os.path.join(self.dir, "data")
        self.log = open(os.path.join(self.dir, "postgres.log"), "w")
        user = None
        if os.geteuid() == 0:
            user = "postgres"
            os.mkdir(self.data, 0o700)
            pw = pwd.getpwnam(user)
            os.chown(self.data, pw.pw_uid, pw.pw_gid)
        subprocess.run([f"{self.bin}/initdb", "-D", self.data, "-U", "recovery", "--auth=trust", "-E", "UTF8",
                        "--no-sync", "--locale=C"], check=True, stdout=self.log, stderr=self.log, user=user,
                       preexec_fn=_die_with_parent)
        self.port = free_port()
        self.proc = subprocess.Popen(
            [f"{self.bin}/postgres", "-D", self.data, "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
             "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=self.log, stderr=self.log, user=user, preexec_fn=_die_with_parent)
        try:
            wait_for_port(self.port, proc=self.proc)
            for _ in range(100):  # the port opens a moment before connections are accepted
                if subprocess.run(["psql", self.dsn, "-c", "SELECT 1"], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
        except BaseException:
            self.__exit__()
            raise
        return self

    @property
    def dsn(self):
        return f"host=127.0.0.1 port={self.port} dbname=postgres user=recovery"

    def sql(self, statement):
        out = subprocess.run(["psql", self.dsn, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", statement],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"psql: {out.stderr}")
        return out.stdout.strip()

    def __exit__(self, *exc):
        if getattr(self, "proc", None) and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            self.proc.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    def __enter__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        wait_for_port(self.port, proc=self.proc)
        return self

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


class FixtureApi:
    """The simulated transactions API in its own process; `url` is its base."""

    def __init__(self, records, latency_ms=0, start=None, end=None, threads=None, total_understated=0,
                 append_per_second=0, append_seconds=0):
        self.args = ["--records", str(records), "--latency-ms", str(latency_ms)]
        if append_per_second:  # a live feed: records keep arriving, for follow mode
            self.args += ["--append-per-second", str(append_per_second), "--append-seconds", str(append_seconds)]
        if total_understated:
            self.args += ["--total-understated", str(total_understated)]
        if threads:
            self.args += ["--threads", str(threads)]
        if start:
            self.args += ["--start", start]
        if end:
            self.args += ["--end", end]

    def __enter__(self):
        binary = os.environ["RECOVERY_FIXTURE_API"]
        self.proc = subprocess.Popen([binary] + self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, preexec_fn=_die_with_parent)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise RuntimeError(f"recovery_fixture_api printed {self.url!r}")
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()  # it stops when its stdin closes
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
