#!/usr/bin/env python3
"""Where the bytes of the static x86_64 binary go: sections and machine code per crate.

Builds the release profile for x86_64-unknown-linux-musl without stripping (its own target
directory, target/size-breakdown, so the stripped build is untouched), then reads `size -A`
and `nm --size-sort -S -C`. The code is attributed by symbol name: std's backtrace symbolizer
(gimli, addr2line, miniz_oxide, rustc_demangle), mcpd's built-in fixtures, the rest of mcpd,
and each other crate by its path prefix.

usage: bench/size.py [extra cargo build arguments]
"""
import collections
import os
import re
import subprocess
import sys

TARGET = "x86_64-unknown-linux-musl"
OUT = "target/size-breakdown"


def build(extra):
    env = dict(os.environ, CARGO_PROFILE_RELEASE_STRIP="false")
    subprocess.run(["cargo", "build", "--release", "--bin", "mcpd", "--target", TARGET,
                    "--target-dir", OUT, *extra], check=True, env=env)
    return os.path.join(OUT, TARGET, "release", "mcpd")


def group(name):
    if re.search(r"gimli|addr2line|miniz_oxide|rustc_demangle|backtrace_rs|symbolize", name):
        return "std backtrace symbolizer"
    if re.search(r"libunwind|_Unwind_|unw_|unwind_phase|rust_eh_personality", name):
        return "unwinder (libunwind, personality)"
    if "mcpd::builtin" in name:
        return "mcpd built-in handler"
    if "mcpd::" in name:
        return "mcpd (other)"
    found = re.search(r"([A-Za-z_][A-Za-z0-9_]*)::", name)
    return found.group(1) if found else "C (musl libc) and unnamed"


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    binary = build(sys.argv[1:])
    sections = subprocess.run(["size", "-A", binary], check=True, capture_output=True,
                              text=True).stdout
    print(f"== sections of {binary} (unstripped; debug sections go when stripped)")
    for line in sections.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and not parts[0].startswith(".debug"):
            if parts[1].isdigit() and int(parts[1]) >= 1024:
                print(f"{parts[0]:24} {int(parts[1]):>10,}")
    symbols = subprocess.run(["nm", "--size-sort", "-S", "-C", binary], check=True,
                             capture_output=True, text=True).stdout
    totals = collections.Counter()
    for line in symbols.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2] in "tTwW":
            totals[group(parts[3])] += int(parts[1], 16)
    print("\n== machine code (.text symbols) by origin")
    for name, size in totals.most_common(15):
        print(f"{name:40} {size:>10,}")
    print(f"{'total':40} {sum(totals.values()):>10,}")


if __name__ == "__main__":
    main()
