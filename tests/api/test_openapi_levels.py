"""The OpenAPI document says how level keys map to the levels, in their order (`secret` =
秘密 below `confidential` = 机密), and carries no internal seed markers (issue 18)."""

import json
import re


def test_level_keys_are_documented_in_order(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    mapping = "0 = `public` = 公开; 1 = `internal` = 内部; 2 = `secret` = 秘密; " \
              "3 = `confidential` = 机密; 4 = `top_secret` = 绝密"
    assert mapping in spec["components"]["schemas"]["Level"]["description"]
    inputs = [p for p in json.dumps(spec, ensure_ascii=False).split('"description": "')
              if p.startswith("密级 classification: its rank, key or Chinese name.")]
    assert inputs and all(mapping in p for p in inputs)


def test_no_seed_markers_in_the_descriptions(client):
    text = json.dumps(client.get("/api/v1/openapi.json").get_json(), ensure_ascii=False)
    assert re.findall(r"\b00\d:\d+", text) == []
