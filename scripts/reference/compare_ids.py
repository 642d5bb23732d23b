"""Compares the ids of two JSONL files of {"index", "ids"} lines (reference
first, then mlxft's render output) record by record, printing the first
difference of each mismatching record with the pieces around it. Exit 0 when
every record of the reference is present and equal, 1 otherwise.
Optionally checks the worked example of docs/mistral-v3-format.md: record 0
must have 149 ids with the documented start and end.

usage: compare_ids.py REFERENCE.jsonl MLXFT.jsonl [--worked-example]
"""
import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return {r["index"]: r["ids"] for r in map(json.loads, filter(str.strip, f))}


def main() -> int:
    ref, got = load(sys.argv[1]), load(sys.argv[2])
    failures = 0
    for index, want in sorted(ref.items()):
        have = got.get(index)
        if have is None:
            print(f"record {index}: missing from mlxft output")
            failures += 1
            continue
        if have != want:
            at = next((i for i, (a, b) in enumerate(zip(want, have)) if a != b), min(len(want), len(have)))
            print(f"record {index}: first difference at token {at} (reference {len(want)} ids, mlxft {len(have)})")
            print(f"  reference: ...{want[max(0, at - 5):at + 6]}")
            print(f"  mlxft:     ...{have[max(0, at - 5):at + 6]}")
            failures += 1
    if "--worked-example" in sys.argv[3:]:
        ids = got.get(0, [])
        if len(ids) != 149 or ids[:6] != [1, 6, 1501, 7567, 1891, 2032] or ids[-11:] != [
                9, 1429, 1117, 29473, 29508, 29551, 11950, 1065, 6233, 29491, 2]:
            print(f"worked example: expected the documented 149 ids, got {len(ids)}: {ids[:6]} ... {ids[-11:]}")
            failures += 1
    print(f"{len(ref) - failures} of {len(ref)} records identical to mistral-common")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
