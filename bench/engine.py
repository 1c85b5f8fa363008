"""Benchmark of the flow engine: interpreter turns/second, validation time by flow size, and the
import time of Twilio Studio flows (the largest real export in ../shared/studio-flows/ and a
generated 1,000-widget flow; goal < 200 ms).

Run: ``.venv/bin/python bench/engine.py`` (add ``--quick`` for fewer repetitions).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twilio.twiml.voice_response import VoiceResponse  # noqa: E402

from flows import (  # noqa: E402
    Event,
    FakeServices,
    FlowDefinition,
    TurnContext,
    has_errors,
    load_definition,
    run_turn,
    validate,
)
from flows.studio import import_studio  # noqa: E402
from flows.templating import clear_analysis_cache  # noqa: E402

STUDIO_EXPORTS = Path(__file__).resolve().parents[2] / "shared" / "studio-flows"
IMPORT_GOAL_MS = 200


def generate_flow(size: int, seed: int = 7) -> dict[str, Any]:
    """A valid flow of `size` nodes shaped like real IVRs: menus, prompts, branches,
    variables, inputs and HTTP lookups, each wired forward, with some menus looping back."""
    rng = random.Random(seed)
    ids = [f"n{i}" for i in range(size)]
    leaves = max(3, size // 20)
    nodes: list[dict[str, Any]] = []

    def ahead(i: int) -> str:
        return ids[min(size - 1, i + rng.randint(1, 6))]

    for i, node_id in enumerate(ids):
        if i >= size - leaves:
            nodes.append({"id": node_id, "type": "hangup", "props": {"say": f"Goodbye from {i}"}, "outcomes": {}})
            continue
        kind = ("menu", "say", "branch", "set_variables", "collect_input", "http_request", "say")[i % 7]
        if kind == "menu":
            digits = [str(d) for d in range(1, rng.randint(2, 4) + 1)]
            outcomes = {d: ahead(i) for d in digits}
            back = ids[rng.randint(0, i)] if i > 10 and rng.random() < 0.2 else ahead(i)
            outcomes["fallback"] = back if ids.index(back) < i and nodes[ids.index(back)]["type"] == "menu" \
                else ahead(i)
            props = {"prompt": {"say": f"Menu {i}: press " + ", ".join(digits)},
                     "options": [{"digit": d, "label": f"Option {d}"} for d in digits]}
            nodes.append({"id": node_id, "type": "menu", "props": props, "outcomes": outcomes})
        elif kind == "say":
            text = f"Step {i}, hello {{{{ call.from }}}}" if i % 3 == 0 else f"Plain step {i}"
            nodes.append({"id": node_id, "type": "say", "props": {"prompt": {"say": text}},
                          "outcomes": {"next": ahead(i)}})
        elif kind == "branch":
            props = {"input": "{{ vars.choice }}",
                     "conditions": [{"id": "a", "operator": "equal_to", "value": "1"},
                                    {"id": "b", "operator": "greater_than", "value": "5"}]}
            nodes.append({"id": node_id, "type": "branch", "props": props,
                          "outcomes": {"a": ahead(i), "b": ahead(i), "no_match": ahead(i)}})
        elif kind == "set_variables":
            props = {"assignments": [{"name": "choice", "value": f"{{{{ {i} % 7 }}}}"},
                                     {"name": f"v{i}", "value": "{{ call.to }}"}]}
            nodes.append({"id": node_id, "type": "set_variables", "props": props, "outcomes": {"next": ahead(i)}})
        elif kind == "collect_input":
            props = {"prompt": {"say": f"Enter code {i}"}, "variable": "code", "num_digits": 4}
            nodes.append({"id": node_id, "type": "collect_input", "props": props,
                          "outcomes": {"success": ahead(i), "invalid": ahead(i), "no_input": ahead(i)}})
        else:
            props = {"url": f"https://api.example.com/items/{i}?code={{{{ vars.code }}}}", "timeout": 2,
                     "variables": {f"r{i}": "result.id"}}
            nodes.append({"id": node_id, "type": "http_request", "props": props,
                          "outcomes": {"success": ahead(i), "failed": ahead(i)}})
    # the start sets the variables every later template reads
    nodes.insert(0, {"id": "start", "type": "set_variables",
                     "props": {"assignments": [{"name": "choice", "value": "0"}, {"name": "code", "value": ""}]},
                     "outcomes": {"next": ids[0]}})
    return {"spec": "phonetree/1", "start": "start", "settings": {"max_node_visits": 1000},
            "nodes": nodes, "ui": {}}


def generate_studio_flow(size: int, seed: int = 7) -> dict[str, Any]:
    """A Studio Flow Definition of `size` widgets shaped like real exports: Gather + Split menus,
    say-plays with Liquid tags and filters, set-variables, HTTP requests and splits, wired forward."""
    rng = random.Random(seed)
    names = [f"w{i}" for i in range(size)]
    states: list[dict[str, Any]] = [
        {"name": "Trigger", "type": "trigger", "properties": {"offset": {"x": 0, "y": 0}},
         "transitions": [{"event": "incomingCall", "next": names[0]}]},
    ]

    def ahead(i: int) -> str:
        return names[min(size - 1, i + rng.randint(1, 5))]

    def widget(i: int, wtype: str, props: dict[str, Any], transitions: list[dict[str, Any]]) -> dict[str, Any]:
        offset = {"x": (i % 10) * 300, "y": (i // 10) * 200}
        return {"name": names[i], "type": wtype, "properties": {**props, "offset": offset}, "transitions": transitions}

    counter = "{%- if flow.variables.count -%}{{flow.variables.count | plus: 1}}{%- else -%}0{%- endif -%}"
    i = 0
    while i < size:
        kind = i % 5
        if i >= size - 3:
            states.append(widget(i, "say-play", {"say": f"Goodbye {{{{trigger.call.From}}}} {i}"},
                                 [{"event": "audioComplete"}]))
        elif kind == 0 and i + 1 < size - 3:
            digits = f"{{{{widgets.{names[i]}.Digits}}}}"
            matches = [{"event": "match", "next": ahead(i + 1), "conditions": [
                {"friendly_name": d, "arguments": [digits], "type": "equal_to", "value": d}]} for d in ("1", "2")]
            states.append(widget(i, "gather-input-on-call", {"say": f"Menu {i}: press 1 or 2", "number_of_digits": 1},
                                 [{"event": "keypress", "next": names[i + 1]}, {"event": "speech"},
                                  {"event": "timeout", "next": ahead(i + 1)}]))
            states.append(widget(i + 1, "split-based-on", {"input": digits},
                                 [{"event": "noMatch", "next": ahead(i + 1)}, *matches]))
            i += 1
        elif kind == 1:
            variables = [{"key": "count", "value": counter},
                         {"key": f"v{i}", "value": "{{trigger.call.From | remove: '+'}}"}]
            states.append(widget(i, "set-variables", {"variables": variables}, [{"event": "next", "next": ahead(i)}]))
        elif kind == 2:
            url = f"https://api.example.com/items/{i}?from={{{{trigger.call.From | url_encode}}}}"
            states.append(widget(i, "make-http-request", {"method": "GET", "url": url,
                                                          "content_type": "application/json;charset=utf-8"},
                                 [{"event": "success", "next": ahead(i)}, {"event": "failed", "next": ahead(i)}]))
        elif kind == 3:
            say = (f"Step {i}. {{% if flow.variables.count == '3' %}}Third{{% else %}}Again{{% endif %}}, "
                   "it is {{ 'now' | date: '%H:%M' }}")
            states.append(widget(i, "say-play", {"say": say, "voice": "Polly.Joanna", "language": "en-US"},
                                 [{"event": "audioComplete", "next": ahead(i)}]))
        else:
            condition = {"friendly_name": "big", "arguments": ["{{flow.variables.count}}"],
                         "type": "greater_than", "value": "5"}
            states.append(widget(i, "split-based-on", {"input": "{{flow.variables.count}}"},
                                 [{"event": "noMatch", "next": ahead(i)},
                                  {"event": "match", "next": ahead(i), "conditions": [condition]}]))
        i += 1
    return {"description": f"Generated {size}-widget flow", "initial_state": "Trigger",
            "flags": {"allow_concurrent_calls": True}, "states": states}


def largest_studio_export() -> tuple[str, dict[str, Any]] | None:
    """The real export with the most widgets (its file name and document), if the folder is there."""
    best: tuple[int, str, dict[str, Any]] | None = None
    for path in sorted(STUDIO_EXPORTS.glob("*.json")):
        data = json.loads(path.read_text())
        count = len(data.get("definition", data).get("states") or [])
        if best is None or count > best[0]:
            best = (count, path.name, data)
    return (best[1], best[2]) if best else None


def time_import(data: dict[str, Any], repeat: int) -> tuple[float, float, float, int]:
    """(cold median, warm median, validate median) in seconds, and the node count, of importing
    `data`: cold with the template caches emptied (a flow never seen), warm as a re-import."""
    text = json.dumps(data)
    cold, warm, checks = [], [], []
    nodes = 0
    for _ in range(repeat):
        clear_analysis_cache()
        started = time.perf_counter()
        definition, _ = import_studio(json.loads(text))
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        validate(definition)
        checks.append(time.perf_counter() - started)
        started = time.perf_counter()
        import_studio(json.loads(text))
        warm.append(time.perf_counter() - started)
        nodes = len(definition["nodes"])
    return statistics.median(cold), statistics.median(warm), statistics.median(checks), nodes


def url_for(service_id: str, **params: Any) -> str:
    """A webhook URL like the runtime's."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"https://ivr.example.com/connect/webhook/twilio/{service_id}?orgid=acme&session=1&{query}"


CTX = TurnContext(call={"CallSid": "CA1", "From": "+14155550123", "To": "+14155550999"},
                  now=datetime(2025, 3, 4, 15, 30, tzinfo=UTC), url_for=url_for,
                  services=FakeServices(http={}))


def drive_turns(definition: FlowDefinition | dict[str, Any], turns: int) -> int:
    """Run `turns` turns of calls through the flow (answering menus and inputs); returns turns run."""
    rng = random.Random(1)
    state: dict[str, Any] | None = None
    done = True
    for _ in range(turns):
        if done:
            result = run_turn(definition, None, Event("start"), CTX)
        else:
            waiting = state["waiting"]["node"] if state and state.get("waiting") else ""
            digits = str(rng.randint(1, 3)) if waiting else ""
            result = run_turn(definition, state, Event("input", {"Digits": digits or "1234"}), CTX)
        state, done = result.state, result.done
    return turns


def best_of(func: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(median, best) wall time in seconds of `func` over `repeat` runs."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def main(quick: bool = False) -> None:
    """Print the benchmark table."""
    repeat = 3 if quick else 7
    flow200 = generate_flow(200)
    assert not has_errors(validate(flow200)), [i for i in validate(flow200) if i.severity == "error"][:3]
    loaded = load_definition(flow200)  # the runtime keeps one per published revision
    turns = 300 if quick else 2000
    drive_turns(loaded, 50)  # warm the template caches
    median, best = best_of(lambda: drive_turns(loaded, turns), repeat)
    per_turn = median / turns
    dict_turns = turns // 4
    d_median, d_best = best_of(lambda: drive_turns(flow200, dict_turns), repeat)

    def constant() -> str:
        response = VoiceResponse()
        response.say("Thank you for calling.", voice="Polly.Joanna", language="en-US")
        return str(response)

    n_const = 2000
    c_median, _ = best_of(lambda: [constant() for _ in range(n_const)], repeat)
    per_const = c_median / n_const

    print("Phonetree flow engine benchmark")
    print(f"{'measure':<44}{'median':>12}{'best':>12}")
    print(f"{'interpreter, 200-node flow (turns/s)':<44}{1 / per_turn:>12,.0f}{turns / best:>12,.0f}")
    print(f"{'  one turn (ms)':<44}{per_turn * 1e3:>12.3f}{best / turns * 1e3:>12.3f}")
    print(f"{'  turns/s when given the JSON dict':<44}{dict_turns / d_median:>12,.0f}{dict_turns / d_best:>12,.0f}")
    print(f"{'  constant TwiML, one <Say> (ms)':<44}{per_const * 1e3:>12.3f}")
    print(f"{'  turn / constant TwiML ratio':<44}{per_turn / per_const:>12.1f}")
    print()
    print(f"{'validation':<20}{'cold ms':>10}{'warm ms':>10}{'best ms':>10}{'ms/1k nodes':>13}{'issues':>8}")
    for size in (100, 1000, 5000):
        definition = generate_flow(size)
        clear_analysis_cache()
        started = time.perf_counter()
        issues = validate(definition)
        cold = time.perf_counter() - started
        median, best = best_of(lambda d=definition: validate(d), repeat)
        print(f"{size:>6} nodes{'':<8}{cold * 1e3:>10.2f}{median * 1e3:>10.2f}{best * 1e3:>10.2f}"
              f"{median * 1e6 / size:>13.2f}{len(issues):>8}")
    print()
    print(f"{'Studio import (goal < ' + str(IMPORT_GOAL_MS) + ' ms)':<44}{'cold ms':>10}{'warm ms':>10}"
          f"{'+validate':>11}{'nodes':>7}")
    flows = [(f"generated, {1000} widgets", generate_studio_flow(1000))]
    real = largest_studio_export()
    if real is not None:
        name, data = real
        widgets = len(data.get("definition", data)["states"])
        flows.insert(0, (f"largest real export, {widgets} widgets ({name[:2]})", data))
    for label, data in flows:
        cold, warm, check, nodes = time_import(data, repeat)
        verdict = "ok" if cold * 1e3 < IMPORT_GOAL_MS else "SLOW"
        print(f"{label:<44}{cold * 1e3:>10.2f}{warm * 1e3:>10.2f}{check * 1e3:>11.2f}{nodes:>7}  {verdict}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
