"""Settings → Organisation in a real browser: the searchable time-zone picker, and starter flows in that zone."""

import re

from tests.plugins.browser import login, seed_admin, shot
from tests.plugins.factories import PASSWORD


def test_pick_the_orgs_time_zone_and_new_flows_keep_it(page, live_server):
    from extensions import db
    from models import Flow, Organization

    org, _ = seed_admin("acme", "Acme Corp", "alice@example.com", PASSWORD)
    login(page, live_server, "alice@example.com", PASSWORD)
    page.goto(live_server.url + "/settings/organisation")
    picker = page.locator("#org-timezone")
    assert picker.input_value() == "UTC" and picker.get_attribute("list") == "org-timezone-zones"
    zones = page.locator("#org-timezone-zones option")
    assert zones.count() > 300 and zones.first.get_attribute("value") == "UTC"
    assert page.locator("#org-timezone-zones option[value='Europe/Paris']").count() == 1

    picker.fill("Mars/Olympus")  # a typo is refused, said plainly, and nothing changes
    page.click("#org-form button[type=submit]")
    assert "“Mars/Olympus” is not a time zone: pick one from the list" in page.locator(".flash-error").inner_text()
    db.session.expire_all()
    assert db.session.get(Organization, org.id).timezone == "UTC"

    picker = page.locator("#org-timezone")
    picker.fill("Pari")
    shot(page, "org-timezone-picker")
    picker.fill("Europe/Paris")
    page.click("#org-form button[type=submit]")
    assert "Acme Corp keeps time in Europe/Paris" in page.locator(".flash").inner_text()
    db.session.expire_all()
    assert db.session.get(Organization, org.id).timezone == "Europe/Paris"

    page.goto(live_server.url + "/flows")
    page.click("text=New flow")
    page.fill("#new-flow-dialog input[name=name]", "Paris line")
    page.check("#new-flow-dialog input[value=main_menu]")
    page.click("#new-flow-dialog button[type=submit]")
    page.wait_for_url(re.compile(r".*/flows/\d+$"))
    db.session.expire_all()
    flow = db.session.scalar(db.select(Flow).where(Flow.name == "Paris line"))
    hours = next(n for n in flow.draft["nodes"] if n["type"] == "business_hours")
    assert hours["props"]["timezone"] == "Europe/Paris" and flow.draft["settings"]["timezone"] == "Europe/Paris"
    page.locator(".node-card[data-id='hours']").click()
    field = page.locator("#node-form input[list=tz-list]")
    assert field.input_value() == "Europe/Paris"
    assert page.locator("#tz-list option[value='UTC']").count() == 1  # the designer's picker offers UTC too
    assert not page.js_errors
