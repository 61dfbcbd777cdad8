"""Run inside a network namespace (``ip netns exec NS python -m cnibench.metrics ...``) where Prometheus is
reachable: ``wait`` for the targets, or ``fetch`` one measurement window's raw query answers. Prints one JSON line;
exit code 1 with ``{"error": ...}`` when Prometheus fails."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cnibench.metrics.prometheus import PrometheusError, fetch_window, wait_targets_up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnibench.metrics")
    sub = parser.add_subparsers(dest="action", required=True)
    wait = sub.add_parser("wait")
    wait.add_argument("--url", required=True)
    wait.add_argument("--targets", type=int, required=True)
    wait.add_argument("--timeout", type=float, default=30.0)
    fetch = sub.add_parser("fetch")
    fetch.add_argument("--url", required=True)
    fetch.add_argument("--start", type=float, required=True)
    fetch.add_argument("--end", type=float, required=True)
    fetch.add_argument("--scrape-interval", type=float, required=True)
    fetch.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.action == "wait":
            print(json.dumps({"seconds": wait_targets_up(args.url, args.targets, args.timeout)}))
        else:
            saved = fetch_window(
                args.url, start=args.start, end=args.end, scrape_interval_s=args.scrape_interval, out_dir=args.out
            )
            print(json.dumps({"saved": {name: str(path) for name, path in saved.items()}}))
    except PrometheusError as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
