"use strict";
// Jupyter wire protocol 5.3: framing, HMAC signing, message construction.
// Shared by the main thread (shell, iopub, stdin) and the worker (control, heartbeat).

const crypto = require("crypto");
const { setImmediate } = require("timers");

// Captured now: user code shares this realm and may replace JSON's methods.
const { stringify, parse } = JSON;

const DELIMITER = "<IDS|MSG>";
const PROTOCOL_VERSION = "5.3";

function endpoint(conn, port) {
  const transport = conn.transport || "tcp";
  if (transport === "ipc") return `ipc://${conn.ip}-${port}`;
  return `${transport}://${conn.ip}:${port}`;
}

class Session {
  /** Signs, verifies and builds messages for one kernel session. */
  constructor(key, scheme) {
    this.key = key || "";
    const algo = (scheme || "hmac-sha256").replace(/^hmac-/, "");
    this.algo = algo;
    this.id = crypto.randomUUID();
    this.username = "kernel";
  }

  sign(parts) {
    if (!this.key) return "";
    const hmac = crypto.createHmac(this.algo, this.key);
    for (const p of parts) hmac.update(p);
    return hmac.digest("hex");
  }

  header(msgType) {
    return {
      msg_id: crypto.randomUUID(),
      msg_type: msgType,
      username: this.username,
      session: this.id,
      date: new Date().toISOString(),
      version: PROTOCOL_VERSION,
    };
  }

  /** Parse ZeroMQ frames into a message; returns null when the signature does not match. */
  parse(frames) {
    let i = 0;
    while (i < frames.length && frames[i].toString() !== DELIMITER) i++;
    if (i >= frames.length || frames.length < i + 6) return null;
    const idents = frames.slice(0, i);
    const signature = frames[i + 1].toString();
    const parts = frames.slice(i + 2, i + 6);
    if (this.key) {
      const expected = Buffer.from(this.sign(parts));
      const got = Buffer.from(signature);
      if (expected.length !== got.length || !crypto.timingSafeEqual(expected, got)) return null;
    }
    const [header, parent, metadata, content] = parts.map((p) => parse(p.toString()));
    return { idents, header, parent_header: parent, metadata, content, buffers: frames.slice(i + 6) };
  }

  /** Build the frames of a new message (header created here). */
  frames(msgType, content, parent, idents, metadata, buffers) {
    const msg = {
      header: this.header(msgType),
      parent_header: parent || {},
      metadata: metadata || {},
      content: content || {},
    };
    return this.serialize(msg, idents, buffers);
  }

  serialize(msg, idents, buffers) {
    const parts = [
      stringify(msg.header),
      stringify(msg.parent_header),
      stringify(msg.metadata, jsonSafe),
      stringify(msg.content, jsonSafe),
    ];
    return [...(idents || []), DELIMITER, this.sign(parts), ...parts, ...(buffers || [])];
  }
}

// JSON.stringify replacer: BigInt has no JSON form; never let one crash a reply.
function jsonSafe(_key, value) {
  return typeof value === "bigint" ? value.toString() : value;
}

class SendQueue {
  /** zeromq@6 allows one pending send per socket: serialize them, never throw. */
  constructor(socket, log) {
    this.socket = socket;
    this.log = log;
    this.queue = [];
    this.running = false;
    this.closed = false;
  }

  push(frames) {
    if (this.closed) return;
    this.queue.push(frames);
    if (!this.running) this._drain();
  }

  /** Resolves once everything queued so far has been handed to ZeroMQ. */
  async flush() {
    while (this.running || this.queue.length) {
      await new Promise((r) => setImmediate(r));
    }
  }

  async _drain() {
    this.running = true;
    try {
      while (this.queue.length && !this.closed) {
        const item = this.queue.shift();
        const frames = typeof item === "function" ? item() : item;
        if (!frames) continue;
        try {
          await this.socket.send(frames);
        } catch (err) {
          this.log(`send failed: ${err && err.message}`);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

module.exports = { DELIMITER, PROTOCOL_VERSION, Session, SendQueue, endpoint };
