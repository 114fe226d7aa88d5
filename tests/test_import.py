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
