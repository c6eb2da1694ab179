// The console's behaviour: live updates of work lists, the shift's alert sound, keyboard
// shortcuts and small conveniences. No inline scripts (the pages' CSP forbids them).
(function () {
  "use strict";

  var POLL_MS = 10000;
  var body = document.body;
  var note = document.getElementById("live-note");
  var audio = null;
  var blinkTimer = null;
  var originalTitle = document.title;

  function say(text) {
    if (!note) return;
    note.textContent = text;
    note.hidden = false;
  }

  // --- the shift: browsers play sound only after a gesture, so the operator starts it once.
  var duty = document.getElementById("on-duty");
  function onDuty() { return sessionStorage.getItem("gridgov-on-duty") === "1"; }
  function showDuty() {
    if (!duty) return;
    duty.setAttribute("aria-pressed", onDuty() ? "true" : "false");
    duty.classList.toggle("active", onDuty());
  }
  if (duty) {
    duty.addEventListener("click", function () {
      sessionStorage.setItem("gridgov-on-duty", onDuty() ? "0" : "1");
      if (onDuty() && !audio && window.AudioContext) audio = new window.AudioContext();
      showDuty();
    });
    showDuty();
  }

  function beep() {
    if (!audio) return;
    var osc = audio.createOscillator();
    var gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.2;
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
  }

  function blink(text) {
    if (blinkTimer) return;
    var on = false;
    blinkTimer = setInterval(function () {
      on = !on;
      document.title = on ? text : originalTitle;
    }, 1000);
    window.addEventListener("focus", function stop() {
      clearInterval(blinkTimer);
      blinkTimer = null;
      document.title = originalTitle;
      window.removeEventListener("focus", stop);
    });
  }

  // --- live updates: ask what changed since the cursor; refresh the list when something did.
  function list() { return document.getElementById("work-list"); }
  var cursor = list() ? list().dataset.cursor : null;

  function poll() {
    if (cursor === null) return;
    fetch(body.dataset.pollUrl + "?cursor=" + encodeURIComponent(cursor), {
      credentials: "same-origin",
      headers: { "X-Gridgov-Passive": "1", "Accept": "application/json" },
    }).then(function (r) {
      if (r.status === 401) {
        say(document.documentElement.lang === "en" ? "Signed out: sign in again." : "登录已过期，请重新登录。");
        cursor = null;
        return null;
      }
      return r.ok ? r.json() : null;
    }).then(function (d) {
      if (!d) return;
      if (d.changed > 0 && list() && window.htmx) window.htmx.trigger(list(), "refresh");
      if (d.urgent && d.urgent.length) {
        var text = (document.documentElement.lang === "en" ? "Urgent: " : "【紧急】") + d.urgent[0].title;
        say(text);
        if (onDuty()) { beep(); blink(text); }
      }
      cursor = d.cursor;
    }).catch(function () { /* offline for a moment: the next poll tries again */ });
  }
  if (cursor !== null) setInterval(poll, POLL_MS);

  // --- live notices: the bell listens to `gridgov stream` (server-sent events) with a signed
  // ticket; a closed stream asks for a new ticket (they expire) a little later.
  var bell = document.getElementById("bell");
  var bellCount = document.getElementById("bell-count");
  function bump() {
    if (!bellCount) return;
    bellCount.textContent = String((parseInt(bellCount.textContent, 10) || 0) + 1);
    bellCount.hidden = false;
  }
  function listen() {
    if (!bell || !window.EventSource) return;
    fetch(bell.dataset.ticketUrl, {
      credentials: "same-origin",
      headers: { "X-Gridgov-Passive": "1", "Accept": "application/json" },
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
      if (!d || !d.url) return;
      var stream = new EventSource(d.url);
      stream.addEventListener("notice", function (ev) {
        var n = JSON.parse(ev.data);
        bump();
        say(n.subject + " " + n.code + " " + n.title);
        if (list() && window.htmx) window.htmx.trigger(list(), "refresh");
        if (onDuty()) beep();
      });
      stream.onerror = function () {
        // closed for good (an expired ticket, the stream restarted): a new ticket in a while
        if (stream.readyState === EventSource.CLOSED) setTimeout(listen, 5000);
      };
    }).catch(function () { setTimeout(listen, 30000); });
  }
  listen();

  // --- a select that submits its form (switching posts)
  document.addEventListener("change", function (ev) {
    if (ev.target.matches && ev.target.matches("[data-autosubmit]")) ev.target.form.submit();
  });

  // --- keyboard: j / k move through rows, Enter opens, / searches; on an event, 1-9 open actions
  var current = -1;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.row")); }
  function select(i) {
    var all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r, n) { r.classList.toggle("selected", n === current); });
    all[current].focus();
  }
  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
    if (ev.key === "j") { select(current + 1); ev.preventDefault(); }
    else if (ev.key === "k") { select(current - 1); ev.preventDefault(); }
    else if (ev.key === "Enter" && current >= 0 && rows()[current]) {
      window.location.href = rows()[current].dataset.href;
    } else if (ev.key === "/") {
      var q = document.querySelector("input[name=q]");
      if (q) { q.focus(); ev.preventDefault(); }
    } else if (/^[1-9]$/.test(ev.key)) {
      var actions = document.querySelectorAll("details.action");
      var d = actions[Number(ev.key) - 1];
      if (d) {
        d.open = true;
        var first = d.querySelector("textarea, select, input:not([type=hidden])");
        if (first) first.focus();
        ev.preventDefault();
      }
    }
  });
  document.addEventListener("click", function (ev) {
    var row = ev.target.closest ? ev.target.closest("tr.row") : null;
    if (row && !ev.target.closest("a")) window.location.href = row.dataset.href;
  });
  document.body.addEventListener("htmx:afterSwap", function () { current = -1; });
})();
