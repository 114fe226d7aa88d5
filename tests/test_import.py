import subprocess
import sys


def test_import_rosetta_imports_no_framework():
    code = (
        "import sys, rosetta; rosetta.BertConfig; rosetta.AutoConfig; rosetta.AutoModel;"
        "bad=[m for m in ('torch','tensorflow','jax','flax','keras') if m in sys.modules]; print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_name_is_attribute_error():
    import pytest

    import rosetta

    with pytest.raises(AttributeError, match="NotAModel"):
        rosetta.NotAModel  # noqa: B018


def test_every_public_name_resolves():
    """Each name `dir(rosetta)` lists imports (frameworks included) without error."""
    code = (
        "import rosetta\n"
        "bad = []\n"
        "for name in dir(rosetta):\n"
        "    if not name.startswith('_'):\n"
        "        try:\n"
        "            getattr(rosetta, name)\n"
        "        except Exception as err:\n"
        "            bad.append(f'{name}: {err!r}')\n"
        "print(len(dir(rosetta)), bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, bad = out.stdout.strip().splitlines()[-1].split(" ", 1)
    assert bad == "[]" and int(count) > 100


def _run_blocked(blocked: tuple[str, ...], code: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter where importing any of `blocked` fails as if it were not installed."""
    prelude = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True)


BLOCKED = {
    "torch": (("torch",), "BertModel", "torch"),
    "tf": (("tensorflow", "keras"), "TFBertModel", "tf"),
    "flax": (("jax", "flax"), "FlaxBertModel", "flax"),
}


def test_a_class_of_a_framework_that_is_not_installed_says_which_extra_to_install():
    import pytest

    for key, (blocked, name, extra) in BLOCKED.items():
        code = (
            "from rosetta.core.errors import MissingFrameworkError\n"
            "try:\n"
            f"    from rosetta import {name}\n"
            "except MissingFrameworkError as err:\n"
            "    print('MISSING', err)\n"
        )
        run = _run_blocked(blocked, code)
        assert run.returncode == 0, run.stderr
        out = run.stdout.strip()
        assert out.startswith(f"MISSING {name}:"), (key, out)
        assert f"[{extra}]'" in out and "pip install" in out, out
        assert "No module named" not in out
    with pytest.raises(AttributeError):
        import rosetta

        rosetta.TFBertModelThatDoesNotExist  # noqa: B018


def test_the_auto_classes_and_registry_say_the_same_for_a_missing_framework():
    code = (
        "from rosetta import BertConfig, TFAutoModel\n"
        "from rosetta.core import registry\n"
        "from rosetta.core.errors import MissingFrameworkError\n"
        "for call in (lambda: TFAutoModel.from_config(BertConfig()), lambda: registry.model_class('bert', 'tf')):\n"
        "    try:\n"
        "        call()\n"
        "    except MissingFrameworkError as err:\n"
        "        print(err)\n"
    )
    run = _run_blocked(("tensorflow", "keras"), code)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 2 and all(
        line.startswith("TFBertModel: TensorFlow is not installed") for line in lines
    )


def test_the_other_frameworks_work_when_one_is_missing():
    code = "from rosetta import BertModel, BertConfig\nprint(type(BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37, vocab_size=99))).__name__)\n"
    run = _run_blocked(("tensorflow", "keras", "jax", "flax"), code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "BertModel"


def test_rosetta_version():
    import rosetta

    run = subprocess.run([sys.executable, "-m", "rosetta", "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == f"rosetta {rosetta.__version__}"


def test_the_registry_finds_every_model_package_and_its_preprocessors():
    from rosetta.core import registry

    models = {
        "bert",
        "roberta",
        "gpt2",
        "llama",
        "mistral",
        "qwen2",
        "gemma",
        "vit",
        "clip",
        "wav2vec2",
        "whisper",
    }
    assert models <= set(registry.available_model_types()) <= set(registry.packages())
    assert registry.preprocessor_class_by_name("GPT2Tokenizer").__name__ == "GPT2Tokenizer"
    assert registry.preprocessor_class_by_name("TokenizersBackend").__name__ == "PreTrainedTokenizer"
    assert registry.preprocessor_class("clip", "PROCESSOR").__name__ == "CLIPProcessor"
    assert registry.model_class("bert", "pt", "masked-lm").__name__ == "BertForMaskedLM"
    naming = registry.legacy_naming("roberta")
    assert naming is not None and naming["main_layer"] == "roberta" and naming["tf_scopes"] == {}
    assert registry.legacy_naming("gpt2") is None


def test_model_class_errors_name_what_exists():
    import pytest

    from rosetta.core import registry
    from rosetta.core.errors import ConfigError, UnknownModelTypeError

    with pytest.raises(ConfigError, match="'causal-lm'.*It has: base"):
        registry.model_class("bert", "flax", "causal-lm")
    with pytest.raises(UnknownModelTypeError, match="bert, .*llama, .*roberta"):
        registry.model_class("no-such-model", "torch")
    with pytest.raises(ConfigError, match="mxnet"):
        registry.model_class("bert", "mxnet")
