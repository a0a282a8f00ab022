// Progressive enhancement only: every action works without this file (plain forms and links).
(function () {
  "use strict";
  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }
  function $(sel) { return document.querySelector(sel); }

  document.addEventListener("DOMContentLoaded", function () {
    // Queue: whole rows open the item; j/k move the selection.
    var rows = Array.prototype.slice.call(document.querySelectorAll("table[data-nav] tr[data-href]"));
    var sel = rows.length ? 0 : -1;
    function select(i) {
      if (!rows.length) return;
      if (sel >= 0) rows[sel].classList.remove("selected");
      sel = Math.max(0, Math.min(rows.length - 1, i));
      rows[sel].classList.add("selected");
      rows[sel].scrollIntoView({ block: "nearest" });
    }
    if (rows.length) select(0);
    // The pending queue refreshes itself every 15 s while the reviewer is not typing in the filters.
    if (document.body.classList.contains("queue") && !/status=(?!pending)/.test(window.location.search)) {
      setInterval(function () {
        if (!typing(document.activeElement) && document.visibilityState === "visible") window.location.reload();
      }, 15000);
    }
    rows.forEach(function (row) {
      row.addEventListener("click", function (e) {
        if (e.target.closest("a, button, form")) return;
        window.location = row.getAttribute("data-href");
      });
    });

    // Item: hovering a highlight or a finding card points at its partner.
    function link(ids, on) {
      ids.split(" ").forEach(function (i) {
        var card = document.getElementById("finding-" + i);
        if (card) card.classList.toggle("active", on);
      });
    }
    document.querySelectorAll("mark.finding").forEach(function (m) {
      m.addEventListener("mouseenter", function () { link(m.dataset.findings, true); });
      m.addEventListener("mouseleave", function () { link(m.dataset.findings, false); });
      m.addEventListener("click", function () {
        var first = document.getElementById("finding-" + m.dataset.findings.split(" ")[0]);
        if (first) first.scrollIntoView({ block: "center", behavior: "smooth" });
      });
    });
    document.querySelectorAll(".finding-card").forEach(function (c) {
      var i = c.dataset.finding;
      c.addEventListener("mouseenter", function () {
        document.querySelectorAll("mark.finding").forEach(function (m) {
          if (m.dataset.findings.split(" ").indexOf(i) >= 0) m.classList.add("active");
        });
      });
      c.addEventListener("mouseleave", function () {
        document.querySelectorAll("mark.finding.active").forEach(function (m) { m.classList.remove("active"); });
      });
    });

    // Keep the lease on the open item while the page stays open (renewed at half its lifetime).
    var actions = $("#actions");
    if (actions) {
      var csrf = actions.querySelector("input[name=csrf_token]").value;
      var every = Math.max(1, parseInt(actions.dataset.leaseSeconds || "300", 10) / 2) * 1000;
      setInterval(function () {
        fetch("/llmvet/v1/reviews/" + actions.dataset.reviewId + "/claim",
              { method: "POST", headers: { "x-csrf-token": csrf }, credentials: "same-origin" });
      }, every);
    }

    // Ctrl/Cmd+Enter submits the form of the focused textarea.
    document.querySelectorAll("textarea").forEach(function (t) {
      t.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && t.form) { e.preventDefault(); t.form.requestSubmit(); }
      });
    });
    var rejectForm = $("#reject-form");
    if (rejectForm) rejectForm.addEventListener("submit", function (e) {
      var reason = $("#reason");
      if (reason && !reason.value.trim()) { e.preventDefault(); reason.focus(); }
    });

    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(document.activeElement)) return;
      var help = $("#help");
      switch (e.key) {
        case "?": if (help) help.hidden = !help.hidden; break;
        case "j": select(sel + 1); break;
        case "k": select(sel - 1); break;
        case "o": case "Enter": if (sel >= 0) window.location = rows[sel].getAttribute("data-href"); break;
        case "a": if ($("#approve-form")) $("#approve-form").requestSubmit(); break;
        case "r": if ($("#reason")) { e.preventDefault(); $("#reason").focus(); } break;
        case "e": if ($("#edit-box")) { e.preventDefault(); $("#edit-box").open = true; $("#edit-text").focus(); } break;
        case "u": window.location = "/review"; break;
        case "Escape": if (help) help.hidden = true; break;
        default: return;
      }
    });
  });
})();
