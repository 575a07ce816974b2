"use strict";
// complete_request and inspect_request: globals, keywords and object properties along
// a dotted chain (`a.b.c`). Only property reads, never calls, so completion has no side
// effects beyond getters. Cursor positions are in Unicode code points (protocol >= 5.2).

const util = require("util");

const KEYWORDS = (
  "async await break case catch class const continue debugger default delete do else export " +
  "extends false finally for function if import in instanceof let new null of return static " +
  "super switch this throw true try typeof undefined var void while with yield"
).split(" ");

const CHAIN = /((?:[A-Za-z_$][\w$]*\s*\??\.\s*)*)([A-Za-z_$][\w$]*)?$/;
const IDENT_TAIL = /^[\w$]*/;

function resolve(chain) {
  let obj = globalThis;
  for (const name of chain) {
    if (obj === null || obj === undefined) return { found: false };
    try {
      obj = obj[name];
    } catch (_err) {
      return { found: false };
    }
  }
  return { found: true, value: obj };
}

function propertyNames(value) {
  const names = new Set();
  let o = value;
  if (o === null || o === undefined) return names;
  if (typeof o !== "object" && typeof o !== "function") o = Object(o);
  for (let depth = 0; o && depth < 50; depth++, o = Object.getPrototypeOf(o)) {
    for (const n of Object.getOwnPropertyNames(o)) if (!/^\d+$/.test(n)) names.add(n);
  }
  return names;
}

function splitChain(text) {
  return text
    .split(".")
    .map((s) => s.replace(/[\s?]/g, ""))
    .filter(Boolean);
}

function complete(code, cursorPos) {
  const chars = Array.from(code);
  const pos = cursorPos === undefined || cursorPos === null ? chars.length : Math.min(cursorPos, chars.length);
  const before = chars.slice(0, pos).join("");
  const m = CHAIN.exec(before);
  const chainText = (m && m[1]) || "";
  const token = (m && m[2]) || "";
  // A number or a closing bracket before the dot: nothing we can resolve safely.
  const preceding = before.slice(0, before.length - chainText.length - token.length);
  let candidates;
  if (chainText) {
    if (/[\w$\])'"`]$/.test(preceding)) return reply([], pos, pos);
    const target = resolve(splitChain(chainText));
    candidates = target.found ? propertyNames(target.value) : new Set();
  } else if (/\.\s*$/.test(preceding)) {
    return reply([], pos, pos);
  } else {
    candidates = propertyNames(globalThis);
    for (const k of KEYWORDS) candidates.add(k);
  }
  const matches = [...candidates]
    .filter((n) => n.startsWith(token))
    .sort((a, b) => (a.startsWith("_") - b.startsWith("_")) || a.localeCompare(b));
  return reply(matches, pos - Array.from(token).length, pos);
}

function reply(matches, start, end) {
  return { status: "ok", matches, cursor_start: start, cursor_end: end, metadata: {} };
}

function inspect(code, cursorPos, detailLevel) {
  const chars = Array.from(code);
  const pos = cursorPos === undefined || cursorPos === null ? chars.length : Math.min(cursorPos, chars.length);
  const before = chars.slice(0, pos).join("");
  const after = chars.slice(pos).join("");
  const m = CHAIN.exec(before);
  const text = ((m && m[1]) || "") + ((m && m[2]) || "") + IDENT_TAIL.exec(after)[0];
  const chain = splitChain(text);
  const notFound = { status: "ok", found: false, data: {}, metadata: {} };
  if (!chain.length) return notFound;
  const isGlobalName = chain.length > 1 || chain[0] in globalThis;
  const target = isGlobalName ? resolve(chain) : { found: false };
  if (!target.found) return notFound;
  const v = target.value;
  const lines = [`${chain.join(".")}: ${typeof v}${v && v.constructor && v.constructor.name ? ` (${v.constructor.name})` : ""}`];
  if (typeof v === "function") {
    const src = Function.prototype.toString.call(v);
    lines.push(detailLevel ? src : src.split("\n")[0]);
  } else {
    lines.push(util.inspect(v, { depth: detailLevel ? 2 : 0, maxArrayLength: 20, maxStringLength: 2000 }));
  }
  return { status: "ok", found: true, data: { "text/plain": lines.join("\n") }, metadata: {} };
}

module.exports = { complete, inspect };
