"use strict";
// Runs cells in the main realm, one persistent global scope. Owns output capture
// (console, process.stdout/stderr), the IJavascript `$$` API, timer tracking and interrupts.
//
// Attribution: every cell runs inside an AsyncLocalStorage context, so output from its
// timers and promises carries the cell's parent header, even after the cell has finished.

const fs = require("fs");
const path = require("path");
const vm = require("vm");
const { AsyncLocalStorage } = require("async_hooks");
const { Console } = require("console");
const { EventEmitter } = require("events");
const { createRequire } = require("module");
const { StringDecoder } = require("string_decoder");
const { toMime, cleanBundle, formatError } = require("./display");

const OWNER = Symbol("companion.node.owner");
// Only cells that mention these words need the acorn rewrite; the rest run verbatim.
const NEEDS_TRANSFORM = /\b(let|const|class|await|import|export)\b|^#!/;
const INTERRUPTED = "ERR_SCRIPT_EXECUTION_INTERRUPTED";
const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

const T = {
  setTimeout: globalThis.setTimeout,
  setInterval: globalThis.setInterval,
  setImmediate: globalThis.setImmediate,
  clearTimeout: globalThis.clearTimeout,
  clearInterval: globalThis.clearInterval,
  clearImmediate: globalThis.clearImmediate,
};
const realExit = process.exit.bind(process);

let transformModule = null;
function transform(code) {
  transformModule = transformModule || require("./transform");
  return transformModule.transform(code);
}

function isThenable(v) {
  try {
    return v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function";
  } catch (_err) {
    return false;
  }
}

function interruptedError(where) {
  const message = `execution was interrupted${where ? ` (${where})` : ""}; global state is kept`;
  return { name: "Interrupted", message, stack: `Interrupted: ${message}` };
}

class RequestContext {
  /** What output is attributed to: a request (parent header) and, for executions, its cell. */
  constructor(msg, cell) {
    this.msg = msg;
    this.parent = msg ? msg.header : {};
    this.cell = cell || null;
  }
}

class Cell {
  constructor(msg, count) {
    this.msg = msg;
    this.header = msg.header;
    this.count = count;
    this.silent = !!msg.content.silent;
    this.ctx = new RequestContext(msg, this);
    this.ended = false;
    this.async = false;
    this.timers = new Set();
    this.outputChars = 0;
    this.capped = false;
    this.finished = new Promise((resolve) => {
      this._resolve = resolve;
    });
  }
}

class Display {
  /** IJavascript display handle: `$$.display(id)`; with an id, later sends update in place. */
  // Private fields: cell code holds display handles, and must not reach the executor.
  #x;
  #id;
  #shown = false;

  constructor(executor, id) {
    this.#x = executor;
    this.#id = id === undefined ? null : String(id);
    for (const [name, type] of Object.entries(MIME_SHORTCUTS)) {
      this[name] = (value) => this.mime({ [type]: value });
    }
  }

  mime(bundle) {
    const transient = this.#id === null ? {} : { display_id: this.#id };
    const type = this.#id !== null && this.#shown ? "update_display_data" : "display_data";
    this.#shown = true;
    this.#x.publishOutput(type, { data: cleanBundle(bundle), metadata: {}, transient });
  }

  close() {}
}

const MIME_SHORTCUTS = {
  text: "text/plain",
  html: "text/html",
  markdown: "text/markdown",
  svg: "image/svg+xml",
  png: "image/png",
  jpeg: "image/jpeg",
  json: "application/json",
};

class Executor {
  constructor(kernel) {
    this.kernel = kernel;
    this.als = new AsyncLocalStorage();
    this.current = null;
    this.lastCtx = null;
    this.timerCells = new Set();
    const max = Number(process.env.COMPANION_NODE_MAX_OUTPUT);
    this.maxOutput = Number.isFinite(max) && max > 0 ? max : DEFAULT_MAX_OUTPUT;
  }

  // ---- attribution -------------------------------------------------------------------

  context() {
    return this.als.getStore() || (this.current && this.current.ctx) || this.lastCtx;
  }

  cellNow() {
    const store = this.als.getStore();
    return store ? store.cell : this.current;
  }

  /** Run fn attributed to msg; while a cell runs, to that cell (it is the one waiting). */
  runFor(msg, fn) {
    const ctx = this.current && !this.current.ended ? this.current.ctx : new RequestContext(msg, null);
    return this.als.run(ctx, fn);
  }

  // ---- output ------------------------------------------------------------------------

  write(name, chunk, encoding) {
    let text;
    if (typeof chunk === "string") {
      text = encoding && encoding !== "utf8" && encoding !== "utf-8" && Buffer.isEncoding(encoding)
        ? this.decoders[name].write(Buffer.from(chunk, encoding))
        : chunk;
    } else if (chunk instanceof Uint8Array) {
      text = this.decoders[name].write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } else {
      text = String(chunk);
    }
    if (!text) return;
    const ctx = this.context();
    if (!ctx) {
      fs.writeSync(name === "stdout" ? 1 : 2, text);
      return;
    }
    const cell = ctx.cell;
    if (cell) {
      if (cell.silent || cell.capped) return;
      cell.outputChars += text.length;
      if (cell.outputChars > this.maxOutput) {
        cell.capped = true;
        text = text.slice(0, Math.max(0, text.length - (cell.outputChars - this.maxOutput)));
        if (text) this.kernel.stream(name, text.toWellFormed(), ctx.parent);
        this.kernel.stream(
          "stderr",
          `\n[companion-node] output limit reached (${this.maxOutput} characters, ` +
            "COMPANION_NODE_MAX_OUTPUT); further output of this cell is dropped\n",
          ctx.parent,
        );
        return;
      }
    }
    this.kernel.stream(name, text.toWellFormed(), ctx.parent);
  }

  publishOutput(type, content) {
    const ctx = this.context();
    if (!ctx || (ctx.cell && ctx.cell.silent)) return;
    this.kernel.publish(type, content, ctx.parent);
  }

  // ---- globals -----------------------------------------------------------------------

  install() {
    const self = this;
    this.decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
    const makeStream = (name) => {
      const s = new EventEmitter();
      s.isTTY = false;
      s.writable = true;
      s.write = function write(chunk, encoding, cb) {
        self.write(name, chunk, typeof encoding === "string" ? encoding : undefined);
        const done = typeof encoding === "function" ? encoding : cb;
        if (typeof done === "function") process.nextTick(done, null);
        return true;
      };
      return s;
    };
    const out = makeStream("stdout");
    const err = makeStream("stderr");
    process.stdout.write = out.write;
    process.stderr.write = err.write;
    globalThis.console = new Console({ stdout: out, stderr: err, colorMode: false });

    // Node prints this once per process when the default ESM loader is used from vm.
    const emitWarning = process.emitWarning;
    process.emitWarning = function (warning, ...rest) {
      if (String(warning && warning.message ? warning.message : warning).includes("USE_MAIN_CONTEXT_DEFAULT_LOADER")) return;
      return emitWarning.call(process, warning, ...rest);
    };

    const cwd = process.cwd();
    const define = (name, value) =>
      Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
    define("require", createRequire(path.join(cwd, "[cell]")));
    const mod = { exports: {}, id: ".", filename: path.join(cwd, "[cell]"), path: cwd };
    define("module", mod);
    define("exports", mod.exports);
    define("__filename", mod.filename);
    define("__dirname", cwd);
    this.installTimers(define);
    define("$$", this.dollar());
    define("display", this.displayFunction());

    // Exiting with open ZeroMQ sockets (worker ones above all) can abort Node: close first.
    process.exit = (code) => {
      this.kernel.closeSync();
      realExit(code);
    };
    process.on("SIGINT", () => this.onSigint());
    process.on("uncaughtException", (e) => this.onUncaught(e, "Uncaught exception"));
    process.on("unhandledRejection", (e) => this.onUncaught(e, "Unhandled promise rejection"));
  }

  installTimers(define) {
    const self = this;
    const track = (handle, cell) => {
      if (!cell || !handle || typeof handle !== "object") return;
      handle[OWNER] = cell;
      cell.timers.add(handle);
      this.timerCells.add(cell);
    };
    const untrack = (handle) => {
      const cell = handle && typeof handle === "object" ? handle[OWNER] : null;
      if (cell) cell.timers.delete(handle);
    };
    const tracked = (kind, keep) =>
      function (callback, ...rest) {
        if (typeof callback !== "function") return T[kind](callback, ...rest);
        const cell = self.cellNow();
        const handle = T[kind](function (...args) {
          if (!keep) untrack(handle);
          return Reflect.apply(callback, this, args);
        }, ...rest);
        track(handle, cell);
        return handle;
      };
    const custom = require("util").promisify.custom;
    for (const [name, keep] of [["setTimeout", false], ["setInterval", true], ["setImmediate", false]]) {
      const w = tracked(name, keep);
      Object.defineProperty(w, "name", { value: name });
      if (T[name][custom]) w[custom] = T[name][custom];
      define(name, w);
    }
    for (const name of ["clearTimeout", "clearInterval", "clearImmediate"]) {
      const clear = T[name];
      define(name, {
        [name](handle) {
          untrack(handle);
          return clear(handle);
        },
      }[name]);
    }
  }

  clearTimers(cell) {
    for (const h of cell.timers) {
      try {
        // clearTimeout and clearInterval are interchangeable in Node; immediates differ.
        if (h.constructor && h.constructor.name === "Immediate") T.clearImmediate(h);
        else T.clearTimeout(h);
      } catch (_err) {
        // a foreign handle: nothing to clear
      }
    }
    cell.timers.clear();
    this.timerCells.delete(cell);
  }

  // ---- interrupts and uncaught errors -----------------------------------------------

  onSigint() {
    this.kernel.interruptHandled();
    const cell = this.current;
    if (cell && !cell.ended) {
      this.abort(cell, interruptedError());
    } else {
      // Idle: stop background work (intervals, pending timeouts) left by earlier cells.
      for (const c of [...this.timerCells]) this.clearTimers(c);
    }
  }

  abort(cell, error) {
    this.clearTimers(cell);
    this.kernel.cancelInput(error);
    this.fail(cell, error);
  }

  onUncaught(error, what) {
    const store = this.als.getStore();
    const cell = store ? store.cell : this.current;
    if (cell && !cell.ended) {
      this.fail(cell, error);
      return;
    }
    const content = formatError(error);
    const ctx = store || this.context();
    const text = `${what}: ${[`${content.ename}: ${content.evalue}`, ...content.traceback.slice(1)].join("\n")}\n`;
    if (ctx) this.als.run(ctx, () => this.write("stderr", text));
    else fs.writeSync(2, text);
  }

  // ---- execution ---------------------------------------------------------------------

  /** Execute one cell; resolves with the execute_reply content when the cell has ended. */
  execute(msg, count) {
    const cell = new Cell(msg, count);
    this.current = cell;
    this.lastCtx = cell.ctx;
    this.als.run(cell.ctx, () => this._start(cell));
    return cell.finished;
  }

  _start(cell) {
    const code = String(cell.msg.content.code || "");
    let source = code;
    let lexical = [];
    if (NEEDS_TRANSFORM.test(code)) {
      const t = transform(code);
      if (!t.error) ({ code: source, lexical } = t);
    }
    let script;
    try {
      script = new vm.Script(source, {
        filename: `cell[${cell.count}]`,
        importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
      });
    } catch (err) {
      this.fail(cell, err);
      return;
    }
    if (lexical.length) transformModule.claimGlobals(lexical);
    let value;
    try {
      value = script.runInThisContext({ breakOnSigint: true, displayErrors: false });
    } catch (err) {
      if (err && err.code === INTERRUPTED) {
        this.kernel.interruptHandled();
        this.abort(cell, interruptedError());
      }
      else this.fail(cell, err);
      return;
    }
    if (isThenable(value)) {
      Promise.resolve(value).then(
        (v) => this.complete(cell, v),
        (e) => this.fail(cell, e),
      );
    } else {
      this.complete(cell, value);
    }
  }

  complete(cell, value) {
    if (cell.ended || cell.async) return;
    // One macrotask later: a promise the cell rejected without handling is reported by
    // Node after the microtasks drain; it should fail this cell, not surface after idle.
    T.setImmediate(() => {
      if (cell.ended || cell.async) return;
      if (value !== undefined) this.sendResult(cell, value);
      this.end(cell, null);
    });
  }

  sendResult(cell, value) {
    if (cell.silent) return;
    let data;
    try {
      data = cleanBundle(toMime(value));
    } catch (err) {
      data = { "text/plain": `[result could not be formatted: ${err && err.message}]` };
    }
    this.kernel.publish("execute_result", { execution_count: cell.count, data, metadata: {} }, cell.header);
  }

  fail(cell, error) {
    const content = formatError(error);
    if (cell.ended) {
      this.als.run(cell.ctx, () => this.write("stderr", `${content.traceback.join("\n")}\n`));
      return;
    }
    if (!cell.silent) this.kernel.publish("error", content, cell.header);
    this.end(cell, content);
  }

  end(cell, error) {
    if (cell.ended) return;
    cell.ended = true;
    cell.async = false;
    if (this.current === cell) this.current = null;
    if (!cell.timers.size) this.timerCells.delete(cell);
    const base = { execution_count: cell.count, payload: [] };
    if (error) {
      cell._resolve({ status: "error", ...error, ...base, user_expressions: {} });
    } else {
      const exprs = cell.msg.content.user_expressions || {};
      cell._resolve({ status: "ok", ...base, user_expressions: this.userExpressions(exprs) });
    }
  }

  userExpressions(exprs) {
    const out = {};
    for (const [name, expr] of Object.entries(exprs)) {
      try {
        const v = vm.runInThisContext(String(expr), { displayErrors: false });
        out[name] = { status: "ok", data: cleanBundle(toMime(v)), metadata: {} };
      } catch (err) {
        out[name] = { status: "error", ...formatError(err) };
      }
    }
    return out;
  }

  // ---- the $$ API (IJavascript compatible) -------------------------------------------

  dollar() {
    const self = this;
    const sender = (toBundle) =>
      function (value, keepAlive) {
        const cell = self.cellNow();
        if (!cell || cell.ended) return;
        const emit = (v) => {
          if (cell.ended) return;
          if (keepAlive) cell.async = true;
          if (!cell.silent) {
            self.kernel.publish(
              "execute_result",
              { execution_count: cell.count, data: cleanBundle(toBundle(v)), metadata: {} },
              cell.header,
            );
          }
          if (!keepAlive) self.end(cell, null);
        };
        if (isThenable(value)) {
          cell.async = true;
          Promise.resolve(value).then(emit, (e) => self.fail(cell, e));
        } else {
          emit(value);
        }
      };
    const $$ = {
      async(value) {
        const cell = self.cellNow();
        if (!cell || cell.ended) return false;
        cell.async = arguments.length === 0 ? true : !!value;
        return cell.async;
      },
      done(result) {
        const cell = self.cellNow();
        if (!cell || cell.ended) return;
        if (arguments.length === 0) self.end(cell, null);
        else $$.sendResult(result);
      },
      sendResult: sender((v) => toMime(v)),
      sendError(error, keepAlive) {
        const cell = self.cellNow();
        if (!cell || cell.ended) return;
        const emit = (e) => {
          if (cell.ended) return;
          if (keepAlive) {
            cell.async = true;
            if (!cell.silent) self.kernel.publish("error", formatError(e), cell.header);
          } else {
            self.fail(cell, e);
          }
        };
        if (isThenable(error)) {
          cell.async = true;
          Promise.resolve(error).then(emit, emit);
        } else {
          emit(error);
        }
      },
      mime: sender((bundle) => bundle),
      display(id) {
        return arguments.length === 0 ? new Display(self) : new Display(self, id);
      },
      clear(options) {
        self.publishOutput("clear_output", { wait: !!(options && options.wait) });
      },
      input(options, callback) {
        const opts = typeof options === "string" ? { prompt: options } : options || {};
        const cell = self.cellNow();
        if (typeof callback === "function" && cell) cell.async = true;
        const p = self.kernel.requestInput(cell, String(opts.prompt || ""), !!opts.password);
        if (typeof callback === "function") {
          p.then((v) => callback(null, v), (e) => callback(e));
          return undefined;
        }
        return p;
      },
      comm: this.kernel.comms.api,
    };
    for (const [name, type] of Object.entries(MIME_SHORTCUTS)) {
      if (name !== "markdown") $$[name] = sender((v) => ({ [type]: v }));
    }
    return Object.freeze($$);
  }

  displayFunction() {
    const self = this;
    function display(...values) {
      for (const v of values) self.publishOutput("display_data", { data: cleanBundle(toMime(v)), metadata: {}, transient: {} });
    }
    const plain = new Display(self);
    for (const name of [...Object.keys(MIME_SHORTCUTS), "mime"]) {
      display[name] = (value) => plain[name](value);
    }
    return display;
  }
}

module.exports = { Executor, RequestContext, T };
