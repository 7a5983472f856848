"""`recovery report`'s page in a real browser (Debian's Chromium, headless,
driven through chromedriver): it renders (the screenshot is not blank), the
numbers in its DOM are those of `recovery status --json`, it logs no console
error and makes no request but for the page itself, and it prints.

The job: a JSON-lines export over two and a half days with unreadable records
(dead letters, one carrying a token), run once with max_records so that some
shards are done and some are not, then reconciled against its JSON-lines
destination: the page shows the buckets the reconcile found short, in its own
section and on the heatmap.

Usage: report_browser_test.py RECOVERY_CLI [--keep DIR]  (--keep: leave the
page, its screenshot and its PDF in DIR, to look at)."""
import base64
import datetime
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def write_job(d):
    start = datetime.datetime(2026, 11, 14, tzinfo=datetime.timezone.utc)
    lines = []
    for i in range(3000):
        if i % 50 == 7:  # no event time: a dead letter, with a secret in it
            lines.append(json.dumps({"id": f"r{i}", "api_token": "tok-SECRET-42", "amount": i}))
        elif i % 97 == 3:  # not JSON: a dead letter
            lines.append('{"id":"r%d", cut short' % i)
        elif i % 89 == 5:  # an amount that is no number: a dead letter in the hour of its time
            ts = (start + datetime.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append(json.dumps({"id": f"r{i}", "ts": ts, "amount": "twelve"}))
        elif i % 211 == 0:  # a day before the window: outside it
            ts = (start - datetime.timedelta(hours=20, minutes=i % 60)).strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append(json.dumps({"id": f"r{i}", "ts": ts, "amount": i}))
        else:
            ts = (start + datetime.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append(json.dumps({"id": f"r{i}", "ts": ts, "amount": i}))
    with open(os.path.join(d, "in.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")
    job = {
        "name": "browser",
        "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-16T12:00:00Z"},
        "shard_duration": "6h",
        "concurrency": 1,
        "max_records": 1500,
        "error_budget": {"max_fraction": 0.5},
        "source": {"type": "jsonl_file", "path": "in.jsonl"},
        "mapper": {"type": "json", "key": {"from": "/id"}, "event_time": {"from": "/ts"},
                   "fields": [{"name": "id", "from": "/id", "required": True},
                              {"name": "amount", "from": "/amount", "type": "int64"}]},
        "sink": {"type": "jsonl_file", "path": "out.jsonl", "format": "envelope"},
        "checkpoint": {"type": "file", "dir": "state"},
    }
    path = os.path.join(d, "job.json")
    with open(path, "w") as f:
        json.dump(job, f)
    return path


def cli(binary, *args, ok=(0,)):
    r = subprocess.run([binary, *args], capture_output=True, text=True, timeout=300)
    if r.returncode not in ok:
        raise AssertionError(f"recovery {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,1600", "--no-first-run", "--disable-extensions",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(a)
    options.add_argument(f"--user-data-dir={profile}")  # removed with the test's directory
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def check_page(driver, page_url, status, reconciled, keep):
    problems = []
    main = driver.find_element(By.CSS_SELECTOR, "main#report")
    summary = status["summary"]
    for attr, key in (("data-records-delivered", "records_delivered"), ("data-dead-letters", "dead_letters"),
                      ("data-shards", "shards"), ("data-shards-done", "shards_done")):
        if int(main.get_attribute(attr)) != summary[key]:
            problems.append(f"{attr} is {main.get_attribute(attr)}, status --json says {summary[key]}")
    for total in driver.find_elements(By.CSS_SELECTOR, "[data-total]"):
        key = total.get_attribute("data-total")
        if key in summary and int(total.get_attribute("data-value")) != summary[key]:
            problems.append(f"the {key} total is {total.get_attribute('data-value')}, status says {summary[key]}")
    rows = {r.get_attribute("data-shard"): r for r in driver.find_elements(By.CSS_SELECTOR, "tr[data-shard]")}
    for shard in status["shards"]:
        row = rows.get(shard["id"])
        if row is None:
            problems.append(f"shard {shard['id']} has no row")
        elif (row.get_attribute("data-state") != shard["state"] or
              int(row.get_attribute("data-records-delivered")) != shard["records_delivered"]):
            problems.append(f"shard {shard['id']}: row says {row.get_attribute('data-state')} "
                            f"{row.get_attribute('data-records-delivered')}, status says {shard}")
    states = {s["state"] for s in status["shards"]}
    if not {"done", "pending"} <= states:
        problems.append(f"the run should have left some shards done and some not: {states}")
    cells = driver.find_elements(By.CSS_SELECTOR, ".heatmap .cell[data-hour]")
    if len(cells) != 3 * 24:
        problems.append(f"{len(cells)} heatmap cells, expected 72 (3 days x 24 hours)")
    drawn = sum(int(c.get_attribute("data-records")) for c in cells)
    if drawn != summary["records_delivered"]:
        problems.append(f"the heatmap holds {drawn} records, status says {summary['records_delivered']}")
    # Dead letters on the hours of their event times, the rest said to have
    # none; records outside the window in the table of other outcomes.
    other = driver.find_element(By.ID, "other-outcomes")
    dated = sum(int(c.get_attribute("data-dead")) for c in cells)
    undated = int(other.get_attribute("data-letters-without-hour"))
    if dated == 0 or undated == 0 or dated + undated != summary["dead_letters"]:
        problems.append(f"the heatmap holds {dated} dead letters and {undated} without an hour, "
                        f"status says {summary['dead_letters']}")
    days = other.find_elements(By.CSS_SELECTOR, "tr[data-day]")
    outside = sum(int(r.get_attribute("data-outside")) for r in days)
    if outside == 0 or outside != summary["records_out_of_window"] - summary["records_of_other_shards"]:
        problems.append(f"the table holds {outside} records outside the window, status says "
                        f"{summary['records_out_of_window']} less {summary['records_of_other_shards']}")
    if "2026-11-13" not in {r.get_attribute("data-day") for r in days}:
        problems.append("the day before the window is not in the table of other outcomes")
    if len({c.get_attribute("data-hour") for c in cells if c.get_attribute("data-dead") != "0"}) < 2:
        problems.append("the dead letters fall on fewer than two hours")
    if not driver.find_elements(By.CSS_SELECTOR, ".heatmap .cell.pending"):
        problems.append("no hour is drawn as not done")
    table_rows = driver.find_elements(By.CSS_SELECTOR, "table#hours tbody tr")
    if len(table_rows) != 3:
        problems.append(f"the hours table has {len(table_rows)} rows, expected 3")
    verdict = driver.find_element(By.ID, "verdict").text
    if "Not complete" not in verdict:
        problems.append(f"the verdict says {verdict!r}")
    letters = driver.find_element(By.ID, "dead-letters")
    if int(letters.get_attribute("data-letters")) != summary["dead_letters"]:
        problems.append(f"{letters.get_attribute('data-letters')} letters listed, status says {summary['dead_letters']}")
    # The last reconcile: its short buckets listed, and drawn on their hours.
    section = driver.find_element(By.ID, "reconcile")
    short = [b for b in reconciled["buckets"] if b["status"] in ("SHORT", "MISSING")]
    if not short:
        problems.append("the reconcile found no short bucket: the job should have left some")
    if int(section.get_attribute("data-short-buckets")) != len(short):
        problems.append(f"{section.get_attribute('data-short-buckets')} short buckets shown, reconcile "
                        f"--json says {len(short)}")
    listed = {r.get_attribute("data-short-from") for r in section.find_elements(By.CSS_SELECTOR, "tr[data-short-from]")}
    if listed != {b["start"] for b in short}:
        problems.append(f"the short buckets listed are not reconcile's: {sorted(listed)}")
    marked = {int(c.get_attribute("data-hour")) for c in driver.find_elements(By.CSS_SELECTOR, ".heatmap .cell.short")}
    expected = {int(datetime.datetime.fromisoformat(b["start"].replace("Z", "+00:00")).timestamp()) for b in short}
    if marked != expected:
        problems.append(f"the heatmap marks {len(marked)} hours short, reconcile found {len(expected)}")
    # The run log: the one run, stopped at max_records, with what it delivered.
    runs = driver.find_element(By.ID, "runs")
    rows = runs.find_elements(By.CSS_SELECTOR, "tr[data-run]")
    if runs.get_attribute("data-runs") != "1" or len(rows) != 1:
        problems.append(f"the run log shows {runs.get_attribute('data-runs')} runs, {len(rows)} rows; one ran")
    elif (rows[0].get_attribute("data-outcome") != "incomplete" or
          int(rows[0].get_attribute("data-records")) != summary["records_delivered"]):
        problems.append(f"the run is shown {rows[0].get_attribute('data-outcome')} with "
                        f"{rows[0].get_attribute('data-records')} records")
    rate = driver.find_element(By.ID, "rate")
    if int(rate.get_attribute("data-records")) != summary["records_delivered"]:
        problems.append(f"the records-per-minute chart holds {rate.get_attribute('data-records')} records")
    if not rate.find_elements(By.CSS_SELECTOR, "rect") or rate.size["height"] < 50:
        problems.append("the records-per-minute chart draws nothing")
    if "Reconcile" not in driver.find_element(By.ID, "verdict").text:
        problems.append("the verdict does not point at the reconcile's short buckets")
    if "tok-SECRET-42" in driver.page_source:
        problems.append("the page shows a secret from a dead letter")

    # The browser's own account: console errors (a refused request logs one
    # too) and every request the page made.
    for entry in driver.get_log("browser"):
        if entry["level"] in ("SEVERE", "WARNING"):
            problems.append(f"console: {entry['message']}")
    # (The browser's own start page, loaded before ours, is not the page's.)
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            params = message["params"]
            url = params["request"]["url"]
            ours = params.get("documentURL") == page_url
            if (ours and url != page_url) or url.split(":", 1)[0] in ("http", "https", "ws", "wss", "ftp"):
                problems.append(f"the page requested {url}")

    png = driver.get_screenshot_as_png()
    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.resize((160, 200))
    pixels = list(small.getdata())
    colours = len(set(pixels))
    inked = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    if colours < 8 or inked < 0.03:
        problems.append(f"the screenshot looks blank: {colours} colours, {inked:.1%} of it inked")
    pdf = base64.b64decode(driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})["data"])
    if not pdf.startswith(b"%PDF") or pdf.count(b"/Type /Page") < 1 or len(pdf) < 10000:
        problems.append(f"printing gave {len(pdf)} bytes")
    if keep:
        with open(os.path.join(keep, "report.png"), "wb") as f:
            f.write(png)
        with open(os.path.join(keep, "report.pdf"), "wb") as f:
            f.write(pdf)
    return problems


def main(argv):
    binary = os.path.abspath(argv[1])
    keep = argv[3] if len(argv) > 3 and argv[2] == "--keep" else None
    d = tempfile.mkdtemp(prefix="recovery-report-")
    driver = None
    try:
        job = write_job(d)
        cli(binary, "run", job, "--quiet", ok=(3,))  # stopped at max_records: resumable
        status = json.loads(cli(binary, "status", job, "--json"))
        # Hour buckets: the shards not yet done leave some short. Kept for the report.
        reconciled = json.loads(cli(binary, "reconcile", job, "--json", "--bucket", "1h", ok=(1,)))
        page = os.path.join(d, "report.html")
        out = cli(binary, "report", job, "-o", page)
        if "not complete" not in out:
            raise AssertionError(f"report said: {out}")
        if keep:
            shutil.copy(page, os.path.join(keep, "report.html"))
        driver = browser(os.path.join(d, "profile"))
        page_url = "file://" + page
        driver.get_log("performance")  # what the browser did before: its own start page
        driver.get(page_url)
        problems = check_page(driver, page_url, status, reconciled, keep)
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(d, ignore_errors=True)
    for p in problems:
        print("FAIL:", p)
    if not problems:
        print("report in Chromium: renders, carries status --json's and reconcile's numbers, no console error, "
              "no request, prints")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
