"""The benchmark of make device-check: mlxft beside PEFT + torch bf16, LoRA training on one GPU.

  python bench/peers/device_bench.py --train-bench build-cuda13/bench/train_bench --out DIR
                                     [--peer-python python3] [--cpu] [--steps 3] [--timeout 150]

Rows (each its own process, one after the other, on the same device), LoRA r16 alpha 32 on q_proj and
v_proj, AdamW, random weights and tokens, batch 2 x 2048 (the issue's shape; 2048 is a multiple of 128,
so cuDNN's fused attention backward applies), one warm-up step then --steps timed steps:
  small             mlxft bf16 | PEFT + torch bf16 (shape.SMALL, 126M)
  mistral-7b-shape  mlxft bf16 | PEFT + torch bf16 | mlxft 4-bit base (group 64) with per-layer
                    gradient checkpointing (the memory row: the issue wants <= 10 GB peak)
Peak GPU memory: MLX's peak allocation (train_bench "peak memory (MLX)") and torch's
max_memory_allocated, both over the timed steps with the weights held. A failed or timed-out row
is reported as such and the others go on.
--cpu (what ctest runs, scripts/device_check.sh --cpu): the same rows with the tiny preset at
batch 2 x 64, one timed step, on the CPU; PEFT rows run only when --peer-python has torch and peft
(else they say so). Exercises the commands, parsing and the table, measures nothing.
Prints one table and writes DIR/bench.json and DIR/bench.txt.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def rows(args):
    """(name, shape, base, kind, command) of every row."""
    seq, batch, steps = (64, 2, 1) if args.cpu else (args.seq, args.batch, args.steps)
    device = "cpu" if args.cpu else "gpu"
    tb = [args.train_bench, "--seq", str(seq), "--batch", str(batch), "--steps", str(steps),
          "--device", device, "--dtype", "bfloat16"]
    peft = [args.peer_python, os.path.join(HERE, "peft_torch.py"), "--seq", str(seq), "--batch",
            str(batch), "--steps", str(steps), "--precision", "bf16-weights",
            "--device", "cpu" if args.cpu else "cuda"]
    small, big = ("tiny", "tiny") if args.cpu else ("small", "mistral-7b-shape")
    peft_small, peft_big = ("small", "small") if args.cpu else ("small", "mistral-7b-shape")
    return [
        ("mlxft", small, "bf16", "mlxft", tb + ["--preset", small]),
        ("peft", peft_small, "bf16", "peft", peft + ["--shape", peft_small]),
        ("mlxft", big, "bf16", "mlxft", tb + ["--preset", big]),
        ("peft", peft_big, "bf16", "peft", peft + ["--shape", peft_big]),
        ("mlxft", big, "4-bit, ckpt", "mlxft", tb + ["--preset", big, "--bits", "4", "--group", "64",
                                                      "--checkpointing"]),
    ]


def number(text, label):
    m = re.search(re.escape(label) + r"\s+([0-9.]+)", text)
    if not m:
        raise RuntimeError(f"no '{label}' in the output")
    return float(m.group(1))


def peer_ready(python):
    """Whether `python` imports torch and peft (the PEFT rows need both)."""
    try:
        return subprocess.run([python, "-c", "import torch, peft, transformers"], capture_output=True,
                              timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def run_row(kind, command, timeout):
    t0 = time.perf_counter()
    try:
        p = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=HERE)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        tail = (p.stdout + p.stderr).strip().splitlines()[-3:]
        return {"error": f"exit status {p.returncode}: {' | '.join(tail)}"}
    try:
        if kind == "mlxft":
            return dict(tokens_per_s=number(p.stdout, "trained tokens/s:"),
                        s_per_step=number(p.stdout, "seconds / step:"),
                        peak_gb=number(p.stdout, "peak memory (MLX):"),
                        loss=number(p.stdout, "loss"), wall_s=wall,
                        device=re.search(r"device: (.+)", p.stdout).group(1))
        r = json.loads(p.stdout.strip().splitlines()[-1])
        return dict(tokens_per_s=r["tokens_per_s"], s_per_step=r["s_per_step"],
                    peak_gb=r.get("gpu_peak_gb"), loss=r["loss"], wall_s=wall,
                    device="cuda" if "gpu_peak_gb" in r else "cpu")
    except (RuntimeError, ValueError, KeyError, AttributeError) as e:
        return {"error": f"unreadable output ({e}): {p.stdout[-300:]}"}


def table(results, cpu):
    lines = [f"{'run':7s} {'shape':17s} {'base':12s} {'tokens/s':>10s} {'s/step':>8s} {'peak GB':>8s} "
             f"{'loss':>7s}  device"]
    for r in results:
        head = f"{r['name']:7s} {r['shape']:17s} {r['base']:12s}"
        if "error" in r:
            lines.append(f"{head} {r['error']}")
            continue
        peak = "-" if r["peak_gb"] is None else f"{r['peak_gb']:.2f}"
        lines.append(f"{head} {r['tokens_per_s']:10.1f} {r['s_per_step']:8.3f} {peak:>8s} {r['loss']:7.3f}  "
                     f"{r['device']}")
    ok = {(r["name"], r["shape"], r["base"]): r for r in results if "error" not in r}
    for shape in dict.fromkeys(r["shape"] for r in results):
        mine, peer = ok.get(("mlxft", shape, "bf16")), ok.get(("peft", shape, "bf16"))
        if mine and peer:
            lines.append(f"mlxft / PEFT+torch bf16 tokens/s, {shape}: {mine['tokens_per_s'] / peer['tokens_per_s']:.2f}x"
                         + ("" if cpu else " (goal on mistral-7b-shape: >= 1.5x)"))
    q = ok.get(("mlxft", "mistral-7b-shape", "4-bit, ckpt"))
    if q and not cpu:
        lines.append(f"4-bit 7B step peak {q['peak_gb']:.2f} GB (goal: <= 10 GB)")
    if cpu:
        lines.append("(--cpu dry run: tiny shapes on the CPU; these numbers measure nothing)")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-bench", required=True)
    parser.add_argument("--peer-python", default=sys.executable, help="a Python with torch, transformers, peft")
    parser.add_argument("--out", required=True)
    parser.add_argument("--cpu", action="store_true", help="dry run on the CPU with tiny shapes")
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=150, help="seconds one row may take")
    args = parser.parse_args()
    args.train_bench = os.path.abspath(args.train_bench)
    os.makedirs(args.out, exist_ok=True)
    have_peer = peer_ready(args.peer_python)
    results = []
    for name, shape, base, kind, command in rows(args):
        print(f"device_bench: {name} {shape} {base}: {' '.join(command)}", file=sys.stderr, flush=True)
        if kind == "peft" and not have_peer:
            r = {"error": f"not run: {args.peer_python} lacks torch/transformers/peft"}
        else:
            r = run_row(kind, command, args.timeout)
        results.append(dict(r, name=name, shape=shape, base=base, command=command))
    text = table(results, args.cpu)
    print(text)
    with open(os.path.join(args.out, "bench.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(results, f, indent=2)
    return 0 if any("error" not in r and r["name"] == "mlxft" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
