"""One version from the git tag: tools/release-version checks it against pyproject.toml and CHANGELOG.md, and the
wheel, the sdist, the chart and the image all get exactly that version."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from tests.release.files import RELEASE_VERSION, REPO, load_workflow, run_release_version, run_scripts, steps_using
from tests.support import k8s_assets

from georchestra_analytics.stack.images import PROJECT_IMAGE_REPOSITORY

CHART = REPO / "helm" / "georchestra-analytics"
VERSION_OUTPUT = "${{ needs.version.outputs.version }}"


def _bumped(version: str) -> str:
    major, minor, patch = version.split(".")
    return f"{major}.{minor}.{int(patch) + 1}"


def test_the_script_is_executable_in_git() -> None:
    """The workflow runs it as `tools/release-version`: the mode git records is what a checkout gets."""
    staged = subprocess.run(
        ["git", "ls-files", "--stage", "tools/release-version"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert staged.startswith("100755 "), f"tools/release-version must be tracked with mode 100755: {staged!r}"
    assert os.access(RELEASE_VERSION, os.X_OK)


def test_accepts_the_tag_of_the_project_version(project_version: str) -> None:
    result = run_release_version(f"v{project_version}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{project_version}\n"


def test_refuses_a_tag_of_another_version_saying_what_to_fix(project_version: str) -> None:
    tag = f"v{_bumped(project_version)}"
    result = run_release_version(tag)
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"tag {tag} does not match pyproject.toml's version {project_version}" in result.stderr


@pytest.mark.parametrize("tag", ["0.1.0", "v0.1", "v0.1.0-rc.1", "v0.1.0rc1", "v01.0.0", "release-0.1.0"])
def test_refuses_what_is_not_a_plain_release_tag(tag: str) -> None:
    result = run_release_version(tag)
    assert result.returncode == 1
    assert "is not a release tag: expected vMAJOR.MINOR.PATCH" in result.stderr


def _copy_of_the_tool(tmp_path: Path, version: str, changelog: str) -> Path:
    """tools/release-version in a tree of its own, with that pyproject version and CHANGELOG."""
    (tmp_path / "tools").mkdir(parents=True)
    script = tmp_path / "tools" / "release-version"
    shutil.copy2(RELEASE_VERSION, script)
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        re.sub(r'(?m)^version = "[^"]+"$', f'version = "{version}"', pyproject), encoding="utf-8"
    )
    (tmp_path / "CHANGELOG.md").write_text(changelog, encoding="utf-8")
    chart = (CHART / "Chart.yaml").read_text(encoding="utf-8")
    chart = re.sub(r"(?m)^version: .*$", f"version: {version}", chart)
    chart = re.sub(r"(?m)^appVersion: .*$", f'appVersion: "{version}"', chart)
    (tmp_path / "helm" / "georchestra-analytics").mkdir(parents=True)
    (tmp_path / "helm" / "georchestra-analytics" / "Chart.yaml").write_text(chart, encoding="utf-8")
    return script


def test_refuses_a_version_the_changelog_has_no_section_for(project_version: str, tmp_path: Path) -> None:
    version = _bumped(project_version)
    script = _copy_of_the_tool(tmp_path, version, (REPO / "CHANGELOG.md").read_text(encoding="utf-8"))
    result = run_release_version(f"v{version}", script=script)
    assert result.returncode == 1
    assert f"CHANGELOG.md has no section `## [{version}] - YYYY-MM-DD`" in result.stderr


def test_refuses_a_chart_of_another_version(project_version: str, tmp_path: Path) -> None:
    version = _bumped(project_version)
    changelog = f"# Changelog\n\n## [{version}] - 2026-01-02\n\n- a change\n"
    script = _copy_of_the_tool(tmp_path, version, changelog)
    assert run_release_version(f"v{version}", script=script).returncode == 0
    chart = tmp_path / "helm" / "georchestra-analytics" / "Chart.yaml"
    chart.write_text(re.sub(r"(?m)^appVersion: .*$", f'appVersion: "{project_version}"', chart.read_text()))
    result = run_release_version(f"v{version}", script=script)
    assert result.returncode == 1
    expected = f"Chart.yaml has version {version}, appVersion {project_version}: set both to {version}"
    assert expected in result.stderr


def test_refuses_an_undated_or_empty_section(tmp_path: Path) -> None:
    undated = _copy_of_the_tool(tmp_path / "undated", "1.2.3", "# Changelog\n\n## [1.2.3]\n\n- a change\n")
    assert "needs its date" in run_release_version("v1.2.3", script=undated).stderr
    empty = _copy_of_the_tool(tmp_path / "empty", "1.2.3", "# Changelog\n\n## [1.2.3] - 2026-01-02\n\n## [1.2.2]\n")
    assert "is empty" in run_release_version("v1.2.3", script=empty).stderr


def test_notes_are_the_changelog_section_of_the_version(tmp_path: Path) -> None:
    changelog = (
        "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- next\n\n"
        "## [1.2.3] - 2026-01-02\n\n### Fixed\n\n- this one\n\n"
        "## [1.2.2] - 2025-12-01\n\n### Added\n\n- older\n\n"
        "[Unreleased]: https://example.invalid/compare/v1.2.3...HEAD\n"
    )
    script = _copy_of_the_tool(tmp_path, "1.2.3", changelog)
    notes = tmp_path / "notes.md"
    result = run_release_version("v1.2.3", "--notes", str(notes), script=script)
    assert result.returncode == 0, result.stderr
    assert notes.read_text(encoding="utf-8") == "### Fixed\n\n- this one\n"


def test_notes_of_the_last_section_stop_before_the_link_references(tmp_path: Path) -> None:
    changelog = "# Changelog\n\n## [1.0.0] - 2026-01-02\n\n- first\n\n[1.0.0]: https://example.invalid/v1.0.0\n"
    script = _copy_of_the_tool(tmp_path, "1.0.0", changelog)
    notes = tmp_path / "notes.md"
    assert run_release_version("v1.0.0", "--notes", str(notes), script=script).returncode == 0
    assert notes.read_text(encoding="utf-8") == "- first\n"


def test_the_release_workflow_takes_its_version_and_notes_from_the_script() -> None:
    release = load_workflow("release.yml")
    (check,) = run_scripts(release, "version")
    assert 'version=$(tools/release-version "$GITHUB_REF_NAME")' in check
    assert release["jobs"]["version"]["outputs"]["version"] == "${{ steps.check.outputs.version }}"
    notes = " ".join(run_scripts(release, "github-release"))
    assert 'tools/release-version "$GITHUB_REF_NAME" --notes notes.md' in notes
    assert "--notes-file notes.md" in notes


def test_wheel_and_sdist_carry_the_project_version(project_version: str, tmp_path: Path) -> None:
    """What `make wheel` runs (and the sdist the release also builds), without build isolation: no download."""
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = tmp_path / f"georchestra_analytics-{project_version}-py3-none-any.whl"
    sdist = tmp_path / f"georchestra_analytics-{project_version}.tar.gz"
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([wheel.name, sdist.name])
    metadata = zipfile.ZipFile(wheel).read(f"georchestra_analytics-{project_version}.dist-info/METADATA").decode()
    assert f"\nVersion: {project_version}\n" in metadata
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(f"georchestra_analytics-{project_version}/PKG-INFO")
        assert member is not None
        assert f"\nVersion: {project_version}\n" in member.read().decode()
    # The names the release workflow checks before uploading.
    (check,) = [script for script in run_scripts(load_workflow("release.yml"), "python") if "ls -l" in script]
    assert '"dist/georchestra_analytics-$VERSION-py3-none-any.whl"' in check
    assert '"dist/georchestra_analytics-$VERSION.tar.gz"' in check


def test_make_wheel_builds_without_isolation() -> None:
    """The target the release tier's wheel check stands for."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "$(BIN)/python -m build --wheel --no-isolation --outdir $(DIST) ." in makefile
    assert "\nDIST ?= dist\n" in makefile


@pytest.mark.parametrize("kind", ["project version", "another version"])
def test_packaged_chart_has_the_release_version_and_deploys_that_image(
    kind: str, project_version: str, helm_binary: Path, tmp_path: Path
) -> None:
    """`helm package --version V --app-version V`, as the release workflow runs it; the packaged chart's operator
    Deployment pulls the image of version V, the tag the image job pushes."""
    version = project_version if kind == "project version" else "10.20.30"
    subprocess.run(
        [str(helm_binary), "package", str(CHART), "--version", version, "--app-version", version],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    package = tmp_path / f"georchestra-analytics-{version}.tgz"
    with tarfile.open(package) as archive:
        member = archive.extractfile("georchestra-analytics/Chart.yaml")
        assert member is not None
        chart = yaml.safe_load(member.read())
    assert chart["version"] == version
    assert chart["appVersion"] == version
    rendered = subprocess.run(
        [str(helm_binary), "template", "analytics", str(package), "--namespace", "georchestra-analytics"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    images = set(re.findall(r"^\s+image: \"?([^\"\s]+)\"?$", rendered, re.MULTILINE))
    assert images == {f"{PROJECT_IMAGE_REPOSITORY}:{version}"}


def test_the_release_workflow_packages_the_chart_that_way_with_the_tests_helm() -> None:
    release = load_workflow("release.yml")
    assert release["env"]["HELM_VERSION"] == k8s_assets.HELM_VERSION
    scripts = "\n".join(run_scripts(release, "chart"))
    assert (
        'helm package helm/georchestra-analytics --version "$VERSION" --app-version "$VERSION" --destination chart'
        in scripts
    )
    assert 'go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"' in scripts
    assert 'helm push "chart/georchestra-analytics-$VERSION.tgz" "$CHART_REPOSITORY"' in scripts
    assert release["env"]["CHART_REPOSITORY"] == "oci://ghcr.io/georchestra/charts"
    env = release["jobs"]["chart"]["steps"]
    assert all(step["env"]["VERSION"] == VERSION_OUTPUT for step in env if "VERSION" in step.get("env", {}))


def _final_stage(dockerfile: str) -> str:
    return re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[-1]


def test_dockerfile_labels_the_image_with_its_version_argument() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    # A global ARG is not visible inside a stage unless the stage declares it again.
    final = _final_stage(dockerfile)
    assert re.search(r"^ARG VERSION$", final, re.MULTILINE)
    labels = dict(re.findall(r'(org\.opencontainers\.image\.[\w.]+)="([^"]*)"', final))
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    assert labels["org.opencontainers.image.source"] == "https://github.com/georchestra/analytics"


def _build_stage_version_check() -> str:
    """The shell check that follows the wheel build in the Dockerfile's build stage, continuation lines joined."""
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    (build,) = [line for line in dockerfile.splitlines() if line.startswith("RUN python -m build ")]
    _, _, check = build.partition(" && ")
    assert check.startswith("if "), build
    return check


@pytest.mark.parametrize(
    ("given", "built", "accepted"),
    [("unknown", "0.1.0", True), ("0.1.0", "0.1.0", True), ("0.2.0", "0.1.0", False)],
)
def test_image_build_refuses_a_version_argument_the_wheel_does_not_have(
    given: str, built: str, accepted: bool, tmp_path: Path
) -> None:
    """No container engine here: the build stage's check runs in sh over a folder standing for its /dist."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / f"georchestra_analytics-{built}-py3-none-any.whl").touch()
    script = _build_stage_version_check().replace("/dist", str(dist))
    result = subprocess.run(
        ["sh", "-c", script], env={"VERSION": given, "PATH": os.environ["PATH"]}, capture_output=True, text=True
    )
    assert (result.returncode == 0) is accepted, result.stderr
    if not accepted:
        assert f"VERSION={given} is not pyproject.toml's version: built georchestra_analytics-{built}" in result.stderr


def test_release_workflow_builds_both_platforms_passing_exactly_that_argument() -> None:
    release = load_workflow("release.yml")
    (build,) = steps_using(release, "docker/build-push-action")
    inputs = build["with"]
    assert inputs["build-args"] == f"VERSION={VERSION_OUTPUT}\n"
    assert inputs["tags"] == f"${{{{ env.IMAGE }}}}:{VERSION_OUTPUT}"
    assert release["env"]["IMAGE"] == PROJECT_IMAGE_REPOSITORY
    assert inputs["platforms"] == "linux/amd64,linux/arm64"
    assert inputs["push"] is True
    assert steps_using(release, "docker/setup-qemu-action") and steps_using(release, "docker/setup-buildx-action")
