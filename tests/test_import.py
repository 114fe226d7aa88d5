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
