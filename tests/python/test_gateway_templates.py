"""The Docker and Compose templates of ``apps/gateway-server`` stay honest without a
Docker engine: every Compose file parses, builds the Dockerfile that exists with the
arguments it declares, mounts a TOML whose template passes ``sipp-gateway check`` at
the container path the image serves, publishes the ports that TOML binds, and probes
readiness on its management port; secrets come only from ``.env``."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT

APP = ROOT / "apps" / "gateway-server"
COMPOSE = sorted(APP.glob("*.yml.example"))
DOCKERFILE = (APP / "Dockerfile").read_text()


def services(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    out: dict[str, Any] = doc["services"]
    return out


def template_of(mount_source: str, compose: Path) -> Path:
    """The template a mounted TOML is copied from (production copies live outside the repo)."""
    candidate = APP / "config" / f"{Path(mount_source).name}.example"
    if candidate.is_file():
        return candidate
    pytest.fail(f"{compose.name}: mounts {mount_source}, which no config/*.toml.example provides")


def test_the_spec_names_every_template() -> None:
    assert [p.name for p in COMPOSE] == [
        "development-provider-only.yml.example",
        "development.yml.example",
        "production-provider-only.yml.example",
        "production.yml.example",
        "replicas.yml.example",
    ]


def test_dockerfile_builds_the_server_package_and_runs_serve() -> None:
    args = set(re.findall(r"^ARG (\w+)", DOCKERFILE, re.M))
    assert {"SIPP_GATEWAY_BACKEND", "SIPP_GATEWAY_BUILDER_IMAGE", "SIPP_GATEWAY_RUNTIME_IMAGE", "SIPP_GATEWAY_INSTALL_RUSTUP"} <= args
    assert "-p sipp-gateway-server" in DOCKERFILE and "--locked" in DOCKERFILE
    assert 'CMD ["serve", "--config", "/etc/sipp/gateway.toml"]' in DOCKERFILE
    manifest = tomllib.loads((APP / "Cargo.toml").read_text())
    assert {"cuda", "vulkan"} <= set(manifest["features"]), "the backends the Dockerfile passes as features"
    assert any(b["name"] == "sipp-gateway" for b in manifest["bin"])
    # What the Dockerfile installs for the build is what the CI machine needs natively.
    doctor = (ROOT / "xtask" / "src" / "doctor.rs").read_text()
    for package in ("cmake", "g++", "libclang-dev"):
        assert package in DOCKERFILE and f'"{package}"' in doctor
    # The staged distribution: the dashboard built from its lockfile, beside the binary
    # (where sipp-gateway looks for admin-ui/), and never the checkout's own build outputs.
    assert "npm ci" in DOCKERFILE and "admin-ui/package-lock.json" in DOCKERFILE
    binary = re.search(r"^COPY --from=build \S+ (\S+)/sipp-gateway$", DOCKERFILE, re.M)
    assert binary and f"COPY --from=admin-ui /ui/dist {binary.group(1)}/admin-ui" in DOCKERFILE
    assert f'ENTRYPOINT ["{binary.group(1)}/sipp-gateway"]' in DOCKERFILE
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"target/", "**/node_modules/", "apps/gateway-server/admin-ui/dist/"} <= set(ignored)


@pytest.mark.parametrize("compose", COMPOSE, ids=lambda p: p.name)
def test_compose_template_is_consistent(compose: Path) -> None:
    gateway = os.environ.get("SIPP_GATEWAY_BIN")
    if not gateway or not Path(gateway).is_file():
        pytest.fail("sipp-gateway binary missing; `cargo xtask test` builds it and sets SIPP_GATEWAY_BIN")
    assert (APP / ".env.example").is_file()
    all_services = services(compose)
    stores = {n: s for n, s in all_services.items() if str(s.get("image", "")).startswith(("redis:", "valkey/"))}
    for name, service in all_services.items():
        if name in stores:
            continue
        assert service["env_file"] == [".env"], f"{name}: secrets come from .env only"
        assert "environment" not in service, f"{name}: no secret or setting outside .env and the TOML"
        build = service.get("build")
        if build:
            assert (compose.parent / build["context"] / build["dockerfile"]).resolve() == (APP / "Dockerfile").resolve()
            assert set(build["args"]) <= set(re.findall(r"^ARG (\w+)", DOCKERFILE, re.M))
        elif compose.name == "replicas.yml.example":
            built = [s["image"] for s in all_services.values() if "build" in s]
            assert service["image"] in built, f"{name}: a replica runs the image another service builds"
        else:
            assert compose.name.startswith("production"), f"{name}: only production runs a prebuilt image"
        mounts = [v.rsplit(":", 2) for v in service["volumes"]]  # source may hold ${VAR:-default}
        config = [m for m in mounts if m[1] == "/etc/sipp/gateway.toml"]
        assert len(config) == 1 and config[0][2] == "ro"
        template = template_of(config[0][0], compose)
        ok = subprocess.run([gateway, "check", "--config", str(template)], capture_output=True, text=True, env={})
        assert ok.returncode == 0, ok.stderr
        toml = tomllib.loads(template.read_text())
        local = [t for t in toml["targets"] if t["type"] == "local"]
        if "provider-only" in compose.name:
            assert not local and all(m[1] != "/models" for m in mounts)
        else:
            assert local and all(t["model"].startswith("/models/") for t in local)
            assert any(m[1] == "/models" for m in mounts)
            # Container binds: the TOML listens on every container address.
            assert toml["public_bind"].startswith("0.0.0.0:") and toml["management_bind"].startswith("0.0.0.0:")
        public_port = toml["public_bind"].rsplit(":", 1)[1]
        management_port = toml["management_bind"].rsplit(":", 1)[1]
        published = {p.rsplit(":", 1)[1]: p for p in service["ports"]}
        assert set(published) == {public_port, management_port}
        assert published[management_port].startswith("127.0.0.1:"), "management stays on the host's loopback"
        probe = service["healthcheck"]["test"]
        assert probe[-1] == f"http://127.0.0.1:{management_port}/readyz"
        state = toml.get("state")
        if stores:
            # Every replica shares the one store, by its service name, on the Compose network.
            assert state and any(state["redis_url"].startswith(f"redis://{n}:") for n in stores), state
            assert service["depends_on"] == {n: {"condition": "service_healthy"} for n in stores}
        else:
            assert state is None, f"{compose.name}: [state] without a store service"
    for name, store in stores.items():
        assert "ports" not in store, f"{name}: the store stays on the Compose network"
        assert store["healthcheck"]["test"][-1] == "ping"
    if compose.name == "replicas.yml.example":
        assert len(all_services) - len(stores) >= 2 and len(stores) == 1
