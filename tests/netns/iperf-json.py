#!/usr/bin/env python3
"""iperf-json.py - prints the numbers the netns tests need from iperf3 -J.

  iperf-json.py summary FILE    "SENT_BYTES RECEIVED_BYTES RECEIVED_BPS"
  iperf-json.py intervals FILE  one "START END BPS" line per interval

Prints "0 0 0" (summary) or nothing (intervals) when FILE holds no usable
report (iperf3 killed before it wrote one); exits 0 either way.
"""
import json
import sys


def load(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("summary", "intervals"):
        sys.exit(__doc__)
    report = load(sys.argv[2])
    if sys.argv[1] == "summary":
        end = report.get("end", {})
        sent = end.get("sum_sent", {}).get("bytes", 0)
        received = end.get("sum_received", {})
        print(int(sent), int(received.get("bytes", 0)),
              int(received.get("bits_per_second", 0)))
        return
    for interval in report.get("intervals", []):
        s = interval.get("sum", {})
        if s.get("omitted"):
            continue
        print(f'{s.get("start", 0):.2f} {s.get("end", 0):.2f} '
              f'{int(s.get("bits_per_second", 0))}')


if __name__ == "__main__":
    main()
