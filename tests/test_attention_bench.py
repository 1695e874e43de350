"""attnlab.attention.bench: rows, FLOP accounting, JSON output of the CLI."""

from __future__ import annotations

import json

import torch

from attnlab.attention import bench


def test_run_bench_rows_have_the_documented_fields():
    rows = bench.run_bench(["se", "ca"], ["yolo_feat2"], batch=1, repeats=2, warmup=0)
    assert [r["module"] for r in rows] == ["se", "ca"]
    for r in rows:
        assert r["params"] == r["params_reference"]
        assert r["flops"] == r["flops_matmul"] + r["flops_elementwise"] > 0
        assert r["fwd_ratio"] > 0 and r["train_ratio"] > 0
        assert isinstance(r["not_slower"], bool)
        assert r["not_slower"] == (r["fwd_ratio"] <= 1.0 and r["train_ratio"] <= 1.0)
    se = rows[0]
    # SE at 512x13x13: two matmuls of 512x32 (2 FLOPs per MAC), batch 1
    assert se["flops_matmul"] == 2 * (2 * 512 * 32)
    n = 512 * 13 * 13
    assert se["flops_elementwise"] == n + 32 + 4 * 512 + n


def test_references_match_the_package_blocks():
    torch.manual_seed(0)
    for name in bench.MODULES:
        ours = bench.PACKAGE[name](64).eval()
        ref = bench.REFERENCE[name](64).eval()
        ref.load_state_dict(ours.state_dict())
        x = torch.randn(2, 64, 9, 9)
        with torch.no_grad():
            torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-6)


def test_main_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "attention.json"
    rc = bench.main(
        ["--modules", "eca", "simam", "--slots", "yolo_upsample", "--batch", "1", "--repeats", "2",
         "--warmup", "0", "--device", "cpu", "--out", str(out)]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "fwd_ratio" in text and "not slower" in text
    data = json.loads(out.read_text())
    assert data["benchmark"] == "attention"
    assert {r["module"] for r in data["rows"]} == {"eca", "simam"}
    assert data["summary"]["rows"] == 2
    assert set(data["summary"]) >= {"not_slower", "all_not_slower", "worst", "geomean_fwd_ratio"}
    assert "cpu" in data["environment"] and "torch" in data["environment"]["cpu"]
    assert all("not_slower" in r for r in data["rows"])


def test_cli_dispatch_help(capsys):
    from attnlab.__main__ import main

    try:
        main(["bench", "attention", "--help"])
    except SystemExit as e:
        assert e.code == 0
    assert "--modules" in capsys.readouterr().out
