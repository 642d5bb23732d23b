"""Peer comparison: mlxft's generation speed beside llama.cpp's, on the very same GGUF file.

  python bench/peers/generation_peers.py --mlxft build/mlxft --gguf SmolLM2-135M-Instruct.Q4_1.gguf
                                         [--threads 2] [--prompt-tokens 512] [--new-tokens 128]
                                         [--rounds 3] [--json build/bench/generation_peers.json]

Run it with a Python that has llama-cpp-python (the reference venv: make reference-venv). Both sides
get the same prompt text, tokenized by each program's own tokenizer (the counts are printed and must
agree), --threads threads, greedy decoding of exactly --new-tokens tokens (mlxft generate
--ignore-eos; llama.cpp is driven token by token through its eval()). Measured:
  prompt tokens/s  the prompt's forward pass (mlxft: and the first token's choice)
  decode tokens/s  every later one-token step
Each program runs --rounds times, interleaved (mlxft, llama.cpp, mlxft, ...); the table shows each
one's fastest round (other work only ever slows a run down), every round beside it.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time


def prompt_text(llm, tokens):
    """A deterministic English-like text of exactly `tokens` tokens for llama.cpp's tokenizer."""
    words = ("the model reads a note about the project and writes a short summary of what changed "
             "in the folder since monday while the team plans the next release").split()
    text, i = "", 0
    while len(llm.tokenize(text.encode(), add_bos=False)) < tokens:
        text += (" " if text else "") + words[i % len(words)] + (f" {i}" if i % 7 == 6 else "")
        i += 1
    while len(llm.tokenize(text.encode(), add_bos=False)) > tokens:
        text = text[:-1]
    return text


def run_mlxft(args, text):
    cmd = [args.mlxft, "--threads", str(args.threads), "generate", "--model", args.gguf, "--prompt", text,
           "--max-tokens", str(args.new_tokens), "--ignore-eos"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if r.returncode != 0:
        raise RuntimeError(f"mlxft generate failed:\n{r.stderr[-2000:]}")
    m = re.search(r"prompt: (\d+) tokens, ([0-9.]+) tokens/s \| generation: (\d+) tokens, ([0-9.]+) tokens/s",
                  r.stderr)
    if not m:
        raise RuntimeError(f"mlxft generate printed no speed line:\n{r.stderr[-2000:]}")
    return dict(prompt_tokens=int(m.group(1)), prompt_tps=float(m.group(2)), new_tokens=int(m.group(3)),
                decode_tps=float(m.group(4)))


def run_llama(args, llm, text):
    import numpy as np
    tokens = llm.tokenize(text.encode(), add_bos=False)
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(tokens)
    token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
    prompt_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(args.new_tokens - 1):
        llm.eval([token])
        token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
    decode_s = time.perf_counter() - t0
    return dict(prompt_tokens=len(tokens), prompt_tps=len(tokens) / prompt_s, new_tokens=args.new_tokens,
                decode_tps=(args.new_tokens - 1) / decode_s)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mlxft", required=True)
    p.add_argument("--gguf", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prompt-tokens", type=int, default=512)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--timeout", type=int, default=600)
    p.add_argument("--json", default="")
    args = p.parse_args()
    from llama_cpp import Llama, __version__ as llama_version
    n_ctx = args.prompt_tokens + args.new_tokens + 16  # n_batch = n_ctx: scores keeps a row per position
    llm = Llama(model_path=args.gguf, n_ctx=n_ctx, n_batch=n_ctx,
                n_threads=args.threads, n_threads_batch=args.threads, logits_all=False, verbose=False)
    text = prompt_text(llm, args.prompt_tokens)
    rounds = {"mlxft": [], "llama.cpp": []}
    for r in range(args.rounds):
        for name in rounds:
            result = run_mlxft(args, text) if name == "mlxft" else run_llama(args, llm, text)
            rounds[name].append(result)
            print(f"round {r + 1} {name}: prompt {result['prompt_tokens']} tokens {result['prompt_tps']:.1f} tok/s, "
                  f"decode {result['new_tokens']} tokens {result['decode_tps']:.1f} tok/s", file=sys.stderr, flush=True)
    best = {n: {k: max(x[k] for x in rs) for k in ("prompt_tps", "decode_tps")} for n, rs in rounds.items()}
    counts = {n: rs[0]["prompt_tokens"] for n, rs in rounds.items()}
    print(f"\ngeneration on {os.path.basename(args.gguf)}, {args.threads} threads, prompt {counts} tokens, "
          f"{args.new_tokens} new tokens greedy, best of {args.rounds} interleaved rounds (llama-cpp-python "
          f"{llama_version})")
    print(f"| program | prompt tokens/s | decode tokens/s | rounds (prompt / decode) |\n|---|---|---|---|")
    for n, rs in rounds.items():
        each = ", ".join(f"{x['prompt_tps']:.0f}/{x['decode_tps']:.1f}" for x in rs)
        print(f"| {n} | {best[n]['prompt_tps']:.1f} | {best[n]['decode_tps']:.1f} | {each} |")
    for k in ("prompt_tps", "decode_tps"):
        print(f"mlxft / llama.cpp {k.split('_')[0]}: {best['mlxft'][k] / best['llama.cpp'][k]:.2f}x")
    if counts["mlxft"] != counts["llama.cpp"]:
        print(f"warning: the prompt is {counts} tokens: the tokenizers disagree", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(args=vars(args), rounds=rounds, best=best, llama_cpp=llama_version), f, indent=1)


if __name__ == "__main__":
    main()
