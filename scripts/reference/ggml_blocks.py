#!/usr/bin/env python3
"""Q8_0 and Q4_0 blocks as gguf-py (llama.cpp's Python package, whose quantizers mirror ggml-quants.c)
writes them, for mlxft's ggml_encode test (tests/export/ggml_encode_test.cpp).

Run by hand in the reference venv:
    .venv-ref/bin/python scripts/reference/ggml_blocks.py --out tests/golden/gguf_export
Writes blocks.safetensors: x float32 [6, 64] (normal values, a row of zeros, a row with one large
negative outlier, a row of exact ties), q8_0 uint8 [6, 68], q4_0 uint8 [6, 36].
"""
import argparse
import os

import numpy as np
from gguf import GGMLQuantizationType, quants
from safetensors.numpy import save_file


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    args = p.parse_args()
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, (6, 64)).astype(np.float32)
    x[1] = 0.0
    x[2, 5] = -9.0
    x[3] = np.tile(np.array([0.5, -0.5, 0.25, 1.0], np.float32), 16)
    x[4] *= 1e-3
    q8 = quants.quantize(x, GGMLQuantizationType.Q8_0)
    q4 = quants.quantize(x, GGMLQuantizationType.Q4_0)
    os.makedirs(args.out, exist_ok=True)
    save_file({"x": x, "q8_0": q8.astype(np.uint8), "q4_0": q4.astype(np.uint8)},
              os.path.join(args.out, "blocks.safetensors"))
    print("q8_0", q8.shape, "q4_0", q4.shape)


if __name__ == "__main__":
    main()
