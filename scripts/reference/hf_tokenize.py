"""Reference token ids for the byte-level BPE parity tests (tests/tokenizer/bpe_parity_test.cpp).

Run with the reference venv:  .venv-ref/bin/python scripts/reference/hf_tokenize.py \
    --gguf PATH/SmolLM2-135M-Instruct.Q4_1.gguf --seed ../shared/data/syngen_toolset_v1.0.0_claude.jsonl \
    --out tests/golden/bpe

The reference is Hugging Face `tokenizers`, with special tokens in text treated as text
(encode_special_tokens = True), no BOS/EOS added. For SmolLM2's GGUF it is built twice:
  - by transformers from the GGUF (AutoTokenizer.from_pretrained(dir, gguf_file=...)), and
  - by hand from the GGUF's vocab and merges with SmolLM2's tokenizer.json pre-tokenizer
    (Sequence[Digits(individual_digits), ByteLevel(add_prefix_space=False)]),
and llama.cpp (llama-cpp-python, vocab only) is run as a third opinion. The script reports where
they disagree; the goldens hold the hand-built `tokenizers` ids (the model's own tokenizer.json).
Last run (transformers 5.24, tokenizers 0.23.3, llama-cpp-python 0.3.36), 46 edge cases + 2000 seed
texts: llama.cpp 2046/2046 identical to the hand-built tokenizer; transformers' GGUF loader 1917/2046,
because it builds a plain ByteLevel pre-tokenizer and ignores tokenizer.ggml.pre = "smollm" (no
Digits step: "\n\n1" gives "Ċ","Ċ","1" instead of "ĊĊ","1").

Writes (all small):
  edge_cases.jsonl          {"text", "ids"} for the edge-case corpus below (SmolLM2)
  smollm2_seed_digest.txt   "TEXT_HASH IDS_HASH N" per message text of the seed file, in order
                            (fnv1a64 hex of the UTF-8 text and of the ids joined by ",")
  smollm2_seed_head.jsonl   {"text", "ids"} for the first 20 seed message texts
  tiny_*/tokenizer.json     small BPEs trained here with `tokenizers` (gpt2, llama3, qwen2 styles)
  tiny_*/ids.jsonl          {"text", "ids"} for the edge cases, 10 seed texts and one with <tool_call>
"""
import argparse
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")

EDGE_CASES = [
    "", " ", "\n", "Hello world", "Hello, world! How's it going?",
    "1234567890", "3.14159 and 2,718,281 and 1e-9", "v2.0.1-rc3", "٣٤٥ ½ Ⅻ ①②③ ๓",
    "你好，世界！这是一个测试。", "日本語のテキストとカタカナ", "한국어 텍스트", "Hello мир 世界 مرحبا שלום",
    "👍 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇩🇪 🏳️‍🌈 ❤️", "e\u0301 a\u0300\u0316 Z\u0351\u0354\u0353 cafe\u0301",
    "नमस्ते दुनिया", "สวัสดีครับ", "\x00\x01\x02\x7f \x1b[31mred\x1b[0m \x08\x0b\x0c",
    "tab\tseparated\tvalues\t\t", "line one\r\nline two\r\n\r\n", "a  b   c    d", "   leading", "trailing   ",
    "     ", "\n\n\n", " \n \n ", "\t \t\n", "x\u00a0y\u2003z\u3000w\u0085v\u2028u\u2029t",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", "<|endoftext|>", "<|im_start|><|im_start|>",
    "I'm you're they'll it's we've I'd DON'T SHE'S 'S 'll", "it’s curly ‘quotes’ “double”", "'ſ 'ſt",
    "a" * 3000, "supercalifragilisticexpialidocious" * 40, "x" + "!" * 500 + "y",
    "def f(x):\n    return x ** 2  # square\n", '{"name": "tool", "arguments": {"a": 1, "b": [true, null]}}',
    "https://example.com/path?q=1&r=two#frag", "C:\\Users\\name\\file.txt", "<tool_call>\n{}\n</tool_call>",
    "ﬁ ﬂ Ǆ ǅ ß ẞ İ ı", "\U0001d400\U0001d401 \U00010000 \U0010fffd", "\ufeffBOM at start", "Mixed123Numbers456",
]


def fnv1a64(data: bytes) -> str:
    h = 14695981039346656037
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def seed_texts(path):
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                for message in json.loads(line).get("conversations", []):
                    if isinstance(message.get("content"), str):
                        texts.append(message["content"])
    return texts


def gguf_tokenizer(gguf_path):
    """SmolLM2's tokenizer rebuilt from the GGUF's vocab and merges (tokenizer.json's pre-tokenizer)."""
    from gguf import GGUFReader
    reader = GGUFReader(gguf_path)
    field = lambda key: reader.fields[key].contents()
    assert field("tokenizer.ggml.model") == "gpt2" and field("tokenizer.ggml.pre") == "smollm"
    tokens, types = field("tokenizer.ggml.tokens"), field("tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field("tokenizer.ggml.merges")]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])
    tok.encode_special_tokens = True
    return tok


def transformers_tokenizer(gguf_path):
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path))
    backend = hf.backend_tokenizer
    backend.encode_special_tokens = True
    return backend


def llama_cpp_encoder(gguf_path):
    from llama_cpp import Llama
    llm = Llama(model_path=gguf_path, vocab_only=True, verbose=False)
    return lambda text: llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)


def compare(name, texts, reference, other):
    bad = [i for i, t in enumerate(texts) if other(t) != reference[i]]
    print(f"{name}: {len(texts) - len(bad)}/{len(texts)} identical" + (f"; first differing: {bad[:5]}" if bad else ""))
    return bad


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def train_tiny(style, texts, out_dir):
    tok = Tokenizer(models.BPE(ignore_merges=(style == "llama3")))
    if style == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    else:
        regex = LLAMA3 if style == "llama3" else QWEN2
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], show_progress=False)
    tok.train_from_iterator(texts, trainer)
    if style == "qwen2":  # a non-special added token, cut out of text as `tokenizers` does
        tok.add_tokens([AddedToken("<tool_call>", special=False, normalized=False)])
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    if style == "gpt2":  # the legacy "a b" string form of merges
        path = os.path.join(out_dir, "tokenizer.json")
        data = json.load(open(path, encoding="utf-8"))
        data["model"]["merges"] = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
        json.dump(data, open(path, "w", encoding="utf-8"), ensure_ascii=False)
        tok = Tokenizer.from_file(path)
    tok.encode_special_tokens = True
    return tok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    seeds = seed_texts(args.seed)
    ref = gguf_tokenizer(args.gguf)
    encode = lambda t: ref.encode(t, add_special_tokens=False).ids
    corpus = EDGE_CASES + seeds
    ids = [encode(t) for t in corpus]
    for t, i in zip(corpus, ids):
        assert ref.decode(i, skip_special_tokens=False) == t or "\ufffd" in ref.decode(i), t
    print(f"{len(EDGE_CASES)} edge cases, {len(seeds)} seed message texts")
    try:
        tf = transformers_tokenizer(args.gguf)
        compare("transformers(gguf_file=)", corpus, ids, lambda t: tf.encode(t, add_special_tokens=False).ids)
    except Exception as e:  # report, do not hide
        print(f"transformers(gguf_file=): could not run: {e!r}")
    try:
        compare("llama.cpp (vocab only)", corpus, ids, llama_cpp_encoder(args.gguf))
    except Exception as e:
        print(f"llama.cpp: could not run: {e!r}")
    write_jsonl(os.path.join(args.out, "edge_cases.jsonl"),
                [{"text": t, "ids": i} for t, i in zip(EDGE_CASES, ids)])
    seed_ids = ids[len(EDGE_CASES):]
    with open(os.path.join(args.out, "smollm2_seed_digest.txt"), "w", encoding="utf-8") as f:
        for t, i in zip(seeds, seed_ids):
            f.write(f"{fnv1a64(t.encode('utf-8'))} {fnv1a64(','.join(map(str, i)).encode())} {len(i)}\n")
    write_jsonl(os.path.join(args.out, "smollm2_seed_head.jsonl"),
                [{"text": t, "ids": i} for t, i in zip(seeds[:20], seed_ids[:20])])
    training = seeds[:300] + EDGE_CASES
    for style in ("gpt2", "llama3", "qwen2"):
        out_dir = os.path.join(args.out, f"tiny_{style}")
        tok = train_tiny(style, training, out_dir)
        texts = EDGE_CASES + seeds[:10] + ["<tool_call>x</tool_call> <|im_end|>"]
        write_jsonl(os.path.join(out_dir, "ids.jsonl"),
                    [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in texts])
    return 0


if __name__ == "__main__":
    sys.exit(main())
