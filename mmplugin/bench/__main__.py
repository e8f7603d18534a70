"""``python -m mmplugin.bench [--quick] [--out DIR] [--stack NAME ...]``."""

from __future__ import annotations

import argparse

from mmplugin.bench.runner import run_bench


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m mmplugin.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (under 2 minutes on 2 cores)")
    parser.add_argument("--out", default="bench-results", help="folder for bench.json, bench.md, bench.png")
    parser.add_argument("--stack", action="append", help="run only this stack (repeatable)")
    args = parser.parse_args()
    output = run_bench(quick=args.quick, out_dir=args.out, stacks=args.stack)
    print(output.markdown_path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
