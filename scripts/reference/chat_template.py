"""Reference ids of ChatML conversations for the ChatML tests (tests/chat/chatml_test.cpp).

Run with the reference venv:  .venv-ref/bin/python scripts/reference/chat_template.py \
    --gguf PATH/SmolLM2-135M-Instruct.Q4_1.gguf --out tests/golden/chatml

Text-only conversations are rendered with SmolLM2's own chat template (the GGUF's
tokenizer.chat_template) by transformers' apply_chat_template(tokenize=False), and the string is
encoded by Hugging Face `tokenizers` with SmolLM2's tokenizer.json pre-tokenizer and the GGUF's
control tokens recognised as special (hf_tokenize.gguf_tokenizer). transformers'
apply_chat_template(tokenize=True) on the GGUF tokenizer is compared and reported: its GGUF loader
drops SmolLM2's Digits pre-tokenizer, so it differs on digits that follow a space or newline.
Conversations with tools are rendered with the Hermes/Qwen2.5 tool convention written out below
(TOOLS_TEMPLATE: Qwen2.5's tool layout, SmolLM2's default system prompt).

Message text never spells a special token here: transformers would turn it into the special token,
mlxft keeps it text (tests/chat/chatml_test.cpp checks that on its own).

Writes conversations.jsonl: {"name", "messages", "tools", "text", "ids", "prompt_ids"} where
prompt_ids is the render with add_generation_prompt=True of the messages before the last assistant
message (absent when the conversation does not end with one).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from hf_tokenize import gguf_tokenizer  # noqa: E402

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

TOOLS_TEMPLATE = (
    "{%- set sys = messages[0]['content'] if messages[0]['role'] == 'system' else '" + SYSTEM + "' %}"
    "{{- '<|im_start|>system\\n' + sys }}"
    "{{- '\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\"name\": <function-name>, "
    "\"arguments\": <args-json-object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- for message in messages %}"
    "{%- if message.role == 'system' and loop.first %}"
    "{%- elif message.role == 'assistant' and message.tool_calls %}"
    "{{- '<|im_start|>assistant' }}{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}"
    "{%- for c in message.tool_calls %}{{- '\\n<tool_call>\\n{\"name\": \"' + c.function.name + "
    "'\", \"arguments\": ' + (c.function.arguments | tojson) + '}\\n</tool_call>' }}{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.index0 == 0 or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def m(role, content):
    return {"role": role, "content": content}


WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city, in °C",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
CALL = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 3}}}

CONVERSATIONS = [
    ("no_system", [m("user", "Hi there!"), m("assistant", "Hello! How can I help you today?")], None),
    ("with_system", [m("system", "Be brief."), m("user", "What is 12 + 30?"), m("assistant", "42.")], None),
    ("multi_turn_digits", [m("user", "Count: 1 2 3\n\n4"), m("assistant", " 5 6 7\n8 "),
                           m("user", "ok  "), m("assistant", "\n\nDone 2025.")], None),
    ("unicode_and_markup", [m("user", "日本語 👍🏽 <|im_start e\u0301 |>"),
                            m("assistant", "  leading spaces\n\ttab and <tool_call>text</tool_call>")], None),
    ("late_system_and_prompt", [m("user", "a"), m("assistant", "b"), m("system", "new rules"),
                                m("user", "c?"), m("assistant", "d!")], None),
    ("empty_content", [m("user", ""), m("assistant", "")], None),
    ("tool_call", [m("user", "Weather in Zürich?"),
                   {"role": "assistant", "content": "", "tool_calls": [CALL]},
                   m("tool", '{"temp": 21, "sky": "clear"}'), m("tool", "second result"),
                   m("assistant", "It is 21 °C and clear.")], [WEATHER]),
    ("tool_call_with_text_and_system", [m("system", "Use tools."), m("user", "Weather?"),
                                        {"role": "assistant", "content": "Let me check.",
                                         "tool_calls": [CALL, CALL]},
                                        m("tool", "sunny"), m("assistant", "Sunny.")], [WEATHER]),
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained(os.path.dirname(args.gguf), gguf_file=os.path.basename(args.gguf))
    ref = gguf_tokenizer(args.gguf)
    ref.encode_special_tokens = False  # the rendered string's <|im_start|> / <|im_end|> are special
    encode = lambda s: ref.encode(s, add_special_tokens=False).ids
    rows, same = [], 0
    for name, messages, tools in CONVERSATIONS:
        kw = {"tools": tools, "chat_template": TOOLS_TEMPLATE} if tools else {}
        text = hf.apply_chat_template(messages, tokenize=False, **kw)
        ids = encode(text)
        tf_ids = hf.apply_chat_template(messages, tokenize=True, **kw)
        tf_ids = tf_ids["input_ids"] if isinstance(tf_ids, dict) or hasattr(tf_ids, "keys") else tf_ids
        same += list(tf_ids) == ids
        row = {"name": name, "messages": messages, "tools": tools or [], "text": text, "ids": ids}
        if messages[-1]["role"] == "assistant":
            prompt = hf.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True, **kw)
            row["prompt_ids"] = encode(prompt)
        rows.append(row)
    print(f"{len(rows)} conversations; transformers apply_chat_template(tokenize=True) identical on {same}")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "conversations.jsonl"), "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
