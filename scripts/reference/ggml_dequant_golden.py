#!/usr/bin/env python3
"""Blocks of every ggml type mlxft decodes, with gguf-py's dequantization of them, for mlxft's
ggml_dequant test (tests/formats/ggml_dequant_test.cpp checks its values bit for bit against these).

Run by hand in the reference venv (gguf 0.19):
    /work/main/.venv-ref/bin/python scripts/reference/ggml_dequant_golden.py --out tests/golden/ggml_dequant
Writes blocks.safetensors: for each TYPE, "TYPE.bytes" uint8 [bytes] (the blocks as a GGUF file holds
them) and "TYPE.bits" uint32 [elements] (the float32 bit patterns gguf-py's dequantize gives).
Q4_0/Q4_1/Q5_0/Q5_1/Q8_0: gguf-py's own quantizer on random rows, then one block of random bytes
with a negative scale. K-quants (gguf-py only dequantizes them): random bytes with every float16
field replaced by a sane scale (random magnitude 1e-4..1e-1, either sign; one block's d is a
float16 subnormal), so every packed scale, min and quant bit pattern is exercised. F16/BF16: random
values plus zeros, an infinity, a quiet NaN and a subnormal.
"""
import argparse
import os

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants
from gguf.constants import GGML_QUANT_SIZES
from safetensors.numpy import save_file

# Offsets of the float16 fields in each k-quant block (ggml-common.h).
F16_FIELDS = {
    T.Q2_K: [80, 82],    # scales[16], qs[64], d, dmin
    T.Q3_K: [108],       # hmask[32], qs[64], scales[12], d
    T.Q4_K: [0, 2],      # d, dmin, scales[12], qs[128]
    T.Q5_K: [0, 2],      # d, dmin, scales[12], qh[32], qs[128]
    T.Q6_K: [208],       # ql[128], qh[64], scales[16], d
}


def sane_f16(rng, n):
    mag = 10.0 ** rng.uniform(-4, -1, n)
    sign = rng.choice([-1.0, 1.0], n)
    return (mag * sign).astype(np.float16)


def kquant_blocks(rng, t, n_blocks):
    block_elems, block_bytes = GGML_QUANT_SIZES[t]
    raw = rng.integers(0, 256, (n_blocks, block_bytes), dtype=np.uint8)
    for off in F16_FIELDS[t]:
        raw[:, off:off + 2] = sane_f16(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    raw[0, F16_FIELDS[t][0]:F16_FIELDS[t][0] + 2] = np.array([0x0123], np.uint16).view(np.uint8)  # subnormal d
    return raw.reshape(-1)


def legacy_blocks(rng, t, n_rows):
    x = rng.normal(0, 0.05, (n_rows, 32)).astype(np.float32)
    x[0, 3] = -0.4  # an outlier
    q = quants.quantize(x, t).reshape(-1)
    _, block_bytes = GGML_QUANT_SIZES[t]
    extra = rng.integers(0, 256, block_bytes, dtype=np.uint8)
    extra[0:2] = np.array([-0.0123], np.float16).view(np.uint8)  # negative d
    if t in (T.Q4_1, T.Q5_1):
        extra[2:4] = np.array([0.5], np.float16).view(np.uint8)
    return np.concatenate([q.astype(np.uint8), extra])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    args = p.parse_args()
    rng = np.random.default_rng(35)
    out = {}
    for t in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        out[t.name] = legacy_blocks(rng, t, 3)
    for t in (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K):
        out[t.name] = kquant_blocks(rng, t, 2)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 6e-8, -3.5e-6, 65504.0], np.float32)
    f = np.concatenate([rng.normal(0, 1, 24).astype(np.float32), specials])
    out["F16"] = f.astype(np.float16).view(np.uint8)
    bf = (f.view(np.uint32) >> 16).astype(np.uint16)  # truncated to bfloat16 bits
    bf[-4] = 0x7FC0  # quiet NaN
    out["BF16"] = bf.view(np.uint8)
    tensors = {}
    for name, raw in out.items():
        t = T[name]
        values = quants.dequantize(raw, t).astype(np.float32).reshape(-1)
        tensors[name + ".bytes"] = np.ascontiguousarray(raw, dtype=np.uint8)
        tensors[name + ".bits"] = np.ascontiguousarray(values.view(np.uint32))
        print(name, raw.size, "bytes", values.size, "values", "max |x|", np.nanmax(np.abs(values[np.isfinite(values)])))
    os.makedirs(args.out, exist_ok=True)
    save_file(tensors, os.path.join(args.out, "blocks.safetensors"))


if __name__ == "__main__":
    main()
