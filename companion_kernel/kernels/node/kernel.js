#!/usr/bin/env node
"use strict";
// companion-node: a JavaScript Jupyter kernel. Usage: node kernel.js <connection_file>
require("./lib/kernel").main(process.argv[2]);
