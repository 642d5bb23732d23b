#!/usr/bin/env python3
"""mlx-lm's loss on an MLX-quantized directory written by `mlxft model quantize`.

Loads DIR with mlx-lm's own loader (mlx_lm.utils.load_model: config.json "quantization",
QuantizedLinear / QuantizedEmbedding from the .weight/.scales/.biases triplets), runs the token
ids through it in float32 and prints the mean next-token cross-entropy as JSON. The C++ side
(tests/model/quant_dir_test.cpp, QuantizedDirectory.MlxLmLoadsItWithTheSameLoss) writes the
directory, runs this script when MLXFT_REF_PYTHON names a Python with mlx-lm, and compares:
    MLXFT_REF_PYTHON=/work/main/.venv-ref/bin/python build/mlxft_tests --gtest_filter='*MlxLm*'
By hand:
    /work/main/.venv-ref/bin/python scripts/reference/mlx_lm_quantized_loss.py DIR 3,17,200,9,41,5
"""
import json
import sys
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx_lm.utils import load_model


def main() -> None:
    model_dir, ids_text = Path(sys.argv[1]), sys.argv[2]
    ids = [int(t) for t in ids_text.split(",")]
    model, config = load_model(model_dir)
    model.set_dtype(mx.float32, lambda dtype: mx.issubdtype(dtype, mx.floating))
    tokens = mx.array([ids])
    logits = model(tokens[:, :-1]).astype(mx.float32)
    loss = nn.losses.cross_entropy(logits, tokens[:, 1:], reduction="mean")
    quantized = sum(1 for _, m in model.named_modules() if isinstance(m, (nn.QuantizedLinear, nn.QuantizedEmbedding)))
    print(json.dumps({"loss": loss.item(), "quantized_modules": quantized,
                      "bits": config["quantization"]["bits"], "group_size": config["quantization"]["group_size"]}))


if __name__ == "__main__":
    main()
