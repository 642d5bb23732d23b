#!/usr/bin/env python3
"""llama.cpp's per-token loss of SmolLM2-135M-Instruct (its original Q4_1 GGUF) on a few seed
conversations, as the golden CI compares mlxft against (tests/model/smollm2_llama_cpp_test.cpp).

Run by hand, in the reference venv (llama-cpp-python), after building mlxft:
    .venv-ref/bin/python scripts/reference/smollm2_llama_cpp_loss.py --mlxft build/mlxft \
        --smollm2 PATH/SmolLM2-135M-Instruct.Q4_1.gguf \
        --data ../shared/data/syngen_toolset_v1.0.0_claude.jsonl --golden tests/golden/smollm2_llama_cpp

The token ids are mlxft's: `mlxft data render` of the data file with the GGUF's tokenizer and chat
format (ChatML), the first --records examples, each cut to --max-tokens. llama.cpp evaluates each
sequence as given (no BOS added) with logits for every position; the per-token negative log-likelihood
of token t+1 is -log_softmax(logits[t])[ids[t+1]] in float64. llama.cpp multiplies the Q4_1 weights
with its own quantized dot products (activations quantized to Q8_1), mlxft dequantizes exactly, so
the two differ a little per token.

Writes DIR/llama_cpp.json: the GGUF's file name and size, and per sequence the ids, llama.cpp's
per-token NLL and argmax (greedy next token) per position, plus the mean NLL over all tokens.
It also runs `mlxft model logits` on the same ids and prints the comparison (mean loss of both,
relative difference, max per-token |diff|, greedy argmax agreement).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import load_file


def mlxft(args, *argv):
    r = subprocess.run([args.mlxft, *map(str, argv)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"mlxft {' '.join(map(str, argv))} failed:\n{r.stderr}")
    return r.stdout


def rendered_ids(args, work):
    out = os.path.join(work, "rendered.jsonl")
    mlxft(args, "data", "render", "--model", args.smollm2, "--data", args.data, "--out", out)
    with open(out) as f:
        examples = [json.loads(line) for line in f]
    return [(e["index"], e["ids"][:args.max_tokens]) for e in examples[:args.records]]


def log_softmax(logits):
    logits = logits.astype(np.float64)
    m = logits.max(-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))


def per_token(logits, ids):
    """NLL of ids[1:] and the argmax of every position but the last."""
    logp = log_softmax(logits[:len(ids) - 1])
    return -logp[np.arange(len(ids) - 1), ids[1:]], logits[:len(ids) - 1].argmax(-1)


def no_amx_repack():
    """As export_check.py: llama.cpp's AMX repacking dies of SIGILL where the kernel does not grant the
    AMX tile state (sandboxes); load without the extra buffer types (llama.cpp's --no-repack)."""
    import llama_cpp.llama as module
    default = module.llama_cpp.llama_model_default_params

    def params():
        p = default()
        p.use_extra_bufts = False
        return p
    module.llama_cpp.llama_model_default_params = params


def llama_cpp_logits(llm, ids):
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[:len(ids)], dtype=np.float32)


def mlxft_logits(args, ids, work):
    out = os.path.join(work, "logits.safetensors")
    mlxft(args, "model", "logits", "--model", args.smollm2, "--ids", ",".join(map(str, ids)), "--out", out)
    logits = load_file(out)["logits"][0]
    os.remove(out)
    return logits


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mlxft", default="build/mlxft")
    p.add_argument("--smollm2", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--records", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=192)
    p.add_argument("--golden", help="write DIR/llama_cpp.json")
    args = p.parse_args()
    no_amx_repack()
    from llama_cpp import Llama
    work = tempfile.mkdtemp(prefix="mlxft-smollm2-llama-cpp-")
    seqs = rendered_ids(args, work)
    llm = Llama(model_path=args.smollm2, logits_all=True, n_ctx=max(len(ids) for _, ids in seqs),
                verbose=False, seed=0)
    golden = {"gguf": os.path.basename(args.smollm2), "gguf_bytes": os.path.getsize(args.smollm2),
              "sequences": []}
    theirs_all, ours_all, agree, positions = [], [], 0, 0
    for index, ids in seqs:
        theirs, their_argmax = per_token(llama_cpp_logits(llm, ids), ids)
        ours, our_argmax = per_token(mlxft_logits(args, ids, work), ids)
        golden["sequences"].append({"index": index, "ids": ids, "nll": [float(v) for v in theirs],
                                    "argmax": [int(v) for v in their_argmax]})
        theirs_all.append(theirs)
        ours_all.append(ours)
        agree += int((their_argmax == our_argmax).sum())
        positions += len(their_argmax)
        print(f"record {index}: {len(ids)} tokens, mean NLL llama.cpp {theirs.mean():.4f} mlxft {ours.mean():.4f}, "
              f"max |diff| {np.abs(theirs - ours).max():.4f}")
    theirs, ours = np.concatenate(theirs_all), np.concatenate(ours_all)
    golden["mean_nll"] = float(theirs.mean())
    print(f"all {len(theirs)} tokens: mean NLL llama.cpp {theirs.mean():.5f}, mlxft {ours.mean():.5f}, "
          f"relative diff {100 * abs(ours.mean() - theirs.mean()) / theirs.mean():.3f} %, "
          f"max per-token |diff| {np.abs(theirs - ours).max():.4f}, "
          f"mean per-token |diff| {np.abs(theirs - ours).mean():.4f}, "
          f"greedy argmax agreement {agree}/{positions} ({100 * agree / positions:.1f} %)")
    if args.golden:
        os.makedirs(args.golden, exist_ok=True)
        with open(os.path.join(args.golden, "llama_cpp.json"), "w") as f:
            json.dump(golden, f)
            f.write("\n")
        print(f"wrote {os.path.join(args.golden, 'llama_cpp.json')}")


if __name__ == "__main__":
    main()
