"use strict";
// Jupyter comms in both directions, exposed to user code as `$$.comm`.

const crypto = require("crypto");
const { formatError } = require("./display");

function toBuffers(buffers) {
  if (!buffers) return [];
  return buffers.map((b) => {
    if (Buffer.isBuffer(b)) return b;
    if (ArrayBuffer.isView(b)) return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    if (b instanceof ArrayBuffer) return Buffer.from(b);
    return Buffer.from(String(b));
  });
}

// A comm's links to the kernel live here, out of reach of cell code that holds the comm
// (cells get comms from `$$.comm`; nothing of the kernel may be reachable from them).
const internals = new WeakMap();

class Comm {
  /** One end of a comm: `send`, `onMsg`, `onClose`, `close`. */
  constructor(manager, id, target) {
    this.id = id;
    this.target = target;
    internals.set(this, { manager, onMsg: [], onClose: [], closed: false });
  }

  get closed() {
    return internals.get(this).closed;
  }

  send(data, metadata, buffers) {
    const self = internals.get(this);
    if (self.closed) throw new Error(`comm ${this.id} (${this.target}) is closed`);
    self.manager.publish("comm_msg", { comm_id: this.id, data: data === undefined ? {} : data }, metadata, buffers);
    return this;
  }

  onMsg(callback) {
    internals.get(this).onMsg.push(callback);
    return this;
  }

  onClose(callback) {
    internals.get(this).onClose.push(callback);
    return this;
  }

  close(data, metadata) {
    const self = internals.get(this);
    if (self.closed) return;
    self.closed = true;
    self.manager.forget(this);
    self.manager.publish("comm_close", { comm_id: this.id, data: data === undefined ? {} : data }, metadata);
  }
}

class CommManager {
  constructor(kernel) {
    this.kernel = kernel;
    this.comms = new Map();
    this.unlisted = new Set();
    this.targets = new Map();
    const self = this;
    this.api = Object.freeze({
      /** `options.unlisted`: `get` and `list` do not return the comm (only its opener has it). */
      open(target, data, metadata, buffers, options) {
        const comm = self.open(String(target), data, metadata, buffers);
        if (options && options.unlisted) self.unlisted.add(comm.id);
        return comm;
      },
      registerTarget(name, callback) {
        if (typeof callback !== "function") throw new TypeError("registerTarget(name, callback): callback must be a function");
        self.targets.set(String(name), callback);
      },
      unregisterTarget(name) {
        return self.targets.delete(String(name));
      },
      get(id) {
        return self.unlisted.has(id) ? undefined : self.comms.get(id);
      },
      list() {
        return [...self.comms.values()].filter((c) => !self.unlisted.has(c.id));
      },
    });
  }

  get executor() {
    return this.kernel.executor;
  }

  publish(type, content, metadata, buffers) {
    const ctx = this.executor.context();
    this.kernel.publish(type, content, ctx ? ctx.parent : {}, metadata || {}, toBuffers(buffers));
  }

  forget(comm) {
    this.comms.delete(comm.id);
    this.unlisted.delete(comm.id);
  }

  open(target, data, metadata, buffers) {
    const comm = new Comm(this, crypto.randomUUID().replace(/-/g, ""), target);
    this.comms.set(comm.id, comm);
    this.publish("comm_open", { comm_id: comm.id, target_name: target, data: data === undefined ? {} : data }, metadata, buffers);
    return comm;
  }

  _call(callbacks, msg, ...args) {
    for (const cb of callbacks) {
      this.executor.runFor(msg, () => {
        try {
          const r = cb(...args);
          if (r && typeof r.then === "function") r.then(null, (e) => this._report(e));
        } catch (e) {
          this._report(e);
        }
      });
    }
  }

  _report(error) {
    const e = formatError(error);
    this.executor.write("stderr", `Error in comm handler: ${e.traceback.join("\n")}\n`);
  }

  _view(msg) {
    return { header: msg.header, content: msg.content, metadata: msg.metadata, buffers: msg.buffers };
  }

  handleOpen(msg) {
    const { comm_id: id, target_name: target, data } = msg.content;
    const callback = this.targets.get(target);
    if (!callback) {
      // Tell the other side there is nobody here (ipykernel does the same).
      this.kernel.publish("comm_close", { comm_id: id, data: {} }, msg.header);
      return;
    }
    const comm = new Comm(this, id, target);
    this.comms.set(id, comm);
    this._call([callback], msg, comm, data, this._view(msg));
  }

  handleMsg(msg) {
    const comm = this.comms.get(msg.content.comm_id);
    if (comm) this._call(internals.get(comm).onMsg, msg, msg.content.data, this._view(msg));
  }

  handleClose(msg) {
    const comm = this.comms.get(msg.content.comm_id);
    if (!comm) return;
    internals.get(comm).closed = true;
    this.forget(comm);
    this._call(internals.get(comm).onClose, msg, msg.content.data, this._view(msg));
  }

  info(targetName) {
    const comms = {};
    for (const c of this.comms.values()) {
      if (!targetName || c.target === targetName) comms[c.id] = { target_name: c.target };
    }
    return comms;
  }
}

module.exports = { CommManager, Comm };
