#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that every C++ snippet of the README is a real file's body.

A snippet is announced by `<!-- snippet: examples/NAME.cpp -->` on the line
before its ```cpp fence; its text must equal the part of that file between
its two `// [snippet]` lines (dedented). The files themselves are built with
-Werror and run by CTest (examples/CMakeLists.txt). A ```cpp block without
the announcement fails the check too.

usage: readme_snippets.py REPO_ROOT
"""
import re
import sys
import textwrap
from pathlib import Path


def main() -> int:
    root = Path(sys.argv[1])
    readme = (root / "README.md").read_text()
    lines = readme.splitlines()
    failures, checked = [], 0
    for i, line in enumerate(lines):
        if line.strip() != "```cpp":
            continue
        m = re.match(r"<!-- snippet: (\S+) -->", lines[i - 1].strip()) if i else None
        if not m:
            failures.append(f"README.md:{i + 1}: a C++ block without a <!-- snippet: FILE --> line")
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        shown = "\n".join(lines[i + 1:end])
        source = (root / m.group(1)).read_text().split("// [snippet]\n")
        if len(source) != 3:
            failures.append(f"{m.group(1)}: expected one region between two '// [snippet]' lines")
            continue
        body = textwrap.dedent(source[1]).rstrip("\n")
        if shown != body:
            failures.append(f"README.md:{i + 1}: the snippet differs from {m.group(1)}")
        checked += 1
    for f in failures:
        print(f, file=sys.stderr)
    print(f"{checked} README snippets match their files")
    return 1 if failures or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
