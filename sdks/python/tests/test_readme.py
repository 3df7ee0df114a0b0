"""The README's example, run as written against the real server (with a fresh phone number), from
the server's directory, where `sanhu serve` wrote sanhu-credentials.json."""

import contextlib
import io
import os
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_example_runs(client, new_phone, monkeypatch):
    (example,) = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)[:1]
    assert len(example.strip().splitlines()) == 5
    monkeypatch.chdir(os.path.dirname(os.environ["SANHU_TEST_CREDENTIALS"]))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example.replace("13800000001", new_phone()), "README.md", "exec"), {})
    assert printed.getvalue() == "0\n"
