"use strict";
// Main thread: shell, iopub and stdin sockets, request dispatch, the execution queue.
// Heartbeat and control live in ./worker.js so they answer while user code blocks.

const fs = require("fs");
const { setTimeout } = require("timers");
const path = require("path");
const { Worker } = require("worker_threads");
const zmq = require("zeromq");
const { Session, SendQueue, endpoint, PROTOCOL_VERSION } = require("./wire");
const { Executor } = require("./executor");
const { CommManager } = require("./comm");
const { formatError } = require("./display");

const VERSION = require("../package.json").version;
const log = (m) => fs.writeSync(2, `[companion-node] ${m}\n`);

function kernelInfo() {
  return {
    status: "ok",
    protocol_version: PROTOCOL_VERSION,
    implementation: "companion-node",
    implementation_version: VERSION,
    language_info: {
      name: "javascript",
      version: process.versions.node,
      mimetype: "application/javascript",
      file_extension: ".js",
      pygments_lexer: "javascript",
      codemirror_mode: "javascript",
    },
    banner:
      `companion-node ${VERSION} on Node.js ${process.version}\n` +
      "IJavascript-compatible: $$.async(), $$.done(), $$.html(), display(), top-level await",
    help_links: [{ text: "Node.js documentation", url: "https://nodejs.org/docs/latest/api/" }],
    debugger: false,
  };
}

class Kernel {
  constructor(conn) {
    this.conn = conn;
    this.session = new Session(conn.key, conn.signature_scheme);
    this.info = kernelInfo();
    this.count = 0;
    this.queue = [];
    this.executing = false;
    this.pendingInput = null;
    this.lastStream = null;
    this.stopping = false;
    this.comms = new CommManager(this);
    this.executor = new Executor(this);
  }

  async start() {
    const conn = this.conn;
    // [0] worker stopped, [1] interrupts requested (control channel), [2] interrupts handled.
    this.flags = new Int32Array(new SharedArrayBuffer(12));
    this.worker = new Worker(path.join(__dirname, "worker.js"), {
      workerData: { conn, sessionId: this.session.id, kernelInfo: this.info, flags: this.flags },
    });
    const workerReady = new Promise((resolve, reject) => {
      this.worker.on("message", (m) => {
        if (m.type === "ready") resolve();
        else if (m.type === "error") reject(new Error(`control/heartbeat: ${m.message}`));
        else if (m.type === "shutdown") this.shutdown(m.restart);
      });
      this.worker.once("error", reject);
    });
    this.worker.on("exit", () => {
      this.workerExited = true;
    });

    this.shell = new zmq.Router({ linger: 0 });
    this.stdin = new zmq.Router({ linger: 0 });
    this.iopub = new zmq.Publisher({ linger: 500, sendHighWaterMark: 0 });
    this.shellOut = new SendQueue(this.shell, log);
    this.stdinOut = new SendQueue(this.stdin, log);
    this.iopubOut = new SendQueue(this.iopub, log);
    await Promise.all([
      this.shell.bind(endpoint(conn, conn.shell_port)),
      this.stdin.bind(endpoint(conn, conn.stdin_port)),
      this.iopub.bind(endpoint(conn, conn.iopub_port)),
      workerReady,
    ]);
    this.executor.install();
    this.publish("status", { execution_state: "starting" }, {});
    this.loop(this.shell, (msg) => this.dispatch(msg), "shell");
    this.loop(this.stdin, (msg) => this.onStdin(msg), "stdin");
    // Load and JIT-warm the parser off the critical path: most cells declare something.
    setTimeout(() => require("./transform").transform("const warm = 1; let up = await warm"), 50).unref();
  }

  async loop(socket, handler, name) {
    try {
      for await (const frames of socket) {
        let msg;
        try {
          msg = this.session.parse(frames);
        } catch (err) {
          log(`${name}: malformed message dropped (${err.message})`);
          continue;
        }
        if (!msg) {
          log(`${name}: message with an invalid signature dropped`);
          continue;
        }
        try {
          handler(msg);
        } catch (err) {
          log(`${name}: handler failed: ${err && err.stack}`);
        }
      }
    } catch (err) {
      if (!this.stopping) log(`${name} loop ended: ${err && err.message}`);
    }
  }

  // ---- sending -----------------------------------------------------------------------

  publish(type, content, parent, metadata, buffers) {
    this.lastStream = null;
    this.iopubOut.push(this.session.frames(type, content, parent, [Buffer.from(type)], metadata, buffers));
  }

  /** Stream text is coalesced into the last queued, not yet sent, stream message. */
  stream(name, text, parent) {
    const last = this.lastStream;
    if (last && !last.sent && last.name === name && last.parent === parent) {
      last.text += text;
      return;
    }
    const item = { name, text, parent, sent: false };
    this.lastStream = item;
    this.iopubOut.push(() => {
      item.sent = true;
      return this.session.frames("stream", { name, text: item.text }, parent, [Buffer.from(`stream.${name}`)]);
    });
  }

  reply(msg, type, content, metadata) {
    this.shellOut.push(this.session.frames(type, content, msg.header, msg.idents, metadata));
  }

  status(state, parent) {
    this.publish("status", { execution_state: state }, parent);
  }

  // ---- shell -------------------------------------------------------------------------

  dispatch(msg) {
    const type = msg.header.msg_type;
    if (type === "execute_request") {
      this.queue.push(msg);
      this.pump();
      return;
    }
    this.status("busy", msg.header);
    try {
      this.handle(type, msg);
    } catch (err) {
      const e = formatError(err);
      log(`${type} failed: ${e.traceback.join("\n")}`);
      if (type.endsWith("_request")) this.reply(msg, type.replace(/_request$/, "_reply"), { status: "error", ...e });
    }
    this.status("idle", msg.header);
  }

  handle(type, msg) {
    const c = msg.content || {};
    switch (type) {
      case "kernel_info_request":
        return this.reply(msg, "kernel_info_reply", this.info);
      case "is_complete_request":
        return this.reply(msg, "is_complete_reply", require("./transform").isComplete(String(c.code || "")));
      case "complete_request":
        return this.reply(msg, "complete_reply", require("./complete").complete(String(c.code || ""), c.cursor_pos));
      case "inspect_request":
        return this.reply(
          msg,
          "inspect_reply",
          require("./complete").inspect(String(c.code || ""), c.cursor_pos, c.detail_level || 0),
        );
      case "history_request":
        return this.reply(msg, "history_reply", { status: "ok", history: [] });
      case "comm_info_request":
        return this.reply(msg, "comm_info_reply", { status: "ok", comms: this.comms.info(c.target_name) });
      case "comm_open":
        return this.comms.handleOpen(msg);
      case "comm_msg":
        return this.comms.handleMsg(msg);
      case "comm_close":
        return this.comms.handleClose(msg);
      case "shutdown_request":
        this.reply(msg, "shutdown_reply", { status: "ok", restart: !!c.restart });
        return this.shutdown(!!c.restart);
      case "interrupt_request":
        this.reply(msg, "interrupt_reply", { status: "ok" });
        return this.executor.onSigint();
      default:
        log(`unsupported message type ${type} ignored`);
        return undefined;
    }
  }

  async pump() {
    if (this.executing) return;
    this.executing = true;
    try {
      while (this.queue.length && !this.stopping) {
        await this.runExecute(this.queue.shift());
      }
    } finally {
      this.executing = false;
    }
  }

  async runExecute(msg) {
    const c = msg.content || {};
    const silent = !!c.silent;
    const storeHistory = c.store_history === undefined ? !silent : !!c.store_history && !silent;
    this.status("busy", msg.header);
    if (storeHistory) this.count += 1;
    if (!silent) this.publish("execute_input", { code: String(c.code || ""), execution_count: this.count }, msg.header);
    const started = new Date().toISOString();
    let content;
    try {
      content = await this.executor.execute(msg, this.count);
    } catch (err) {
      log(`execute failed inside the kernel: ${err && err.stack}`);
      content = { status: "error", execution_count: this.count, ...formatError(err) };
    }
    this.reply(msg, "execute_reply", content, { started, status: content.status });
    this.status("idle", msg.header);
    if (content.status === "error" && c.stop_on_error !== false) this.abortQueued();
  }

  /** After an error, requests already queued are answered "aborted" (as ipykernel does). */
  abortQueued() {
    const queued = this.queue.splice(0);
    for (const msg of queued) {
      this.status("busy", msg.header);
      this.reply(msg, "execute_reply", { status: "aborted", execution_count: this.count }, { status: "aborted" });
      this.status("idle", msg.header);
    }
  }

  // ---- stdin -------------------------------------------------------------------------

  requestInput(cell, prompt, password) {
    if (!cell || !cell.msg.content.allow_stdin) {
      const error = new Error("no input: the client did not allow stdin (code runs unattended)");
      return Promise.reject(Object.assign(error, { name: "EOFError" }));
    }
    if (this.pendingInput) return Promise.reject(new Error("another input request is pending"));
    return new Promise((resolve, reject) => {
      this.pendingInput = { resolve, reject };
      this.stdinOut.push(this.session.frames("input_request", { prompt, password }, cell.header, cell.msg.idents));
    });
  }

  cancelInput(error) {
    const p = this.pendingInput;
    this.pendingInput = null;
    if (p) p.reject(Object.assign(new Error(error.message), { name: error.name }));
  }

  onStdin(msg) {
    if (msg.header.msg_type !== "input_reply" || !this.pendingInput) return;
    const p = this.pendingInput;
    this.pendingInput = null;
    const value = String(msg.content.value === undefined ? "" : msg.content.value);
    // "\x04" is Jupyter's end of input (ipykernel raises EOFError on it).
    if (value === "\x04") {
      const error = new Error("EOF when reading input: the client has no more input");
      p.reject(Object.assign(error, { name: "EOFError" }));
      return;
    }
    p.resolve(value);
  }

  /** Tell the worker the interrupts it asked for were delivered (it re-sends otherwise). */
  interruptHandled() {
    Atomics.store(this.flags, 2, Atomics.load(this.flags, 1));
  }

  // ---- shutdown ----------------------------------------------------------------------

  stopWorkerSync() {
    if (this.workerExited || !this.worker) return;
    this.worker.postMessage({ type: "stop" });
    Atomics.wait(this.flags, 0, 0, 1000);
  }

  async shutdown(restart) {
    if (this.stopping) return;
    this.stopping = true;
    this.publish("shutdown_reply", { status: "ok", restart }, {});
    await Promise.race([
      Promise.all([this.iopubOut.flush(), this.shellOut.flush()]),
      new Promise((r) => setTimeout(r, 1000)),
    ]);
    process.exit(0);
  }

  /** Close every socket (worker first, synchronously): safe to call right before exiting. */
  closeSync() {
    this.stopping = true;
    this.stopWorkerSync();
    for (const s of [this.shell, this.stdin, this.iopub]) {
      try {
        if (s && !s.closed) s.close();
      } catch (_err) {
        // already closed
      }
    }
  }
}

async function main(connectionFile) {
  if (!connectionFile) {
    log("usage: node kernel.js <connection_file>");
    process.exit(2);
  }
  const conn = JSON.parse(fs.readFileSync(connectionFile, "utf8"));
  const kernel = new Kernel(conn);
  try {
    await kernel.start();
  } catch (err) {
    log(`failed to start: ${err && err.stack}`);
    kernel.closeSync();
    process.exit(1);
  }
  return kernel;
}

module.exports = { Kernel, main, kernelInfo };
