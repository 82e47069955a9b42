"""memplane_conformance.docs: documented configurations are loaded and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from memplane.errors import MemplaneError
from memplane_conformance.docs import check_documented_configuration, yaml_blocks

PAGE = """# A provider

```yaml
embedder:
  provider: hashing
  config: {dimension: 32}
vector_store: memory
```

Some text, then a block in another language:

```python
print("not yaml")
```

```yaml
embedder:
  provider: hashing
  config: {no_such_option: 1}
```
"""


def test_yaml_blocks_are_the_fenced_yaml_only(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")
    blocks = yaml_blocks(page)
    assert len(blocks) == 2 and "no_such_option" in blocks[1]
    assert yaml_blocks(tmp_path / "missing.md") == []


def test_sections_naming_the_providers_are_checked(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")
    good, bad = yaml_blocks(page)
    assert check_documented_configuration(good, {"hashing", "memory"}) == 2
    assert check_documented_configuration(good, {"hashing"}, construct=False) == 1
    assert check_documented_configuration(good, {"openai"}) == 0
    for construct in (True, False):
        with pytest.raises(MemplaneError, match="no_such_option"):
            check_documented_configuration(bad, {"hashing"}, construct=construct)
