// The dashboard's DOM builder, shared by the page's scripts (loaded before them).
// h(tag, attrs, ...children): text is always set as text, never parsed as HTML. Attributes:
// "class", "text" (the text content), "on<event>" (a listener), true (present), false / null
// (absent); children: nodes, or anything else as text (null, undefined and false are skipped).
"use strict";

(() => {
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  window.DeskDom = Object.freeze({ h });
})();
