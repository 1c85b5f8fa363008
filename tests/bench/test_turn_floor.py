"""bench/turn_floor.py replays the parts of real turns faithfully (its figures are the bench's, not the tests')."""

from __future__ import annotations

import sqlite3

from bench import turn_floor


def test_the_parts_replayed_are_those_of_a_real_call(tmp_path):
    path = tmp_path / "floor.db"
    app = turn_floor.in_process_app(f"sqlite:///{path}")
    got = turn_floor.capture(app, calls=1)
    # the bench flow's five turns: the request, the engine's inputs and the write of each
    assert len(got.requests) == len(got.engine) == len(got.persists) == 5
    with app.app_context():
        check = turn_floor.signature_check(app, got)
        for i in range(5):
            check(i)  # raises unless the provider accepts the captured signature
        engine = turn_floor.engine_turn(got)
        for i, (_values, turn_row, _rows, _json) in enumerate(got.persists):
            assert engine(i).twiml == turn_row["twiml"]  # the replayed turn answers what the call heard
    form = turn_floor.form_parse(got)(1)
    assert form["Digits"] == got.requests[1][1]["Digits"]

    def counts() -> tuple[int, int, int]:
        with sqlite3.connect(path) as conn:
            return tuple(
                conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("call_step", "call_turn", "call_session")
            )

    steps, turns, sessions = counts()
    work, close = turn_floor.sqlite_turn(app, str(path), got, 3)
    try:
        for i in range(3):
            work(i)
    finally:
        close()
    per_turn = [len(rows) for _values, _turn, rows, _json in got.persists[:3]]
    assert counts() == (steps + sum(per_turn), turns + 3, sessions)
