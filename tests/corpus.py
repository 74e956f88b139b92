"""Load the recorded real-world payloads in the shared corpus (see corpus/README.md), and the
project's own trimmed copies of some of them in tests/fixtures (see its README.md).

Generic on purpose: other platforms' loaders live here too. The corpus is found from the
environment variable `SOCIALDESK_CORPUS`, else at `<repo>/../shared/corpus`. Without it the tests
that replay it are skipped (conftest.py sums them up in one line); when `SOCIALDESK_CORPUS` names
it (as .ci/run does) a missing folder fails them instead. The fakes and the parser tests of
`test_fixture_payloads.py` read tests/fixtures only, so they run on a clone of the repo alone.

VCR cassettes (YAML, and VCR's JSON variant) are read into `Interaction` tuples of
(request, status_code, headers, body_text): `request` is a dict with `method`, `uri`, `body` and
`headers`; `headers` are the response headers with lower-case names and single string values (the
last value when a header was recorded several times); `body_text` is the decoded body (gzip is
sniffed from the magic bytes, never trusted from a header).
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
GZIP_MAGIC = b"\x1f\x8b"
VARIABLE = "SOCIALDESK_CORPUS"
SKIP_REASON = "needs the shared corpus"
WHERE = (f"put the project's shared/ folder beside the repository (../shared/corpus) or set {VARIABLE} "
         "to a copy of shared/corpus")


def corpus_root() -> Path:
    env = os.environ.get(VARIABLE)
    return Path(env) if env else REPO.parent / "shared" / "corpus"


def platform_dir(folder: str) -> Path:
    """The folder of one source (e.g. "halcy__Mastodon.py"). Without the corpus the test is
    skipped, unless SOCIALDESK_CORPUS names it: then the corpus is mandatory and the test fails."""
    path = corpus_root() / folder
    if not path.is_dir():
        if os.environ.get(VARIABLE):
            pytest.fail(f"corpus folder {path} not found ({VARIABLE}={os.environ[VARIABLE]})")
        pytest.skip(f"{SKIP_REASON} ({path} not found)")
    return path


def fixture_dir(platform: str) -> Path:
    """The project's own payloads for one platform (tests/fixtures/<platform>)."""
    return FIXTURES / platform


def fixture_json(platform: str, rel: str) -> Any:
    return json.loads((fixture_dir(platform) / rel).read_text("utf-8"))


def naughty_strings() -> list[str]:
    """A selection of the big list of naughty strings (control characters, right-to-left marks,
    markup, zalgo), for names and texts the fakes make up."""
    return fixture_json("text", "blns.json")


class Interaction(NamedTuple):
    request: dict[str, Any]
    status_code: int
    headers: dict[str, str]
    body_text: str
    source: str  # "<file>#<index>", for test ids and failure messages

    def json(self) -> Any:
        return json.loads(self.body_text)


def decode_body(body: Any) -> str:
    """A recorded body (str, bytes from `!!binary`, None, or VCR's {"string": ...}) as text."""
    if isinstance(body, dict):
        body = body.get("string", body.get("base64_string"))
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    if isinstance(body, (bytes, bytearray)):
        raw = bytes(body)
        if raw[:2] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
        return raw.decode("utf-8", errors="replace")
    return str(body)


def _flat_headers(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if isinstance(value, list):
            value = value[-1] if value else ""
        out[str(name).lower()] = str(value)
    return out


def _yaml_load(path: Path) -> Any:
    import yaml  # test-only dependency (pyyaml)

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as fh:
        return yaml.load(fh, Loader=loader)


@functools.cache
def _load_cassette_cached(path: str) -> tuple[Interaction, ...]:
    p = Path(path)
    data = json.loads(p.read_text("utf-8")) if p.suffix == ".json" else _yaml_load(p)
    out = []
    for i, inter in enumerate((data or {}).get("interactions", [])):
        req = inter.get("request") or {}
        resp = inter.get("response") or {}
        status = resp.get("status") or {}
        code = status.get("code") if isinstance(status, dict) else status
        request = {
            "method": req.get("method", "GET"),
            "uri": req.get("uri", ""),
            "body": decode_body(req.get("body")),
            "headers": _flat_headers(req.get("headers")),
        }
        out.append(
            Interaction(
                request,
                int(code or 0),
                _flat_headers(resp.get("headers")),
                decode_body(resp.get("body")),
                f"{p.name}#{i}",
            )
        )
    return tuple(out)


def load_cassette(path: Path | str) -> list[Interaction]:
    """All interactions of one VCR cassette (.yaml/.yml or .json)."""
    return list(_load_cassette_cached(str(Path(path).resolve())))


def cassettes(folder: str, pattern: str = "**/*.yaml") -> list[Path]:
    return sorted(platform_dir(folder).glob(pattern))


def interactions(folder: str, pattern: str = "**/*.yaml") -> Iterator[Interaction]:
    for path in cassettes(folder, pattern):
        rel = path.relative_to(platform_dir(folder))
        for inter in load_cassette(path):
            yield inter._replace(source=f"{rel}#{inter.source.split('#')[1]}")


def json_bodies(folder: str, pattern: str = "**/*.yaml") -> Iterator[tuple[Interaction, Any]]:
    """(interaction, parsed JSON body) for every interaction whose body is JSON."""
    for inter in interactions(folder, pattern):
        text = inter.body_text.strip()
        if not text or text[0] not in "[{":
            continue
        try:
            yield inter, json.loads(text)
        except ValueError:
            continue


# --- Mastodon -----------------------------------------------------------------------------------

MASTODON = "halcy__Mastodon.py"


def _looks_like_status(obj: Any) -> bool:
    return isinstance(obj, dict) and "account" in obj and ("content" in obj or "text" in obj) and "visibility" in obj


def _looks_like_notification(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("type"), str)
        and "account" in obj
        and "created_at" in obj
        and ("status" in obj or "group_key" in obj)
    )


def walk(obj: Any) -> Iterator[Any]:
    """`obj` and every dict and list nested in it, depth first."""
    yield obj
    if isinstance(obj, dict):
        for v in obj.values():
            yield from walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from walk(v)


def mastodon_objects() -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
    """Every (source, notification) and (source, status) found anywhere in the Mastodon cassettes,
    including nested ones (reblogs, conversations' last_status, contexts), deduplicated by their
    JSON text. SSE streaming bodies are decoded too."""
    notifications: dict[str, tuple[str, dict]] = {}
    statuses: dict[str, tuple[str, dict]] = {}
    for inter in interactions(MASTODON):
        for doc in _bodies(inter.body_text):
            for obj in walk(doc):
                if _looks_like_notification(obj):
                    notifications.setdefault(json.dumps(obj, sort_keys=True), (inter.source, obj))
                elif _looks_like_status(obj):
                    statuses.setdefault(json.dumps(obj, sort_keys=True), (inter.source, obj))
    return list(notifications.values()), list(statuses.values())


def _bodies(text: str) -> Iterator[Any]:
    stripped = text.strip()
    if not stripped:
        return
    if stripped[0] in "[{":
        try:
            yield json.loads(stripped)
        except ValueError:
            pass
        return
    # Server-sent events: "event: name\ndata: <json>\n\n"
    for line in stripped.splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            if data[:1] in "[{":
                try:
                    yield json.loads(data)
                except ValueError:
                    pass
