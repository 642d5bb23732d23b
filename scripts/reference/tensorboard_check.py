#!/usr/bin/env python3
"""mlxft's TensorBoard event files judged by TensorBoard's own code (the `tensorboard` package).

Run by hand in the reference venv (CI checks the golden from tests/report/event_file_test.cpp):
    .venv-ref/bin/python scripts/reference/tensorboard_check.py --golden tests/golden/tensorboard
    .venv-ref/bin/python scripts/reference/tensorboard_check.py --run RUN_DIR [RUN_DIR ...]

--golden writes events.json: a few events (file_version, scalars, a large step) and the bytes of
each as a TFRecord from TensorBoard's own RecordWriter and event_pb2 serialisation; the C++ encoder
must give the same bytes.

--run reads RUN_DIR/tensorboard with TensorBoard's EventAccumulator (what TensorBoard's UI loads) and
compares every tag and value with RUN_DIR/metrics.jsonl, read as mlxft's read_metrics() reads it (a
resumed run's later lines replace the earlier ones of the same type and step or later): the same
tags, the same steps in order, the values equal as float32 (TensorBoard's simple_value). It also
reads every record of every file with TensorBoard's EventFileLoader (which checks the CRCs) and
fails when a tag has two values for one step anywhere. Exit status 1 on any difference.
"""
import argparse
import io
import json
import math
import os
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator, event_file_loader
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def golden(out_dir):
    specs = [
        {"wall_time": 1700000000.25, "step": 0, "file_version": "brain.Event:2", "scalars": []},
        {"wall_time": 1700000001.5, "step": 7,
         "scalars": [{"tag": "train/loss", "value": 2.25}, {"tag": "train/learning_rate", "value": 0.0002}]},
        {"wall_time": 1700000002.125, "step": 1234567890123,
         "scalars": [{"tag": "eval/tool_name_accuracy", "value": 0.8125}]},
        {"wall_time": 0.5, "step": 300, "scalars": [{"tag": "eval/loss", "value": -1.5e-7}]},
    ]
    for spec in specs:
        e = event_pb2.Event(wall_time=spec["wall_time"], step=spec["step"])
        if "file_version" in spec:
            e.file_version = spec["file_version"]
        if spec["scalars"]:
            e.summary.CopyFrom(summary_pb2.Summary(value=[
                summary_pb2.Summary.Value(tag=s["tag"], simple_value=s["value"]) for s in spec["scalars"]]))
        buf = io.BytesIO()
        RecordWriter(buf).write(e.SerializeToString())
        spec["record_hex"] = buf.getvalue().hex()
        for s in spec["scalars"]:
            s["value"] = f32(s["value"])
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "events.json"), "w") as f:
        json.dump({"source": "tensorboard RecordWriter + event_pb2 (scripts/reference/tensorboard_check.py)",
                   "events": specs}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(specs)} events to {out_dir}/events.json")


def expected_scalars(metrics_path):
    """tag -> [(step, value)] from metrics.jsonl, as read_metrics() keeps the lines."""
    kept = {"train": [], "eval": [], "skip": []}
    with open(metrics_path) as f:
        for text in f:
            try:
                j = json.loads(text)
            except ValueError:
                continue
            t = j.get("type") if isinstance(j, dict) else None
            if t not in kept or "step" not in j:
                continue
            lines = kept[t]
            while lines and lines[-1]["step"] >= j["step"]:
                lines.pop()
            lines.append(j)
    tags = {}

    def add(tag, step, value):
        tags.setdefault(tag, []).append((step, math.nan if value is None else float(value)))

    for j in kept["train"]:
        for k, v in j.items():
            if k in ("type", "step"):
                continue
            add("train/epoch" if k == "epoch" else k, j["step"], v)
    for j in kept["eval"]:
        for k, v in j.items():
            if k in ("type", "step"):
                continue
            tag = {"epoch": "eval/epoch", "best": "eval/best"}.get(k, k)
            add(tag, j["step"], float(v) if isinstance(v, bool) else v)
    for j in kept["skip"]:
        add("train/skipped", j["step"], 1.0)
    for v in tags.values():
        v.sort(key=lambda sv: sv[0])
    return tags


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_run(run):
    tb = os.path.join(run, "tensorboard")
    problems = []
    # Raw records: CRCs checked by TensorBoard's loader, one value per tag and step over all files.
    seen = {}
    files = sorted(f for f in os.listdir(tb) if "tfevents" in f)
    for name in files:
        for e in event_file_loader.EventFileLoader(os.path.join(tb, name)).Load():
            for v in e.summary.value:
                key = (v.tag, e.step)
                if key in seen:
                    problems.append(f"{v.tag} step {e.step} appears twice ({seen[key]} and {name})")
                seen[key] = name
    acc = event_accumulator.EventAccumulator(tb, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    got = {tag: [(s.step, s.value) for s in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    want = expected_scalars(os.path.join(run, "metrics.jsonl"))
    if set(got) != set(want):
        problems.append(f"tags differ: only in events {sorted(set(got) - set(want))}, "
                        f"only in metrics.jsonl {sorted(set(want) - set(got))}")
    values = 0
    for tag in sorted(set(got) & set(want)):
        g, w = got[tag], want[tag]
        if [s for s, _ in g] != [s for s, _ in w]:
            problems.append(f"{tag}: steps {[s for s, _ in g]} in events, {[s for s, _ in w]} in metrics.jsonl")
            continue
        for (step, gv), (_, wv) in zip(g, w):
            values += 1
            if not same(gv, f32(wv)):
                problems.append(f"{tag} step {step}: {gv} in events, {wv} in metrics.jsonl")
    print(f"{run}: {len(files)} event file(s), {len(got)} tags, {values} values compared, "
          f"{len(problems)} problem(s)")
    for p in problems[:20]:
        print("  " + p)
    return not problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--golden", help="write events.json into this directory")
    ap.add_argument("--run", nargs="*", default=[], help="run directories to check")
    a = ap.parse_args()
    if a.golden:
        golden(a.golden)
    ok = all([check_run(r) for r in a.run])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
