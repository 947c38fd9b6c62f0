// The validator's checks, received as data from /app/v1/setup, evaluated on a form being typed.
// The same semantics as services/validator/relations.py: evaluate() (see its docstring); the
// list of checks, their codes and message templates are never written here.
"use strict";

(function (global) {
  function lookup(form, path) {
    let node = form;
    for (const part of path.split(".")) {
      if (node === null || node === undefined) return undefined;
      if (Array.isArray(node)) {
        // suara_partai: the next part is the party number
        node = node.find((p) => String(p.nomor_partai) === part);
      } else if (typeof node === "object") {
        node = node[part];
      } else {
        return undefined;
      }
    }
    return node;
  }

  function value(expr, form, ctx) {
    if (typeof expr === "number") return expr;
    if ("f" in expr) {
      const found = lookup(form, expr.f);
      return Number.isInteger(found) ? found : 0;
    }
    if ("c" in expr) return ctx[expr.c];
    if ("t" in expr) return expr.t;
    if ("sum" in expr) return expr.sum.reduce((acc, e) => acc + value(e, form, ctx), 0);
    if ("sub" in expr) return value(expr.sub[0], form, ctx) - value(expr.sub[1], form, ctx);
    if ("mul" in expr) return expr.mul[0] * value(expr.mul[1], form, ctx);
    if ("abs" in expr) return Math.abs(value(expr.abs, form, ctx));
    if ("max" in expr) return Math.max(...expr.max.map((e) => value(e, form, ctx)));
    if ("argmax" in expr) {
      const pairs = expr.argmax.map(([label, e]) => [label, value(e, form, ctx)]);
      const top = Math.max(...pairs.map(([, v]) => v));
      return pairs.find(([, v]) => v === top)[0];
    }
    if ("pct" in expr) {
      return ((value(expr.pct[0], form, ctx) * 100) / value(expr.pct[1], form, ctx)).toFixed(1);
    }
    throw new Error("unknown expression " + JSON.stringify(expr));
  }

  function holds(cond, form, ctx) {
    if ("present" in cond) return lookup(form, cond.present) != null;
    if ("absent" in cond) return lookup(form, cond.absent) == null;
    if ("all" in cond) return cond.all.every((c) => holds(c, form, ctx));
    if ("any" in cond) return cond.any.some((c) => holds(c, form, ctx));
    const a = value(cond.a, form, ctx);
    const b = value(cond.b, form, ctx);
    switch (cond.op) {
      case "eq": return a === b;
      case "ne": return a !== b;
      case "le": return a <= b;
      case "ge": return a >= b;
    }
    throw new Error("unknown condition " + JSON.stringify(cond));
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
  }

  // The violations of a form (the JSON the intake receives) under these checks; rules maps
  // each code to its severity and message templates (setup.rules).
  function evaluate(checks, rules, form, ctx) {
    const out = [];
    for (const check of checks) {
      if (check.when !== null && !holds(check.when, form, ctx)) continue;
      if (holds(check.holds, form, ctx)) continue;
      const values = {};
      for (const [name, e] of Object.entries(check.values)) values[name] = value(e, form, ctx);
      const rule = rules[check.code];
      out.push({
        code: check.code,
        severity: rule.severity,
        field: check.field,
        pesan: format(rule.pesan, values),
        message: format(rule.message, values),
      });
    }
    return out;
  }

  global.DeskChecks = { evaluate, lookup };
})(typeof self !== "undefined" ? self : this);
