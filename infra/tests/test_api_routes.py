"""API Gateway must list every Chalice route, since Chalice matches on the resource path: the
open ones on the public front door, the rest on the marketer API."""

from __future__ import annotations

import ast
from pathlib import Path

from infra_testing import INFRA
from nurture_infra.api import MARKETER_ROUTES, OPEN_ROUTES, PUBLIC_ROUTES, ROUTES
from nurture_infra.functions import ALL_SPECS

REPO_APP = INFRA.parent / "app.py"


def chalice_entry_points(source: Path) -> tuple[dict[str, set[str]], set[str]]:
    """Routes (path → methods) and @app.lambda_function names, read statically from app.py."""
    routes: dict[str, set[str]] = {}
    functions: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)):
                continue
            if target.value.id == "app" and target.attr == "route" and call:
                methods = next(
                    (ast.literal_eval(k.value) for k in call.keywords if k.arg == "methods"),
                    ["GET"],
                )
                routes.setdefault(ast.literal_eval(call.args[0]), set()).update(methods)
            elif target.value.id == "app" and target.attr == "lambda_function":
                functions.add(node.name)
    return routes, functions


def check_app_matches_stack(source: Path) -> None:
    routes, functions = chalice_entry_points(source)
    assert routes == {path: set(methods) for path, methods in ROUTES.items()}
    assert set(ROUTES) >= OPEN_ROUTES  # a public route app.py lost would be listed in vain
    assert not set(MARKETER_ROUTES) & set(PUBLIC_ROUTES)
    assert {**MARKETER_ROUTES, **PUBLIC_ROUTES} == ROUTES
    deployed = {spec.handler.removeprefix("app.") for spec in ALL_SPECS}
    assert "public" in deployed and "api" in deployed
    assert functions <= deployed, f"handlers in app.py not deployed: {functions - deployed}"


def test_repo_app_matches_the_stack() -> None:
    check_app_matches_stack(REPO_APP)
