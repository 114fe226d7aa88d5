import json

import pytest

from rosetta.core.errors import ConfigError, InputError
from rosetta.core.generation_config import GenerationConfig
from rosetta.core.generation_utils import TextIteratorStreamer, processor_plan


def test_round_trip_keeps_fields_and_unknown_extras(tmp_path):
    config = GenerationConfig(
        max_new_tokens=7, eos_token_id=[2, 3], do_sample=True, top_p=0.8, custom_field=1
    )
    config.save_pretrained(tmp_path)
    on_disk = json.loads((tmp_path / "generation_config.json").read_text())
    assert on_disk["eos_token_id"] == [2, 3] and on_disk["custom_field"] == 1
    assert GenerationConfig.from_pretrained(tmp_path) == config


def test_transformers_reads_ours(tmp_path):
    transformers = pytest.importorskip("transformers")
    GenerationConfig(max_new_tokens=5, num_beams=3, eos_token_id=2).save_pretrained(tmp_path)
    theirs = transformers.GenerationConfig.from_pretrained(tmp_path)
    assert (theirs.max_new_tokens, theirs.num_beams, theirs.eos_token_id) == (5, 3, 2)


def test_bad_values_are_named():
    with pytest.raises(ConfigError, match="top_p"):
        GenerationConfig(top_p=1.5)
    with pytest.raises(ConfigError, match="num_return_sequences"):
        GenerationConfig(num_return_sequences=3)
    with pytest.raises(InputError, match="'max_tokens'"):
        GenerationConfig().update(max_tokens=3)


def test_plan_follows_transformers_order():
    config = GenerationConfig(
        do_sample=True,
        temperature=0.5,
        top_k=4,
        top_p=0.9,
        min_p=0.1,
        repetition_penalty=1.2,
        no_repeat_ngram_size=2,
        min_new_tokens=2,
        eos_token_id=1,
    )
    names = [name for name, _ in processor_plan(config)]
    assert names == [
        "repetition_penalty",
        "no_repeat_ngram",
        "min_new_tokens",
        "temperature",
        "top_k",
        "top_p",
        "min_p",
    ]


def test_iterator_streamer_yields_text():
    class Tok:
        def decode(self, ids, **_):
            return "".join(f"w{i} " for i in ids)

    streamer = TextIteratorStreamer(Tok(), skip_prompt=True)
    streamer.put([[9, 9]])
    for token in (1, 2):
        streamer.put([token])
    streamer.end()
    assert "".join(streamer) == "w1 w2 "
