#!/usr/bin/env python3
"""Estimates how many object files `make bzImage` compiles for a configuration.

    kernel-objects.py SOURCE_TREE CONFIG

Prints one number: the objects that kbuild's Makefiles select for CONFIG, found by
walking the tree's Kbuild/Makefile files from the top as kbuild descends them:
`obj-y`/`obj-$(CONFIG_X)` and `lib-*` objects and directories, the parts of composite
objects (`foo-y`, `foo-objs`), and the x86 boot, real-mode and vDSO objects. It reads
conditionals on one config symbol (ifdef, ifeq ($(CONFIG_X),y), ...) and takes others
as true. It is an estimate, for a progress display: host tools and objects made by
rules of their own are not counted, and the count of scripts/kernel-build.sh excludes
them too (it counts *.o outside scripts/ and tools/).
"""
import os
import re
import sys

ASSIGN = re.compile(r"^([A-Za-z0-9_.+-]+?)-(y|objs|\$\(CONFIG_[A-Za-z0-9_]+\))\s*([+:?]?=)\s*(.*)$")
# directories whose objects kbuild builds through rules of their own, not obj-y
SPECIAL = {
    "arch/x86/boot": ("setup",),
    "arch/x86/boot/compressed": ("vmlinux-objs",),
    "arch/x86/realmode/rm": ("realmode",),
    "arch/x86/entry/vdso/vdso64": ("vobjs",),
    "arch/x86/entry/vdso/vdso32": ("vobjs32",),
}


def read_config(path):
    config = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$", line.strip())
            if m:
                config[m.group(1)] = m.group(2).strip('"')
    return config


class Estimate:
    def __init__(self, src, config):
        self.src = src
        self.config = config
        self.vars = {"SRCARCH": "x86", "ARCH": "x86", "SUBARCH": "x86",
                     "BITS": "64" if config.get("CONFIG_64BIT") == "y" else "32"}
        self.seen = set()
        self.objects = 0

    def expand(self, text, directory):
        def var(m):
            name = m.group(1)
            if name.startswith("CONFIG_"):
                return self.config.get(name, "")
            if name in ("obj", "src"):
                return directory
            return self.vars.get(name, "")
        # $(subst m,y,$(CONFIG_X)) and similar: expand the inner variable first
        for _ in range(3):
            text = re.sub(r"\$\(([A-Za-z0-9_]+)\)", var, text)
        text = re.sub(r"\$\(subst m,y,(\w*)\)", lambda m: m.group(1).replace("m", "y"), text)
        return text

    def condition(self, line):
        """True/False for a conditional on one symbol, None when not understood."""
        m = re.match(r"^(ifdef|ifndef)\s+(CONFIG_\w+)\s*$", line)
        if m:
            set_ = self.config.get(m.group(2), "n") not in ("", "n")
            return set_ if m.group(1) == "ifdef" else not set_
        m = re.match(r"^(ifeq|ifneq)\s*\(\s*\$\((CONFIG_\w+)\)\s*,\s*(\w*)\s*\)\s*$", line)
        if m:
            equal = self.config.get(m.group(2), "") == m.group(3)
            return equal if m.group(1) == "ifeq" else not equal
        return None

    def lines(self, path):
        """The file's logical lines, with the branches of understood conditionals
        that are false left out."""
        with open(path, errors="replace") as f:
            text = f.read().replace("\\\n", " ")
        stack = []  # per open conditional: is its current branch taken
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if re.match(r"^if(n?eq|n?def)\b", line):
                c = self.condition(line)
                stack.append(True if c is None else c)
                continue
            if line.startswith("else") and stack:
                rest = line[4:].strip()
                if rest:  # else ifeq ...
                    c = self.condition(rest)
                    stack[-1] = (not stack[-1]) and (True if c is None else c)
                else:
                    stack[-1] = not stack[-1]
                continue
            if line == "endif" and stack:
                stack.pop()
                continue
            if all(stack) and line:
                yield line

    def walk(self, directory):
        directory = os.path.normpath(directory)
        if directory in self.seen:
            return
        self.seen.add(directory)
        base = os.path.join(self.src, directory)
        for name in ("Kbuild", "Makefile"):
            if os.path.isfile(os.path.join(base, name)):
                path = os.path.join(base, name)
                break
        else:
            return
        selected = {}   # object or directory -> True
        parts = {}      # composite name -> set of parts
        special = set()
        for line in self.lines(path):
            m = ASSIGN.match(line)
            if not m:
                continue
            name, cond, _, value = m.groups()
            if cond.startswith("$("):
                cond = self.expand(cond, directory)
                if cond != "y":
                    continue
            words = self.expand(value, directory).split()
            if name in ("obj", "lib"):
                for w in words:
                    selected[w] = True
            elif name in SPECIAL.get(directory, ()):
                special.update(w for w in words if w.endswith(".o"))
            else:
                parts.setdefault(name, set()).update(w for w in words if w.endswith(".o"))
        for w in selected:
            if w.endswith("/"):
                self.walk(os.path.join(directory, w))
            elif w.endswith(".o"):
                self.objects += 1
                self.objects += len(parts.get(w[:-2], ()))
        self.objects += len(special)

    def run(self):
        # as the top Makefile: the top-level Kbuild's directories, then libs-y and
        # the architecture's drivers-y
        self.walk(".")
        self.walk("lib")
        self.walk("arch/x86/lib")
        arch_makefile = os.path.join(self.src, "arch/x86/Makefile")
        for line in self.lines(arch_makefile):
            m = re.match(r"^drivers-(\S+)\s*\+?=\s*(.*)$", line)
            if m and self.expand(m.group(1), "") == "y":
                for w in m.group(2).split():
                    self.walk(w)
        for d in SPECIAL:
            parent = os.path.dirname(d)
            if parent in self.seen or d.startswith("arch/x86/boot"):
                self.walk(d)
        # vmlinux.o, the version timestamp and the linker's temporary objects
        return self.objects + 3


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(Estimate(sys.argv[1], read_config(sys.argv[2])).run())


if __name__ == "__main__":
    main()
