// Live step states for the incident page: the page itself is complete
// without this script; it only follows the run's event stream and, on
// each step or audit event, reads the plan's step states again and
// updates the table in place.
(function () {
  "use strict";
  var plan = document.getElementById("plan");
  if (!plan || !window.EventSource || !window.fetch) { return; }
  var events = plan.getAttribute("data-events");
  var stepsURL = plan.getAttribute("data-steps");
  if (!events || !stepsURL) { return; }

  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(stepsURL, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(apply)
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }

  function apply(data) {
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

  var es = new EventSource(events);
  es.addEventListener("step", refresh);
  es.addEventListener("audit", refresh);
  es.addEventListener("open", refresh);
})();
