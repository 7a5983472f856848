"""The package as users get it: `cmake --install` into a prefix, and a wheel
built offline and installed with pip into a virtual environment; each imported
by Debian's /usr/bin/python3 and by the first python3 on PATH (when that is
another one), finding the library on its own, and running a small recovery.
Needs RECOVERY_BUILD_DIR (a configured and built tree; ctest sets it)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("RECOVERY_BUILD_DIR")

# A small recovery: a JSON-lines export into a JSON-lines file. Prints where
# the library came from.
RECOVER = textwrap.dedent("""
    import json, os, sys
    import recovery
    d = sys.argv[1]
    with open(os.path.join(d, "export.jsonl"), "w") as f:
        for i in range(300):
            f.write(json.dumps({"id": f"r{i}", "ts": f"2025-11-14T{i % 24:02d}:00:00Z"}) + "\\n")
    job = recovery.Job({
        "name": "installed", "window": {"start": "2025-11-14T00:00:00Z", "end": "2025-11-15T00:00:00Z"},
        "source": {"type": "jsonl_file", "path": "export.jsonl"},
        "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id"}], "key": {"from": "/id"},
                   "event_time": {"from": "/ts"}},
        "sink": {"type": "jsonl_file", "path": "out.jsonl"},
        "checkpoint": {"type": "file", "dir": "state"}}, base_dir=d)
    with job:
        job.run()
    with open(os.path.join(d, "out.jsonl")) as f:
        assert sum(1 for _ in f) == 300
    print(recovery.loaded_from())
""")


def pythons():
    found = ["/usr/bin/python3"]
    other = shutil.which("python3")
    if other and os.path.realpath(other) != os.path.realpath("/usr/bin/python3"):
        found.append(other)
    return found


@unittest.skipUnless(BUILD, "RECOVERY_BUILD_DIR is not set")
class InstallTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.env = {k: v for k, v in os.environ.items() if k not in ("RECOVERY_C_LIBRARY", "PYTHONPATH")}
        with open(os.path.join(self.tmp.name, "recover.py"), "w") as f:
            f.write(RECOVER)

    def recover(self, python, env, label):
        work = tempfile.mkdtemp(dir=self.tmp.name)
        run = subprocess.run([python, os.path.join(self.tmp.name, "recover.py"), work], env=env, cwd=work,
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, f"{label} with {python}: {run.stderr}")
        return run.stdout.strip()

    def test_cmake_install_gives_a_working_import_to_both_pythons(self):
        prefix = os.path.join(self.tmp.name, "prefix")
        subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix], check=True, capture_output=True)
        env = dict(self.env, PYTHONPATH=os.path.join(prefix, "lib", "python3", "dist-packages"))
        for python in pythons():
            library = self.recover(python, env, "cmake --install")
            self.assertTrue(library.startswith(prefix), library)  # the installed library, not the build's

    def test_a_wheel_installs_with_pip_into_a_virtual_environment(self):
        dist = os.path.join(self.tmp.name, "dist")
        bundled = subprocess.run([os.path.join(ROOT, "scripts", "build-wheel.sh"), "--bundle", BUILD, dist],
                                 check=True, capture_output=True, text=True).stdout.strip()
        pure = subprocess.run([os.path.join(ROOT, "scripts", "build-wheel.sh"), dist],
                              check=True, capture_output=True, text=True).stdout.strip()
        # Named with the CMake project's version, the one the library reports.
        with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
            version = re.search(r"^project\(recovery VERSION ([0-9.]+)", f.read(), re.M).group(1)
        for wheel in (bundled, pure):
            self.assertTrue(os.path.basename(wheel).startswith(f"recovery-{version}-"), wheel)
        for python, wheel in zip(pythons(), [bundled, pure]):
            venv = os.path.join(self.tmp.name, f"venv-{os.path.basename(os.path.dirname(python))}")
            subprocess.run([python, "-m", "venv", venv], check=True, capture_output=True)
            subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--quiet", "--no-index", wheel],
                           check=True, capture_output=True)
            env = dict(self.env)
            if wheel == pure:  # it locates the library: here, the build's
                env["RECOVERY_C_LIBRARY"] = os.path.join(BUILD, "librecovery_c.so")
            library = self.recover(os.path.join(venv, "bin", "python"), env, os.path.basename(wheel))
            if wheel == bundled:
                self.assertTrue(library.startswith(venv), library)  # the copy inside the wheel


if __name__ == "__main__":
    unittest.main()
