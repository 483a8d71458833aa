// The queue refreshes itself: every few seconds it asks the server for the table body
// (GET /queue/fragment, the same scope and filter as the page), swaps it in, and tells screen
// reader users in the status region when new handovers have arrived.
(function () {
  "use strict";

  var table = document.getElementById("queue");
  var status = document.getElementById("status");
  if (!table || !window.fetch) {
    return;
  }
  var body = table.tBodies[0];
  var url = table.getAttribute("data-fragment-url");
  var seconds = Number(table.getAttribute("data-poll-seconds")) || 10;

  function newCodes(root) {
    var codes = new Set();
    root.querySelectorAll('tr[data-status="new"]').forEach(function (row) {
      codes.add(row.getAttribute("data-code"));
    });
    return codes;
  }

  var known = newCodes(body);
  var lastHtml = null;

  function announce(text) {
    // Empty it first, so that the same words are read out again the next time.
    status.textContent = "";
    window.setTimeout(function () {
      var p = document.createElement("p");
      p.className = "message";
      p.textContent = text;
      status.appendChild(p);
    }, 100);
  }

  function replaceRows(html) {
    // Keep the keyboard focus on the same handover when the rows are swapped.
    var focused = document.activeElement;
    var focusedRow = focused && body.contains(focused) ? focused.closest("tr") : null;
    var focusedCode = focusedRow ? focusedRow.getAttribute("data-code") : null;
    var next = document.createElement("tbody");
    next.innerHTML = html;
    body.replaceChildren.apply(body, Array.prototype.slice.call(next.childNodes));
    if (focusedCode) {
      var again = body.querySelector('tr[data-code="' + focusedCode + '"] a');
      if (again) {
        again.focus();
      }
    }
    return next;
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign("/login");
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || html === lastHtml) {
          return;
        }
        lastHtml = html;
        replaceRows(html);
        var codes = newCodes(body);
        var arrived = 0;
        codes.forEach(function (code) {
          if (!known.has(code)) {
            arrived += 1;
          }
        });
        known = codes;
        if (arrived === 1) {
          announce("1 nytt ärende");
        } else if (arrived > 1) {
          announce(arrived + " nya ärenden");
        }
      })
      .catch(function () {
        // Offline or the server is restarting: try again next time.
      })
      .finally(function () {
        window.setTimeout(refresh, seconds * 1000);
      });
  }

  window.setTimeout(refresh, seconds * 1000);
})();
