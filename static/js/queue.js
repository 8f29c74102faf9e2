// The queue refreshes itself every 15 s, but never under the reader's hands:
// not while items are selected for a bulk answer or focus is in the list.
// The open item stays marked across refreshes.
(function () {
  let openId = "";

  function busy(list) {
    return list.querySelector("input[type=checkbox]:checked") !== null || list.contains(document.activeElement);
  }

  document.addEventListener("htmx:confirm", function (event) {
    const list = event.detail.elt;
    const trigger = event.detail.triggeringEvent;
    const ownAnswer = trigger !== undefined && trigger !== null && trigger.type === "queue-changed";
    if (list.id === "queue-list" && !ownAnswer && busy(list)) {
      event.preventDefault(); // a poll while the reader is busy: skip this one, the next may run
    }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt.id === "queue-list" && openId) {
      event.detail.parameters.open = openId;
    }
  });

  document.addEventListener("click", function (event) {
    const link = event.target.closest("a.open-item");
    if (link) {
      openId = link.dataset.item;
      document.querySelectorAll(".queue-row.is-open").forEach((row) => row.classList.remove("is-open"));
      link.closest("tr").classList.add("is-open");
    }
    const all = event.target.closest("#select-all");
    if (all) {
      document.querySelectorAll("#queue-table tbody input[name=ids]").forEach((box) => { box.checked = all.checked; });
    }
  });

  // After an answer, move focus to its result so keyboard and screen-reader users hear it.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id === "detail") {
      const message = document.getElementById("panel-message") || document.getElementById("item-panel");
      if (message) { message.setAttribute("tabindex", "-1"); message.focus(); }
    }
  });
})();
