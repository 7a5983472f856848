#!/usr/bin/env python3
"""No #include runs upwards: the ranks come from docs/architecture.md's table
("### Ranks"), the includes from every source file. And no file of src/ or
capi/ grows past MAX_LINES: a file that long holds more than one part. (Each
function's length is clang-tidy's, in scripts/lint.sh.) And only the registry
of built-ins (src/spec/registry.cc) compares a section's type with a name.
Usage: layers_test.py ROOT"""
import os
import re
import sys

MAX_LINES = 600


def ranks(root):
    doc = open(os.path.join(root, "docs", "architecture.md"), encoding="utf-8").read()
    table = doc.split("### Ranks", 1)[1]
    out = {}
    for line in table.splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|[^|]*\|(.*)\|\s*$", line)
        if m:
            for path in re.findall(r"`([^`]+)`", m.group(2)):
                out[path] = int(m.group(1))
    return out


def rank_of(path, table):
    best = max((p for p in table if path == p or (p.endswith("/") and path.startswith(p))), key=len, default=None)
    return None if best is None else table[best]


def target(root, include):
    for candidate in ("include/" + include, "src/" + include, include):
        if os.path.isfile(os.path.join(root, candidate)):
            return candidate
    return None  # a system or third-party header


def main(root):
    table = ranks(root)
    if len(table) < 8:
        print(f"could not read the rank table of docs/architecture.md (found {table})")
        return 1
    problems = []
    files = 0
    for top in ("src", "capi", "include/recovery"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if not name.endswith((".h", ".cc", ".c", ".inc")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                files += 1
                mine = rank_of(path, table)
                if mine is None:
                    problems.append(f"{path}: no rank in docs/architecture.md")
                    continue
                lines = open(os.path.join(root, path), encoding="utf-8").read().splitlines()
                if len(lines) > MAX_LINES and not path.startswith("include/"):
                    problems.append(f"{path}: {len(lines)} lines, over {MAX_LINES}: split it along a seam")
                for n, line in enumerate(lines, 1):
                    if re.search(r'\btype\s*[!=]=\s*"', line) and path != "src/spec/registry.cc":
                        problems.append(f"{path}:{n} tests a section's type by name: ask the registry "
                                        "(src/spec/registry.h)")
                    m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                    tgt = m and target(root, m.group(1))
                    if not tgt:
                        continue
                    theirs = rank_of(tgt, table)
                    if theirs is None:
                        problems.append(f"{tgt}: no rank in docs/architecture.md")
                    elif theirs > mine:
                        problems.append(f"{path}:{n} (rank {mine}) includes {tgt} (rank {theirs})")
    for p in sorted(set(problems)):
        print(p)
    print(f"{files} files read, {len(set(problems))} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
