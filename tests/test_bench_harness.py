"""The pure parts of `make bench`: numbers, parsing and the table. No timing assertions:
speed is shown by the bench itself, never asserted in tests."""

import json
import math
import random

import pytest

from bench import report
from bench.load import parse_wrk
from bench.profile import summarize_collapsed
from bench.report import Row, format_table, write_results
from bench.rows import _interleaved
from bench.runner import bench_database_url, parse_args
from bench.stats import percentile, summarize

# wrk pads the seconds unit with a space that ends the line.
TRAILING_SPACE = " "
WRK_OUTPUT = f"""\
Running 5s test @ http://127.0.0.1:53331/api/public/calendars/bench-slots/slots/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   117.59ms  215.83ms   1.69s    95.77%
    Req/Sec   107.39     66.22   262.00     66.33%
  Latency Distribution
     50%   71.87ms
     75%  103.56ms
     90%  188.90ms
     99%    1.38s{TRAILING_SPACE}
  1057 requests in 5.01s, 1.63MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:    211.08
Transfer/sec:    333.10KB
"""


def test_it_interpolates_percentiles_between_ranks():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([4, 1, 3, 2], 0) == 1
    assert percentile([4, 1, 3, 2], 100) == 4
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)


def test_it_gives_nan_for_no_values_and_refuses_bad_ranks():
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_it_summarizes_a_run_into_rate_and_percentiles():
    result = summarize([0.01] * 98 + [0.5, 1.0], 2.0, statuses={201: 99, 500: 1}, errors=1)
    assert result.requests == 100
    assert result.rate == 50
    assert result.p50 == 0.01
    assert result.unexpected(201) == 2


def test_it_reads_wrk_latency_report_with_errors_and_trailing_spaces():
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests == 1057
    assert result.duration == pytest.approx(5.01)
    assert result.p50 == pytest.approx(0.07187)
    assert result.p99 == pytest.approx(1.38)
    assert result.statuses == {200: 1050, 0: 7}
    assert result.errors == 3
    assert result.unexpected(200) == 10


def test_it_refuses_wrk_output_it_does_not_understand():
    with pytest.raises(ValueError):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_it_formats_a_table_with_verdicts_and_placeholders():
    rows = [
        Row(name="ceiling", value=3210.4, unit="req/s", p50_ms=3.5, p99_ms=12.25, fraction=1.0),
        Row(
            name="slots, 1 day",
            value=12.345,
            unit="req/s",
            fraction=1 / 3,
            target=">= 0.33x",
            status=report.FAIL,
            notes="2 queries",
        ),
        report.unavailable("workflow", 5, "workflows app missing", target="< 60 s"),
    ]
    lines = format_table(rows).splitlines()
    assert lines[0].split()[:3] == ["row", "value", "unit"]
    assert "3,210" in lines[2] and "1.00x" in lines[2]
    assert " 12.3 " in lines[3]
    assert "0.33x" in lines[3] and "FAIL" in lines[3] and lines[3].endswith("2 queries")
    assert "n/a" in lines[4] and lines[4].endswith("not available yet: workflows app missing")


def test_it_writes_results_as_json_beside_a_latest_copy(tmp_path):
    path = write_results(
        tmp_path, stamp="20260101T000000Z", meta={"cores": 2}, rows=[Row(name="ceiling", value=1.0)]
    )
    data = json.loads(path.read_text())
    assert data["rows"][0]["name"] == "ceiling"
    assert json.loads((tmp_path / "latest.json").read_text()) == data


def test_it_keeps_only_the_newest_runs(tmp_path):
    for stamp in ("20260101T000000Z-1", "20260102T000000Z-2", "20260103T000000Z-3"):
        write_results(tmp_path, stamp=stamp, meta={}, rows=[])
        (tmp_path / stamp).mkdir()
    report.prune(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "20260102T000000Z-2",
        "20260103T000000Z-3",
        "bench-20260102T000000Z-2.json",
        "bench-20260103T000000Z-3.json",
        "latest.json",
    ]


def test_it_interleaves_calendars_so_each_slot_is_used_once():
    plan = _interleaved({"a": ["1", "2", "3"], "b": ["4"]}, random.Random(1))
    assert [slug for slug, _ in plan[:2]] == ["a", "b"]
    assert sorted(start for _, start in plan) == ["1", "2", "3", "4"]


def test_it_puts_the_bench_database_beside_the_configured_one(monkeypatch):
    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.internal:5433/onceslot?sslmode=off")
    assert bench_database_url() == "postgres://u:p@db.internal:5433/onceslot_bench"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.sqlite3")
    assert bench_database_url() == "postgres://postgres@127.0.0.1:5432/onceslot_bench"


def test_it_refuses_unknown_row_groups(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--only", "slots,nonsense"])
    assert "nonsense" in capsys.readouterr().err


def test_it_ranks_profile_frames_by_self_and_project_time():
    collapsed = (
        "main (x.py:1);view (bookings/api/slots.py:9);query (psycopg/c.py:3) 6\n"
        "main (x.py:1);view (bookings/api/slots.py:9) 2\n"
        "main (x.py:1);write (gunicorn/util.py:3) 2\n"
    )
    ranked = {frame: (inc, own) for frame, inc, own in summarize_collapsed(collapsed)}
    assert ranked["query (psycopg/c.py:3)"] == (0.6, 0.6)
    assert ranked["view (bookings/api/slots.py:9)"] == (0.8, 0.2)
