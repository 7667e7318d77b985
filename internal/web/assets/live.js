// Live updates for the incident page: the page itself is complete
// without this script; it only follows the incident's event stream and
// reads again what an event says moved: on a step or audit event, the
// plan's step states (the table is updated in place); on a tracing
// event, the tracing's line and its failed sources.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch) { return; }
  var plan = document.getElementById("plan");
  var tracing = document.getElementById("tracing");
  var stepsURL = plan && plan.getAttribute("data-steps");
  var tracingURL = tracing && tracing.getAttribute("data-tracing");
  var events = (stepsURL && plan.getAttribute("data-events")) || (tracingURL && tracing.getAttribute("data-events"));
  if (!events) { return; }

  // reader fetches url and applies its JSON, one fetch at a time: events
  // that come while one is out (a replay, many sources at once) make one
  // more fetch, not one each.
  function reader(url, apply) {
    var busy = false, again = false;
    return function read() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(apply)
        .catch(function () {})
        .then(function () { busy = false; if (again) { again = false; read(); } });
    };
  }

  function applySteps(data) {
    var run = document.getElementById("run-state");
    if (run && data.run_state) { run.textContent = data.run_state; }
    var rows = plan.querySelectorAll("tr[data-step]");
    var byID = {};
    (data.steps || []).forEach(function (s) { byID[s.id] = s; });
    Array.prototype.forEach.call(rows, function (row) {
      var s = byID[row.getAttribute("data-step")];
      if (!s) { return; }
      row.setAttribute("data-state", s.state);
      var st = row.querySelector("[data-role=state]");
      if (st) { st.textContent = s.state; st.className = "state state-" + s.state; }
      if (s.approved_by) {
        var cell = row.querySelector("[data-role=approval]");
        if (cell && !cell.querySelector(".approved")) {
          cell.textContent = "";
          var done = document.createElement("span");
          done.className = "approved";
          done.textContent = "approved by " + s.approved_by;
          cell.appendChild(done);
        }
      }
    });
    plan.setAttribute("data-updated", String(Date.now()));
  }

  function applyTracing(data) {
    var line = tracing.querySelector("[data-role=line]");
    if (line && data.line) { line.textContent = data.line; }
    tracing.setAttribute("data-pending", String(data.pending));
    var list = document.getElementById("tracing-failures");
    if (list) {
      list.textContent = "";
      (data.failures || []).forEach(function (f) {
        var li = document.createElement("li");
        var code = document.createElement("code");
        code.textContent = f.source;
        li.appendChild(code);
        li.appendChild(document.createTextNode(": " + f.error));
        list.appendChild(li);
      });
    }
    tracing.setAttribute("data-updated", String(Date.now()));
  }

  var es = new EventSource(events);
  if (stepsURL) {
    var steps = reader(stepsURL, applySteps);
    es.addEventListener("step", steps);
    es.addEventListener("audit", steps);
    es.addEventListener("open", steps);
  }
  if (tracingURL) {
    var trace = reader(tracingURL, applyTracing);
    es.addEventListener("tracing", trace);
    es.addEventListener("open", trace);
  }
})();
