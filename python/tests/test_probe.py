"""The probe through the Python binding (Job.probe(), over the C ABI's
recovery_job_probe_json) gives the report `recovery probe --json` gives, for
an API that lies about its totals: the same checks, verdicts, findings,
evidence and samples. Run by ctest with RECOVERY_C_LIBRARY, RECOVERY_CLI and
RECOVERY_FIXTURE_API set."""
import json
import os
import subprocess
import tempfile
import unittest

import recovery
from servers import FixtureApi


def job(url):
    return {
        "name": "probe-py",
        "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"},
        "shard_duration": "3h",
        "source": {"type": "http", "url": url + "/v1/page",
                   "query": {"from": "{start}", "to": "{end}", "page": "{page}", "limit": "{limit}"},
                   "records": "/data", "page_size": 40, "pagination": {"type": "page"},
                   "total": {"header": "X-Total-Count"}, "sorted_by": {"from": "/created_at"}},
        "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": True},
                                              {"name": "amount", "from": "/amount/value", "type": "decimal"}],
                   "key": {"from": "/id"}, "event_time": {"from": "/created_at"}},
        "sink": {"type": "jsonl_file", "path": "out.jsonl"},
    }


def comparable(report):
    """The report without what depends on the moment: latencies, request counts."""
    checks = [dict(c) for c in report["checks"] if c["id"] != "pace"]
    samples = [{k: v for k, v in s.items() if k != "requests"} for s in report["samples"]]
    return {"verdict": report["verdict"], "exit_code": report["exit_code"], "checks": checks,
            "samples": samples, "notes": report["notes"]}


class ProbeTest(unittest.TestCase):
    def test_python_and_the_command_give_the_same_report(self):
        with FixtureApi(2400, total_understated=3) as api, tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "job.json")
            with open(path, "w") as f:
                json.dump(job(api.url), f)
            cli = subprocess.run([os.environ["RECOVERY_CLI"], "probe", path, "--json", "--samples", "2",
                                  "--pages", "3", "--quiet"], capture_output=True, text=True, timeout=120)
            self.assertEqual(cli.returncode, 1, cli.stderr)
            from_cli = json.loads(cli.stdout)
            with recovery.Job.from_file(path) as j:
                from_python = j.probe(samples=2, pages=3)
            self.assertEqual(comparable(from_python), comparable(from_cli))
            verdicts = {c["id"]: c["verdict"] for c in from_python["checks"]}
            self.assertEqual(verdicts["total"], "broken")
            self.assertEqual(verdicts["window_filter"], "ok")
            self.assertFalse(os.path.exists(os.path.join(d, "out.jsonl")))
            with recovery.Job.from_file(path) as j, self.assertRaises(recovery.RecoveryError) as cm:
                j.probe(pages=5000)
            self.assertIn("pages: expected 1 to 1000, got 5000", cm.exception.message)


if __name__ == "__main__":
    unittest.main()
