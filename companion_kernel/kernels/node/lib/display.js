"use strict";
// MIME bundles and error formatting, following IJavascript's conventions:
// text/plain via util.inspect, plus _toMime/_toHtml/_toSvg/_toPng/_toJpeg hooks.

const util = require("util");

const INTERNAL_FRAME =
  /^\s+at .*(node:vm|node:internal|node:async_hooks|[\\/]kernels[\\/]node[\\/](lib[\\/]|kernel\.js))/;

function inspect(value) {
  try {
    return util.inspect(value);
  } catch (err) {
    return `[uninspectable value: ${err && err.message}]`;
  }
}

function defaultMimer(result) {
  if (result === undefined) return { "text/plain": "undefined" };
  if (result === null) return { "text/plain": "null" };
  let mime;
  const call = (name) => {
    try {
      return typeof result[name] === "function" ? result[name]() : undefined;
    } catch (_err) {
      return undefined;
    }
  };
  if (typeof result === "object" || typeof result === "function") mime = call("_toMime");
  if (!mime || typeof mime !== "object") mime = {};
  else mime = { ...mime };
  if (!("text/plain" in mime)) mime["text/plain"] = inspect(result);
  if (typeof result === "object" || typeof result === "function") {
    const hooks = [
      ["text/html", "_toHtml"],
      ["image/svg+xml", "_toSvg"],
      ["image/png", "_toPng"],
      ["image/jpeg", "_toJpeg"],
    ];
    for (const [type, name] of hooks) {
      if (!(type in mime)) {
        const v = call(name);
        if (v !== undefined) mime[type] = v;
      }
    }
  }
  return mime;
}

/** The MIME bundle of a value; a global `$$mimer$$` function overrides the default. */
function toMime(result) {
  const custom = globalThis.$$mimer$$;
  if (typeof custom === "function") {
    try {
      const m = custom(result);
      if (m && typeof m === "object") return m;
    } catch (_err) {
      // fall back to the default mimer
    }
  }
  return defaultMimer(result);
}

/** A mime bundle must be JSON: stringify values that are not strings or plain JSON. */
function cleanBundle(bundle) {
  const out = {};
  if (!bundle || typeof bundle !== "object") return { "text/plain": inspect(bundle) };
  for (const [k, v] of Object.entries(bundle)) {
    if (typeof v === "string") out[k] = v.toWellFormed();
    else if (Buffer.isBuffer(v) || v instanceof Uint8Array) out[k] = Buffer.from(v).toString("base64");
    else if (k.endsWith("json")) out[k] = v;
    else out[k] = inspect(v);
  }
  return out;
}

function cleanStack(stack) {
  return String(stack)
    .split("\n")
    .filter((line) => !INTERNAL_FRAME.test(line));
}

function isErrorLike(e) {
  return e !== null && typeof e === "object" && typeof e.message === "string" && "stack" in e;
}

/** Jupyter error content {ename, evalue, traceback} for anything that was thrown. */
function formatError(error) {
  try {
    return describeError(error);
  } catch (_err) {
    // Hostile getters (name, message, stack) must not take the kernel down with them.
    const text = inspect(error);
    return { ename: "Error", evalue: text, traceback: [`Uncaught ${text}`] };
  }
}

function describeError(error) {
  if (isErrorLike(error)) {
    const ename = typeof error.name === "string" && error.name ? error.name : "Error";
    let traceback = cleanStack(error.stack || `${ename}: ${error.message}`);
    if (error.cause !== undefined) traceback = traceback.concat([`[cause]: ${inspect(error.cause)}`]);
    if (Array.isArray(error.errors)) {
      traceback = traceback.concat(error.errors.map((e, i) => `[errors[${i}]]: ${inspect(e)}`));
    }
    return { ename, evalue: error.message.toWellFormed(), traceback: traceback.map((l) => l.toWellFormed()) };
  }
  const text = inspect(error);
  return { ename: typeof error, evalue: text, traceback: [`Uncaught ${text}`] };
}

module.exports = { toMime, cleanBundle, formatError, inspect };
