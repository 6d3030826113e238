#!/usr/bin/env python3
"""Doxygen INPUT_FILTER for uio's headers: their plain // comments are the
reference documentation, so this turns the ones that document a declaration into
Doxygen comments on the fly (the headers stay as they are):

- a run of // lines right before a declaration at namespace or class scope
  becomes /// (a blank line, a preprocessor line or a static_assert after it
  leaves it a plain comment: a section note, not a declaration's);
- a comment before one declaration of several fields documents each of them;
- a trailing // after a member, an enumerator or a one-line function at namespace
  or class scope becomes ///<;
- the comment at the top of a file (after the SPDX line) becomes its @file text.

- the members every operation builder has by uio::Operation's contract (opcode,
  sqe_size, cqe_size, prep), where not documented in place, get that contract's
  one line.

Comments inside function bodies are never touched. Line numbers are kept, so
Doxygen's warnings point at the header's own lines."""
import re
import sys

SCOPE = re.compile(r"\b(namespace|class|struct|union|enum)\b")


def code_and_comment(line):
    """Splits a line into code and its // comment (strings and chars skipped)."""
    i, quote = 0, None
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif line.startswith("//", i):
            return line[:i], line[i:]
        i += 1
    return line, ""


def params(text):
    """The headers name parameters as @name (kernel-doc style): Doxygen's \\p."""
    return re.sub(r"@(\w+)", r"\\p \1", text)


# several fields in one declaration, e.g. "std::uint64_t a, b, c;"
MULTI = re.compile(r"^(\s*)([\w:]+)\s+(\w+(?:\s*,\s*\w+)+);\s*$")

# the members of uio::Operation / uio::Preparable, documented by the concept
CONTRACT = [
    (re.compile(r"^\s*static constexpr std::uint8_t opcode = [^;]*;\s*$"),
     "the IORING_OP_* opcode this builder prepares (uio::Operation)"),
    (re.compile(r"^\s*using sqe_size = \w+;\s*$"),
     "the smallest submission entry this operation fits in (uio::Preparable)"),
    (re.compile(r"^\s*using cqe_size = \w+;\s*$"),
     "the smallest completion entry its result fits in (uio::Preparable)"),
    (re.compile(r"^\s*void prep\(io_uring_sqe\* sqe\) const noexcept\s*(\{.*)?$"),
     "fills \\p sqe with this operation (uio::Preparable): the caller's SQE, of the ring's size"),
]


def main(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = list(lines)
    stack = []        # True: a scope (namespace/class/...), False: a body
    pending = ""      # code since the last ; { or }
    scope_at = []     # per line: whether the line starts at namespace/class scope
    for line in lines:
        scope_at.append(all(stack))
        code, _ = code_and_comment(line)
        if code.lstrip().startswith("#"):
            continue
        for c in code:
            if c == "{":
                stack.append(bool(SCOPE.search(pending)) and all(stack))
                pending = ""
            elif c == "}":
                if stack:
                    stack.pop()
                pending = ""
            elif c == ";":
                pending = ""
            else:
                pending += c
        pending += " "

    def is_comment(s):
        t = s.strip()
        return t.startswith("//") and not t.startswith("///")

    # the file's own comment: the lines after SPDX before the first code line
    # (@file takes the SPDX line's place, so line numbers stay)
    i = 0
    if len(lines) > 1 and "SPDX-License-Identifier" in lines[0] and is_comment(lines[1]):
        out[0] = "/// @file"
        i = 1
        while i < len(lines) and is_comment(lines[i]):
            out[i] = "///" + params(lines[i].strip()[2:])
            i += 1
    n = len(lines)
    while i < n:
        if is_comment(lines[i]) and scope_at[i]:
            j = i
            while j < n and is_comment(lines[j]):
                j += 1
            nxt = lines[j].strip() if j < n else ""
            multi = MULTI.match(lines[j]) if j < n else None
            if multi:  # one comment for several fields: each gets it
                text = " ".join(params(lines[k].strip()[2:].strip()) for k in range(i, j))
                ind, typ, names = multi.groups()
                out[j] = ind + " ".join(f"{typ} {name.strip()}; /**< {text} */" for name in names.split(","))
            elif nxt and not nxt.startswith(("#", "static_assert", "}", "public:", "private:", "protected:")):
                for k in range(i, j):
                    s = lines[k]
                    at = s.index("//")
                    out[k] = s[:at] + "///" + params(s[at + 2:])
            i = j
            continue
        code, comment = code_and_comment(lines[i])
        documented = i > 0 and out[i - 1].strip().startswith("///")
        for pattern, text in CONTRACT:
            if not comment and not documented and scope_at[i] and pattern.match(code):
                if code.rstrip().endswith(";"):
                    out[i] = code + "  ///< " + text
                else:  # prep: a comment line would shift the lines; a /** */ before it fits
                    out[i] = code.replace("void prep", "/** " + text + " */ void prep", 1)
        if (comment and not comment.startswith("///") and code.strip() and scope_at[i]
                and not code.lstrip().startswith("#")
                and not code.lstrip().startswith("}")
                and re.search(r"[;,}]\s*$|^\s*\w+\s*(=\s*[^;]*)?,?\s*$", code)):
            out[i] = code + "///<" + params(comment[2:])
        i += 1
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
