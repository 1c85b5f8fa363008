"""The Queue node's TaskRouter workflow target in the designer: its form, parsing and inline errors."""

import json


def _form(ed, acme, node):
    """The node's form, with the node in the flow (its issues come from the whole definition)."""
    definition = json.loads(json.dumps(acme["flow"].draft))
    definition["nodes"].append(node)
    data = {"node": json.dumps(node), "definition": json.dumps(definition)}
    return ed.htmx(f"/flows/{acme['flow'].id}/node-form", data)


FLEX = {"id": "flex", "type": "enqueue", "name": "To Flex", "props": {"target": "workflow"}, "outcomes": {}}


def test_the_queue_form_offers_a_taskrouter_workflow(ed, acme):
    html = _form(ed, acme, FLEX).get_data(as_text=True)
    for name in (
        "f.target",
        "f.queue",
        "f.workflow_sid",
        "f.task_attributes",
        "f.priority",
        "f.task_timeout",
        "f.wait_url",
        "f.wait_url_method",
    ):
        assert f'name="{name}"' in html, name
    assert 'value="workflow"' in html and "TaskRouter workflow SID is required." in html


def test_the_workflow_form_parses_and_says_what_is_wrong(ed, acme):
    form = {
        "node": json.dumps(FLEX),
        "name": "To Flex",
        "f.target": "workflow",
        "f.workflow_sid": "WW0123456789abcdef0123456789abcdef",
        "f.task_attributes": '{"type": "inbound", "name": "{{ call.from }}"}',
        "f.priority": "10",
        "f.task_timeout": "",
        "f.wait_url_method": "POST",
    }
    props = ed.htmx(f"/flows/{acme['flow'].id}/node-parse", form).get_json()["node"]["props"]
    assert props["target"] == "workflow" and props["workflow_sid"] == "WW0123456789abcdef0123456789abcdef"
    assert props["priority"] == 10 and "task_timeout" not in props
    wrong = {**FLEX, "props": {**props, "workflow_sid": "YOUR-WORKFLOW-SID", "task_attributes": "{oops"}}
    html = _form(ed, acme, wrong).get_data(as_text=True)
    assert "is not a TaskRouter workflow SID" in html and "Task attributes are not a JSON object" in html
