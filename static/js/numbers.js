// The routing forms of /numbers: each flow's publication state, the offer to publish a flow that is
// not live, and "IVR needs a flow" checked before the browser asks to confirm a purchase.
(function () {
  "use strict";

  function parts(fields) {
    return {
      mode: fields.querySelector("select[name=mode]"),
      flow: fields.querySelector("select[name=flow_id]"),
      required: fields.querySelector(".flow-required"),
    };
  }

  // Show the hint of the chosen flow when it is not published and the number is in IVR mode.
  function refresh(fields) {
    var p = parts(fields);
    if (!p.mode || !p.flow) return;
    var ivr = p.mode.value === "ivr";
    fields.querySelectorAll("[data-flow-hint]").forEach(function (hint) {
      hint.hidden = !(ivr && hint.getAttribute("data-flow-hint") === p.flow.value);
    });
    if (p.required && (!ivr || p.flow.value)) p.required.hidden = true;
  }

  function fieldsOf(el) {
    return el && el.closest ? el.closest("[data-routing-fields]") : null;
  }

  document.addEventListener("change", function (evt) {
    var fields = fieldsOf(evt.target);
    if (fields) refresh(fields);
  });

  // Before the purchase confirmation: an IVR number without a flow is refused here, not after.
  document.addEventListener("htmx:confirm", function (evt) {
    var button = evt.detail.elt;
    var form = button && button.form;
    if (!form || button.name !== "phone_number") return;
    var fields = form.querySelector("[data-routing-fields]");
    var p = fields ? parts(fields) : null;
    if (p && p.mode && p.flow && p.mode.value === "ivr" && !p.flow.value) {
      evt.preventDefault();
      p.required.hidden = false;
      p.flow.focus();
    }
  });

  // A flow published from a hint: every form's option says so and its other hints go.
  document.body.addEventListener("flow-published", function (evt) {
    var id = String(evt.detail.id);
    document.querySelectorAll("select[name=flow_id] option[value='" + id + "']").forEach(function (option) {
      option.setAttribute("data-published", "1");
      option.textContent = option.textContent.replace(/ · .*$/, " · published r" + evt.detail.revision);
    });
    document.querySelectorAll("[data-flow-hint='" + id + "'].flash-warn").forEach(function (hint) {
      if (!hint.contains(evt.target)) hint.remove(); // the one asked is swapped for the answer
    });
  });

  document.querySelectorAll("[data-routing-fields]").forEach(refresh);
  document.addEventListener("htmx:afterSettle", function (evt) {
    if (evt.target && evt.target.querySelectorAll) evt.target.querySelectorAll("[data-routing-fields]").forEach(refresh);
  });
})();
