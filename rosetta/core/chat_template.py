"""Chat templates: a conversation rendered to the prompt text a chat model was trained on.

A template is Jinja2 source from tokenizer_config.json (`chat_template`), chat_template.jinja or a
GGUF's `tokenizer.chat_template`. Templates come from checkpoints, so they are untrusted code: they
run in Jinja2's `ImmutableSandboxedEnvironment`, as transformers runs them, with the same globals
(`raise_exception`, `strftime_now`, `namespace`, `dict`), a `tojson` that does not escape HTML,
`trim_blocks`/`lstrip_blocks`, loop controls and the `{% generation %}` block. A template that
reaches for Python internals (`''.__class__.__mro__`), raises, or does not parse is an InputError.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from .errors import InputError

_CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG "


def _jinja() -> Any:
    try:
        import jinja2
        import jinja2.ext
        import jinja2.sandbox
    except ImportError as err:  # pragma: no cover - jinja2 is a core dependency
        raise InputError("Chat templates need jinja2: pip install 'jinja2>=3.1'.") from err
    return jinja2


def _raise_exception(message: str) -> None:
    raise _jinja().exceptions.TemplateError(message)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: Any = None,
    separators: Any = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _template_dict(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return dict(*args, **kwargs)


def _environment() -> Any:
    jinja2 = _jinja()

    class GenerationBlock(jinja2.ext.Extension):
        """`{% generation %}...{% endgeneration %}`: marks assistant text; rendered as its body."""

        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller: Any) -> str:
            return caller()

    class Namespace(jinja2.utils.Namespace):
        """`namespace(...)` that refuses underscore-prefixed attributes (no route to internals)."""

        def __init__(*args: Any, **kwargs: Any) -> None:
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                Namespace._check(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name: str, value: Any) -> None:
            Namespace._check(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check(name: Any) -> None:
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(f"a namespace cannot hold the attribute {name!r}")

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlock, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals.update(
        raise_exception=_raise_exception, strftime_now=_strftime_now, dict=_template_dict, namespace=Namespace
    )
    return env


@lru_cache(maxsize=32)
def compile_chat_template(source: str) -> Any:
    """The compiled template (cached by source); a syntax error is an InputError naming the line."""
    jinja2 = _jinja()
    try:
        return _environment().from_string(source)
    except jinja2.exceptions.TemplateSyntaxError as err:
        raise InputError(f"The chat template does not parse: {err.message} (line {err.lineno}).") from err


def _plain(value: Any) -> Any:
    """What a template may see: plain JSON-like data (strings, numbers, lists, dicts); other objects as '<Type>'."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        return _plain(value.item())  # numpy scalars
    return f"<{type(value).__name__}>"


def _messages(conversation: Any) -> list[dict[str, Any]]:
    messages = getattr(conversation, "messages", conversation)
    if not isinstance(messages, Sequence) or isinstance(messages, str):
        raise InputError(
            f"A conversation is a list of messages like {{'role': 'user', 'content': '...'}}, got {type(messages).__name__}."
        )
    out = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InputError(
                f"Message {index} of the conversation is a {type(message).__name__}, not a dict with 'role' and 'content'."
            )
        out.append({key: _plain(value) for key, value in message.items() if value is not None})
    return out


def _tag_final_message(chat: list[dict[str, Any]], field: str, source: str) -> str:
    """Mark the end of the last message's `field`, so the rendered text can be cut right after it."""
    if not chat or chat[-1].get(field) is None:
        raise InputError(f"continue_final_message is set but the final message has no {field!r} to continue.")
    if field not in source:
        raise InputError(f"continue_final_message is set to {field!r}, which the chat template never reads.")
    final = chat[-1][field]
    if not isinstance(final, str):
        raise InputError("continue_final_message needs the final message's content to be a string.")
    chat[-1][field] = final + _CONTINUE_TAG
    return final


def _cut_after_final(rendered: str, final: str) -> str:
    tag = _CONTINUE_TAG.strip()
    if final.strip() not in rendered or tag not in rendered:
        raise InputError(
            "continue_final_message is set but the chat template drops the final message's text."
        )
    at = rendered.rindex(tag)
    return (
        rendered[:at] if rendered[at : at + len(_CONTINUE_TAG)] == _CONTINUE_TAG else rendered[:at].rstrip()
    )


def render_chat(
    source: str,
    conversations: Sequence[Any],
    *,
    add_generation_prompt: bool = False,
    continue_final_message: bool | str = False,
    tools: list[Any] | None = None,
    documents: list[Any] | None = None,
    **template_kwargs: Any,
) -> list[str]:
    """Render each conversation with the template `source`; template variables go in `template_kwargs`."""
    jinja2 = _jinja()
    if continue_final_message and add_generation_prompt:
        raise InputError(
            "continue_final_message and add_generation_prompt exclude each other: continue the last message, "
            "or open a new assistant turn."
        )
    template = compile_chat_template(source)
    field = continue_final_message if isinstance(continue_final_message, str) else "content"
    variables = {**_plain(template_kwargs), "tools": _plain(tools), "documents": _plain(documents)}
    rendered = []
    for conversation in conversations:
        chat = _messages(conversation)
        final = _tag_final_message(chat, field, source) if continue_final_message else None
        try:
            text = template.render(messages=chat, add_generation_prompt=add_generation_prompt, **variables)
        except jinja2.exceptions.SecurityError as err:
            raise InputError(
                f"The chat template tried to reach Python internals, which the sandbox forbids ({err}). "
                "Chat templates may only read the messages and variables they are given; use a trusted template."
            ) from err
        except jinja2.exceptions.TemplateError as err:
            raise InputError(f"The chat template raised an error: {err}") from err
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as err:
            raise InputError(
                f"The chat template failed on this conversation ({type(err).__name__}: {err}); "
                "check the messages have the keys and types the template reads."
            ) from err
        rendered.append(_cut_after_final(text, final) if final is not None else text)
    return rendered


def select_chat_template(
    templates: str | Mapping[str, str] | Sequence[Mapping[str, str]] | None,
    chat_template: str | None = None,
    tools: list[Any] | None = None,
) -> str:
    """The template source to use: a passed template or template name, else the tokenizer's (its "default")."""
    if isinstance(templates, Sequence) and not isinstance(templates, str):
        templates = {entry["name"]: entry["template"] for entry in templates}
    if isinstance(templates, Mapping):
        if chat_template is not None:
            return templates.get(chat_template, chat_template)
        if tools is not None and "tool_use" in templates:
            return templates["tool_use"]
        if "default" in templates:
            return templates["default"]
        raise InputError(
            f"This tokenizer has several chat templates and none named 'default'; pass chat_template= one of "
            f"{sorted(templates)} or a template string."
        )
    if chat_template is not None:
        return chat_template
    if templates is None:
        raise InputError(
            "This tokenizer has no chat template (no chat_template in tokenizer_config.json, chat_template.jinja "
            "or the GGUF metadata); pass chat_template='...' or set tokenizer.chat_template."
        )
    return templates


__all__ = ["compile_chat_template", "render_chat", "select_chat_template"]
