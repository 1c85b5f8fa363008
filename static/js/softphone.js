// The softphone page: fetch a voice token, register a Twilio.Device, answer and place calls,
// refresh the token before it expires, heartbeat presence while registered, unregister on unload.
(function () {
  "use strict";
  var root = document.getElementById("softphone");
  if (!root) return;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var urls = { token: root.dataset.tokenUrl, heartbeat: root.dataset.heartbeatUrl, unregister: root.dataset.unregisterUrl };
  var heartbeatMs = (parseInt(root.dataset.heartbeatSeconds, 10) || 30) * 1000;
  var REGISTER_TIMEOUT_MS = 20000;
  var el = function (id) { return document.getElementById(id); };
  var statusEl = el("softphone-status"), detailEl = el("softphone-detail"), callStateEl = el("call-state");
  var device = null, activeCall = null, pendingCall = null, beatTimer = null, registerTimer = null, online = false;

  var BADGES = { starting: "", registering: "badge-warn", ready: "badge-ok", busy: "badge-brand", error: "badge-err", offline: "badge-warn" };
  function setStatus(state, text, detail) {
    statusEl.dataset.state = state;
    statusEl.className = "badge softphone-status " + (BADGES[state] || "");
    statusEl.textContent = text;
    if (detail !== undefined) detailEl.textContent = detail;
    el("dial").disabled = state !== "ready";
  }

  function post(url) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
    });
  }

  function fetchToken() {
    return post(urls.token).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (!resp.ok || !body.token) {
          var message = body.error ? body.error.message : "Your session may have ended; reload the page and sign in.";
          throw new Error(message);
        }
        return body;
      });
    });
  }

  function showPhones(phones) {
    var list = el("softphone-phones");
    list.textContent = "";
    if (!phones.length) {
      var empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = "No numbers are assigned to you yet. An admin can assign you under Phone numbers.";
      list.appendChild(empty);
    }
    phones.forEach(function (p) {
      var li = document.createElement("li"), num = document.createElement("span"), mode = document.createElement("span");
      num.className = "mono"; num.textContent = p.phoneNumber;
      mode.className = "badge badge-brand"; mode.textContent = p.mode;
      li.appendChild(num); li.appendChild(document.createTextNode(" ")); li.appendChild(mode);
      list.appendChild(li);
    });
  }

  function beat() {
    post(urls.heartbeat).catch(function () { /* the next beat retries */ });
  }
  function goOnline() {
    online = true;
    clearTimeout(registerTimer);
    beat();
    clearInterval(beatTimer);
    beatTimer = setInterval(beat, heartbeatMs);
  }
  function goOffline() {
    clearInterval(beatTimer);
    beatTimer = null;
    if (online) post(urls.unregister).catch(function () {});
    online = false;
  }

  function unreachable(reason) {
    goOffline();
    setStatus("error", "Could not reach Twilio",
      "The softphone could not register with Twilio (" + reason + "). Check your network; it keeps retrying.");
  }

  function trackCall(call, label) {
    activeCall = call;
    el("hangup").disabled = false;
    setStatus("busy", "On a call");
    callStateEl.textContent = label;
    var done = function (text) {
      return function () {
        activeCall = null;
        el("hangup").disabled = true;
        callStateEl.textContent = text;
        setStatus(device && device.state === "registered" ? "ready" : "offline", device && device.state === "registered" ? "Ready" : "Offline");
      };
    };
    call.on("accept", function () { callStateEl.textContent = label + " — connected"; });
    call.on("disconnect", done("Call ended."));
    call.on("cancel", done("The caller hung up."));
    call.on("reject", done("Call declined."));
    call.on("error", function (err) { callStateEl.textContent = "Call error: " + (err && err.message || err); });
  }

  function onIncoming(call) {
    pendingCall = call;
    el("incoming-from").textContent = (call.parameters && call.parameters.From) || "unknown";
    el("incoming").hidden = false;
    var clear = function () { el("incoming").hidden = true; pendingCall = null; };
    call.on("cancel", clear);
    call.on("disconnect", clear);
  }

  function startDevice(data) {
    if (!window.Twilio || !window.Twilio.Device) {
      setStatus("error", "Softphone unavailable", "The Twilio Voice SDK did not load.");
      return;
    }
    try {
      device = new window.Twilio.Device(data.token, { logLevel: "silent", closeProtection: true, tokenRefreshMs: 60000 });
    } catch (err) {
      setStatus("error", "Softphone unavailable", "This browser cannot run the softphone: " + (err && err.message || err));
      return;
    }
    device.on("registering", function () { setStatus("registering", "Registering…"); });
    device.on("registered", function () { setStatus("ready", "Ready", "Registered with Twilio; calls to your numbers ring here."); goOnline(); });
    device.on("unregistered", function () { goOffline(); setStatus("offline", "Offline"); });
    device.on("error", function (err) { if (!online) unreachable(err && (err.message || err.code) || "unknown error"); });
    device.on("incoming", onIncoming);
    device.on("tokenWillExpire", function () {
      fetchToken().then(function (fresh) { device.updateToken(fresh.token); }).catch(function (err) {
        detailEl.textContent = "Could not refresh the voice token: " + err.message;
      });
    });
    registerTimer = setTimeout(function () { if (!online) unreachable("no answer in time"); }, REGISTER_TIMEOUT_MS);
    var registering = device.register();
    if (registering && registering.catch) {
      registering.catch(function (err) { if (!online) unreachable(err && (err.message || err.code) || "unknown error"); });
    }
  }

  el("answer").addEventListener("click", function () {
    if (!pendingCall) return;
    var call = pendingCall;
    el("incoming").hidden = true;
    pendingCall = null;
    call.accept();
    trackCall(call, "Call from " + ((call.parameters && call.parameters.From) || "unknown"));
  });
  el("reject").addEventListener("click", function () {
    if (pendingCall) pendingCall.reject();
    el("incoming").hidden = true;
    pendingCall = null;
  });
  el("dial-form").addEventListener("submit", function (evt) {
    evt.preventDefault();
    var to = el("dial-to").value.trim();
    if (!device || !to) return;
    var params = { To: to }, from = el("dial-from");
    if (from && from.value) params.CallerId = from.value;
    callStateEl.textContent = "Calling " + to + "…";
    device.connect({ params: params }).then(function (call) { trackCall(call, "Call to " + to); })
      .catch(function (err) { callStateEl.textContent = "Could not call: " + (err && err.message || err); });
  });
  el("hangup").addEventListener("click", function () { if (activeCall) activeCall.disconnect(); });

  window.addEventListener("pagehide", function () {
    clearInterval(beatTimer);
    if (online && navigator.sendBeacon) {
      var form = new FormData();
      form.append("csrf_token", csrf);
      navigator.sendBeacon(urls.unregister, form);
      online = false;
    }
    if (device) { try { device.destroy(); } catch (err) { /* the page is going away */ } }
  });

  setStatus("registering", "Registering…", "Fetching a voice token…");
  fetchToken().then(function (data) {
    showPhones(data.phones || []);
    el("softphone-identity").textContent = data.identity;
    detailEl.textContent = "Connecting to Twilio…";
    window.phonetreeSoftphone = { identity: data.identity, expiresAt: data.expires_at };
    startDevice(data);
  }).catch(function (err) {
    setStatus("error", "No voice token", err.message);
  });
})();
