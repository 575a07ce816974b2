"use strict";
// Worker thread: heartbeat and control channel. They must keep working while user code
// blocks the main thread, so they live here. An interrupt_request becomes a SIGINT to our
// own process, which breaks a synchronous loop (vm breakOnSigint) or, when the main thread
// is free, reaches its SIGINT handler that aborts the pending cell.

const fs = require("fs");
const { setTimeout, setInterval, clearInterval } = require("timers");
const { parentPort, workerData } = require("worker_threads");
const zmq = require("zeromq");
const { Session, SendQueue, endpoint } = require("./wire");

const { conn, sessionId, kernelInfo, flags } = workerData;
const RETRY_MS = 100;
const RETRIES = 20;
const session = new Session(conn.key, conn.signature_scheme);
session.id = sessionId;

const log = (m) => fs.writeSync(2, `[companion-node:control] ${m}\n`);

const hb = new zmq.Reply({ linger: 0 });
const control = new zmq.Router({ linger: 0 });
const controlOut = new SendQueue(control, log);
let stopping = false;
let pollTimer = null;

async function heartbeat() {
  for await (const frames of hb) {
    if (stopping) break;
    await hb.send(frames);
  }
}

function reply(msg, type, content) {
  controlOut.push(session.frames(type, content, msg.header, msg.idents));
}

function requestExit(restart) {
  parentPort.postMessage({ type: "shutdown", restart });
  // The main thread may be stuck in user code; do not let a shutdown hang forever.
  setTimeout(() => process.kill(process.pid, "SIGTERM"), 2000).unref();
}

async function controlLoop() {
  for await (const frames of control) {
    let msg;
    try {
      msg = session.parse(frames);
    } catch (err) {
      log(`bad message: ${err.message}`);
      continue;
    }
    if (!msg) {
      log("invalid signature on control message; dropped");
      continue;
    }
    const type = msg.header.msg_type;
    if (type === "kernel_info_request") {
      reply(msg, "kernel_info_reply", kernelInfo);
    } else if (type === "interrupt_request") {
      reply(msg, "interrupt_reply", { status: "ok" });
      interrupt();
    } else if (type === "shutdown_request") {
      const restart = !!msg.content.restart;
      reply(msg, "shutdown_reply", { status: "ok", restart });
      await controlOut.flush();
      requestExit(restart);
    } else {
      reply(msg, type.replace(/_request$/, "_reply"), {
        status: "error",
        ename: "NotImplemented",
        evalue: `${type} is not supported on the control channel`,
        traceback: [],
      });
    }
  }
}

// A SIGINT that lands while Node switches its breakOnSigint watchdog on or off is lost,
// so keep sending it until the main thread reports the interrupt as handled.
function interrupt() {
  const wanted = Atomics.add(flags, 1, 1) + 1;
  process.kill(process.pid, "SIGINT");
  let tries = 0;
  const timer = setInterval(() => {
    if (stopping || Atomics.load(flags, 2) >= wanted || ++tries > RETRIES) {
      clearInterval(timer);
      return;
    }
    process.kill(process.pid, "SIGINT");
  }, RETRY_MS);
}

// jupyter_client sets JPY_PARENT_PID; exit when that process is gone (no orphan kernels).
function watchParent() {
  const ppid = Number(process.env.JPY_PARENT_PID || 0);
  if (!ppid || ppid === 1) return;
  pollTimer = setInterval(() => {
    let alive = true;
    try {
      process.kill(ppid, 0);
    } catch (err) {
      alive = err.code === "EPERM";
    }
    if (!alive || process.ppid !== ppid) {
      log("parent process is gone; exiting");
      process.kill(process.pid, "SIGTERM");
    }
  }, 1000);
  pollTimer.unref();
}

async function stop() {
  stopping = true;
  if (pollTimer) clearInterval(pollTimer);
  controlOut.closed = true;
  for (const s of [hb, control]) {
    try {
      s.close();
    } catch (_err) {
      // already closed
    }
  }
  // The main thread may be waiting synchronously (Atomics.wait) for the sockets to close.
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  parentPort.close();
}

parentPort.on("message", (m) => {
  if (m && m.type === "stop") stop();
});

(async () => {
  await hb.bind(endpoint(conn, conn.hb_port));
  await control.bind(endpoint(conn, conn.control_port));
  watchParent();
  parentPort.postMessage({ type: "ready" });
  heartbeat().catch((e) => stopping || log(`heartbeat: ${e.message}`));
  controlLoop().catch((e) => stopping || log(`control: ${e.message}`));
})().catch((err) => {
  parentPort.postMessage({ type: "error", message: String(err && err.message) });
});
