"""`rosetta generate MODEL "prompt"`: continue a prompt with a causal LM in torch, TF or Flax.

Loads `AutoTokenizer` and `<prefix>AutoModelForCausalLM` of the chosen framework and prints the new text
through a `TextStreamer`. The frameworks are imported when the command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

DESCRIPTION = (
    "Continue PROMPT with the causal language model MODEL (a folder or Hub repo id) in PyTorch, TensorFlow "
    "or JAX/Flax, and print the new text. PyTorch prints each word as it is generated; TensorFlow and Flax "
    "run the whole decode as one compiled (XLA) loop, so their text is printed when the loop returns. "
    "Greedy search unless --do-sample."
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate", help="continue a prompt with a causal language model", description=DESCRIPTION
    )
    parser.add_argument("model", metavar="MODEL", help="folder or Hub repo id of the checkpoint")
    parser.add_argument(
        "prompt", metavar="PROMPT", help="the text to continue (or the user message with --chat)"
    )
    parser.add_argument(
        "--framework",
        default=None,
        help="torch, tf or flax (default: the first installed, in that order). TF and Flax print the text "
        "when their compiled loop returns, not token by token",
    )
    parser.add_argument(
        "--max-new-tokens", type=int, default=50, help="most tokens to generate (default: 50)"
    )
    parser.add_argument(
        "--chat",
        action="store_true",
        help="apply the tokenizer's chat template to PROMPT as one user message (with the generation prompt)",
    )
    parser.add_argument("--gguf-file", default=None, metavar="NAME", help="load this GGUF file of MODEL")
    parser.add_argument("--do-sample", action="store_true", help="sample instead of greedy search")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature")
    parser.add_argument("--top-k", type=int, default=None, help="sample from the k most likely tokens")
    parser.add_argument("--top-p", type=float, default=None, help="nucleus sampling probability mass")
    parser.add_argument("--seed", type=int, default=None, help="random seed, for reproducible sampling")
    parser.set_defaults(func=run)


def choose_framework(name: str | None) -> str:
    """The framework key to run in: `name` when it is installed, else the first installed one."""
    from ..core.errors import InputError, MissingFrameworkError
    from ..core.frameworks import FRAMEWORKS, available_frameworks, framework_key, missing_framework_message

    installed = available_frameworks()
    if name is None:
        if not installed:
            raise MissingFrameworkError(
                f"No framework is installed; install one of them, e.g. pip install 'rosetta-models[torch]' "
                f"(extras: {', '.join(fw.extra for fw in FRAMEWORKS.values())})."
            )
        return installed[0]
    try:
        key = framework_key(name)
    except ValueError:
        raise InputError(f"--framework {name!r} is not one of {', '.join(FRAMEWORKS)}.") from None
    if key not in installed:
        raise MissingFrameworkError(missing_framework_message(key))
    return key


def generate_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords for `model.generate` that the options set (unset options keep the model's defaults)."""
    from ..core.errors import InputError

    if args.max_new_tokens < 1:
        raise InputError(f"--max-new-tokens must be at least 1, got {args.max_new_tokens}.")
    kwargs: dict[str, Any] = {"max_new_tokens": args.max_new_tokens, "do_sample": bool(args.do_sample)}
    options = {"temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p, "seed": args.seed}
    kwargs.update({key: value for key, value in options.items() if value is not None})
    return kwargs


def encode_prompt(tokenizer: Any, prompt: str, chat: bool) -> list[int]:
    """The prompt's token ids: plain, or through the chat template as one user message."""
    from ..core.errors import InputError

    if chat:
        if not getattr(tokenizer, "chat_template", None):
            raise InputError(
                "--chat needs a chat template, and this tokenizer has none (tokenizer_config.json's "
                "'chat_template'); drop --chat to continue the prompt as plain text."
            )
        messages = [{"role": "user", "content": prompt}]
        ids = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False
        )
    else:
        ids = tokenizer(prompt)["input_ids"]
    ids = [int(i) for i in ids]
    if not ids:
        raise InputError("The prompt encodes to no tokens; pass some text to continue.")
    return ids


def load_tokenizer(model: str, gguf_file: str | None) -> Any:
    from ..core.registry import AutoTokenizer

    return AutoTokenizer.from_pretrained(model, **({"gguf_file": gguf_file} if gguf_file else {}))


def load_model(model: str, framework: str, gguf_file: str | None) -> Any:
    """The causal LM of `model` in `framework` (`AutoModelForCausalLM`, `TF...`, `Flax...`)."""
    from ..core.frameworks import FRAMEWORKS
    from ..core.registry import AUTO_MODEL_CLASSES

    auto = AUTO_MODEL_CLASSES[FRAMEWORKS[framework].class_prefix + "AutoModelForCausalLM"]
    return auto.from_pretrained(model, **({"gguf_file": gguf_file} if gguf_file else {}))


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..core.generation_utils import TextStreamer

    framework = choose_framework(args.framework)
    kwargs = generate_kwargs(args)
    tokenizer = load_tokenizer(args.model, args.gguf_file)
    ids = np.asarray([encode_prompt(tokenizer, args.prompt, args.chat)], dtype=np.int64)
    model = load_model(args.model, framework, args.gguf_file)
    streamer = TextStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    model.generate(ids, np.ones_like(ids), streamer=streamer, **kwargs)
    return 0
