"""`text-generation`: prompts or chat messages -> the model's `generate` -> text, as transformers returns it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.errors import InputError
from ._base import Pipeline, Row, device_scope
from ._numpy import to_numpy

_DEFAULT_MAX_NEW_TOKENS = 256  # transformers' pipeline default when the model sets no length
# transformers 5's text-generation pipeline samples unless told otherwise: these fill in what neither the call
# nor the model's generation config sets, the temperature only when the call then samples.
_SAMPLING_DEFAULTS = {"do_sample": True, "temperature": 0.7}


def _is_chat(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(m, Mapping) for m in value)


def _check_prompt(prompt: Any) -> None:
    if not ((isinstance(prompt, str) and prompt) or _is_chat(prompt)):
        raise InputError(
            "text-generation takes a non-empty prompt string, a chat (a list of {'role', 'content'} "
            f"messages), or a list of those; got {prompt!r}."
        )


def _continues(prompt: Any, continue_final_message: bool | None) -> bool | None:
    """Whether a chat's last (assistant) message is continued rather than answered."""
    if isinstance(prompt, str):
        return continue_final_message
    return prompt[-1]["role"] == "assistant" if continue_final_message is None else continue_final_message


def _sampling_defaults(model_config: Any, generate_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The `_SAMPLING_DEFAULTS` that neither the call, its `generation_config`, nor the model's sets."""
    settled: dict[str, Any] = {}
    for source in (model_config, generate_kwargs.get("generation_config")):
        if hasattr(source, "to_dict"):
            settled.update(source.to_dict())
    settled.update(generate_kwargs)
    added = {key: value for key, value in _SAMPLING_DEFAULTS.items() if key not in settled}
    if not {**settled, **added}.get("do_sample"):
        added.pop("temperature", None)
    return added


class TextGenerationPipeline(Pipeline):
    """Continue each prompt with `model.generate`; `return_full_text` puts the prompt back in front.

    Every keyword that is not the pipeline's own goes to `generate`, which refuses any it does not know.
    As transformers 5's pipeline, it samples at temperature 0.7 unless the call or the model's generation
    config sets `do_sample` (pass `do_sample=False` for greedy). With `batch_size=N` the prompts run N at a
    time, left-padded (generation continues at each row's end).
    """

    auto_class = "AutoModelForCausalLM"
    accepts = "a prompt, a chat (a list of {'role', 'content'} messages), or a non-empty list of those"

    @property
    def task_name(self) -> str:
        return "text-generation"

    @property
    def padding_side(self) -> str:
        return "left"

    def _pad_value(self, key: str) -> Any:
        if key == "input_ids":
            for source in (self.tokenizer, getattr(self.model, "generation_config", None), self.model.config):
                for name in ("pad_token_id", "eos_token_id"):
                    value = getattr(source, name, None)
                    value = value[0] if isinstance(value, (list, tuple)) and value else value
                    if isinstance(value, int):
                        return value
            return 0
        return 0

    def _is_single(self, inputs: Any) -> bool:
        return isinstance(inputs, str) or _is_chat(inputs) or super()._is_single(inputs)

    def _sanitize_parameters(
        self,
        return_full_text: bool = True,
        return_tensors: bool = False,
        skip_special_tokens: bool = True,
        clean_up_tokenization_spaces: bool | None = None,
        continue_final_message: bool | None = None,
        add_special_tokens: bool = False,
        prefix: str = "",
        **generate_kwargs: Any,
    ) -> tuple[dict, dict, dict]:
        config = getattr(self.model, "generation_config", None)
        if "max_new_tokens" not in generate_kwargs and "max_length" not in generate_kwargs:
            if getattr(config, "max_new_tokens", None) is None:
                generate_kwargs["max_new_tokens"] = _DEFAULT_MAX_NEW_TOKENS
        generate_kwargs.update(_sampling_defaults(config, generate_kwargs))
        preprocess = {
            "prefix": prefix,
            "add_special_tokens": add_special_tokens,
            "continue_final_message": continue_final_message,
        }
        postprocess = {
            "return_full_text": return_full_text,
            "return_tensors": return_tensors,
            "skip_special_tokens": skip_special_tokens,
            "clean_up_tokenization_spaces": clean_up_tokenization_spaces,
            "continue_final_message": continue_final_message,
        }
        return preprocess, generate_kwargs, postprocess

    def preprocess(
        self,
        item: Any,
        prefix: str = "",
        add_special_tokens: bool = False,
        continue_final_message: Any = None,
    ) -> Row:
        _check_prompt(item)
        if isinstance(item, str):
            encoding = self.tokenizer(
                prefix + item, add_special_tokens=add_special_tokens, return_tensors="np"
            )
        else:
            continue_final = _continues(item, continue_final_message)
            encoding = self.tokenizer.apply_chat_template(
                list(item),
                add_generation_prompt=not continue_final,
                continue_final_message=continue_final,
                return_dict=True,
                return_tensors="np",
            )
        ids = np.asarray(encoding["input_ids"])
        return {
            "input_ids": ids,
            "attention_mask": np.asarray(encoding.get("attention_mask", np.ones_like(ids))),
        }

    def _forward(self, batch: Row, **generate_kwargs: Any) -> dict[str, np.ndarray]:
        with device_scope(self.framework, self.device):
            out = self.model.generate(
                batch["input_ids"], attention_mask=batch["attention_mask"], **generate_kwargs
            )
        return {"sequences": np.asarray(to_numpy(getattr(out, "sequences", out)))}

    def postprocess(
        self,
        outputs: dict[str, np.ndarray],
        index: int,
        item: Any,
        features: Row,
        return_full_text: bool = True,
        return_tensors: bool = False,
        skip_special_tokens: bool = True,
        clean_up_tokenization_spaces: bool | None = None,
        continue_final_message: bool | None = None,
    ) -> list[dict[str, Any]]:
        width = features["input_ids"].shape[1]  # the padded prompt: new tokens start after it
        left_pads = width - int(features["attention_mask"][index].sum())
        per_prompt = outputs["sequences"].shape[0] // features["input_ids"].shape[0]
        records = []
        for sequence in outputs["sequences"][index * per_prompt : (index + 1) * per_prompt].tolist():
            if return_tensors:
                records.append({"generated_token_ids": sequence[left_pads:]})
                continue
            text = self.tokenizer.decode(
                sequence[width:],
                skip_special_tokens=skip_special_tokens,
                clean_up_tokenization_spaces=clean_up_tokenization_spaces,
            )
            if return_full_text:
                text = _full(item, text, _continues(item, continue_final_message))
            records.append({"generated_text": text})
        return records


def _full(prompt: Any, text: str, continue_final: bool | None) -> Any:
    if isinstance(prompt, str):
        return prompt + text
    messages = [dict(m) for m in prompt]
    if continue_final:
        return messages[:-1] + [{"role": messages[-1]["role"], "content": messages[-1]["content"] + text}]
    return messages + [{"role": "assistant", "content": text}]
