"""Checks every example in the OpenAPI document against its schema (JSON Schema 2020-12, formats
included), and that the seed's examples of section 5.3 ①–⑩ are all there.

Usage: check_examples.py <openapi.json>
Run by tests/it/contract.rs; prints what it checked and exits non-zero on any mismatch.
"""

import json
import sys

from jsonschema import Draft202012Validator

doc = json.load(open(sys.argv[1], encoding="utf-8"))
components = {"components": doc.get("components", {})}

# Seed 5.3: which operation carries the example of each item (⑩ is the file behind ⑨'s
# result_url, whose example is ⑨'s answer).
SEED = {
    "①": [("register", "request"), ("register", "201")],
    "②": [("login", "request"), ("login", "200")],
    "③": [("forgot_password", "request"), ("forgot_password", "200")],
    "④": [("reset_password", "request"), ("reset_password", "200")],
    "⑤": [("change_password", "request"), ("change_password", "200")],
    "⑥": [("change_email", "request"), ("change_email", "200")],
    "⑦": [("submit", "request"), ("submit", "200")],
    "⑧": [("upload", "200")],
    "⑨": [("get_task", "200")],
    "⑩": [("get_task", "200")],
}


def check(where, schema, value):
    validator = Draft202012Validator(
        {**components, **schema}, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    for error in errors:
        print(f"FAIL {where}: {'/'.join(map(str, error.path))}: {error.message}")
    return not errors


def media_examples(media):
    if "example" in media:
        yield media["example"]
    for example in media.get("examples", {}).values():
        if "value" in example:
            yield example["value"]


ok = True
checked = 0
found = set()
for path, item in doc["paths"].items():
    for method, op in item.items():
        if not isinstance(op, dict) or "responses" not in op:
            continue
        op_id = op.get("operationId", f"{method} {path}")
        places = [("request", op.get("requestBody", {}).get("content", {}))]
        places += [(status, r.get("content", {})) for status, r in op["responses"].items()]
        for place, content in places:
            for media_type, media in content.items():
                for value in media_examples(media):
                    found.add((op_id, place))
                    ok &= check(f"{op_id} {place} {media_type}", media["schema"], value)
                    checked += 1
for name, schema in doc.get("components", {}).get("schemas", {}).items():
    values = list(schema.get("examples", [])) + ([schema["example"]] if "example" in schema else [])
    for value in values:
        ok &= check(f"schema {name}", {"$ref": f"#/components/schemas/{name}"}, value)
        checked += 1

for item, places in SEED.items():
    for place in places:
        if place not in found:
            print(f"FAIL seed 5.3 {item}: no example at {place[0]} {place[1]}")
            ok = False

print(f"{checked} examples checked, seed 5.3 ①–⑩ present: {ok}")
sys.exit(0 if ok else 1)
