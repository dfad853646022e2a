"""The README's settings table is generated from Pulumi.yaml and kept fresh."""

from __future__ import annotations

from pathlib import Path

import yaml
from fake_cloud import PROJECT_DIR

from synth.settings_table import BEGIN, END, main, settings_table, with_table


def test_the_committed_table_is_what_pulumi_yaml_says() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    assert with_table(readme, settings_table()) == readme


def test_every_declared_setting_has_one_row_with_its_default_and_description() -> None:
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    rows = settings_table().splitlines()[2:]
    for name, declaration in declared.items():
        [row] = [row for row in rows if row.startswith(f"| `{name}` |")]
        assert declaration["description"] in row
    assert "| `nodeCount` | `3` |" in rows[3 + list(declared).index("nodeCount")]
    assert "| `natRouter` | (none) |" in settings_table()


def test_make_readme_rewrites_a_stale_table_and_check_reports_it(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{BEGIN}\n| old | table |\n{END}\n\n## Next\n")
    assert main(["--readme", str(readme), "--check"]) == 1
    assert main(["--readme", str(readme)]) == 0
    assert main(["--readme", str(readme), "--check"]) == 0
    text = readme.read_text()
    assert "| old | table |" not in text
    assert text.startswith("# Title\n\n")
    assert text.endswith(f"{END}\n\n## Next\n")


def test_a_readme_without_the_markers_is_refused(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    assert main(["--readme", str(readme)]) == 2
    assert readme.read_text() == "# Title\n"
