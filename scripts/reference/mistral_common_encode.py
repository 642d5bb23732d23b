"""Reference token ids for the parity test: encodes each conversation of a
"messages"-format JSONL file with mistral-common's v3 instruct tokenizer
(MistralTokenizer.from_file + encode_chat_completion) and writes one JSON line
per record: {"index": <0-based line>, "ids": [...]}.

usage: mistral_common_encode.py TOKENIZER_FILE INPUT.jsonl OUTPUT.jsonl
"""
import json
import sys

from mistral_common.protocol.instruct.request import ChatCompletionRequest
from mistral_common.protocol.instruct.validator import ValidationMode
from mistral_common.tokens.tokenizers.mistral import MistralTokenizer


def main() -> int:
    tokenizer_file, input_path, output_path = sys.argv[1:4]
    tokenizer = MistralTokenizer.from_file(tokenizer_file, mode=ValidationMode.finetuning)
    with open(input_path, encoding="utf-8") as src, open(output_path, "w", encoding="utf-8") as dst:
        for index, line in enumerate(src):
            if not line.strip():
                continue
            record = json.loads(line)
            request = ChatCompletionRequest(messages=record["messages"], tools=record.get("tools"))
            ids = tokenizer.encode_chat_completion(request).tokens
            dst.write(json.dumps({"index": index, "ids": ids}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
