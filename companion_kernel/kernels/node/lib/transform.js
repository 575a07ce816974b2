"use strict";
// Rewrites a cell so that it can run again and again in one global scope:
// - top-level `let`/`const`/`class` become `var`-like globals (re-running a cell works);
// - code with top-level `await` is wrapped in an async arrow function whose declarations are
//   hoisted to globals and whose last expression is returned;
// - static `import`/`export` are turned into dynamic `import()` / plain declarations.
// Line numbers are preserved (nothing inserts a newline before user code).

const acorn = require("acorn");

const SCRIPT = {
  ecmaVersion: "latest",
  sourceType: "script",
  allowAwaitOutsideFunction: true,
  allowHashBang: true,
};
const MODULE = { ...SCRIPT, sourceType: "module" };
const MODULE_SYNTAX = /'import' and 'export' may appear only with 'sourceType: module'/;

const FUNCTION_TYPES = new Set([
  "FunctionDeclaration",
  "FunctionExpression",
  "ArrowFunctionExpression",
]);

function parse(code) {
  return acorn.parse(code, SCRIPT);
}

function children(node) {
  const out = [];
  for (const key of Object.keys(node)) {
    const v = node[key];
    if (!v || typeof v !== "object") continue;
    if (Array.isArray(v)) {
      for (const c of v) if (c && typeof c.type === "string") out.push(c);
    } else if (typeof v.type === "string") {
      out.push(v);
    }
  }
  return out;
}

function patternNames(p, out = []) {
  if (!p) return out;
  switch (p.type) {
    case "Identifier":
      out.push(p.name);
      break;
    case "ObjectPattern":
      for (const prop of p.properties) patternNames(prop.type === "RestElement" ? prop : prop.value, out);
      break;
    case "ArrayPattern":
      for (const el of p.elements) patternNames(el, out);
      break;
    case "AssignmentPattern":
      patternNames(p.left, out);
      break;
    case "RestElement":
      patternNames(p.argument, out);
      break;
    default:
      break;
  }
  return out;
}

function applyEdits(code, edits) {
  // Stable order: by position, insertion order for ties; apply from the end.
  const sorted = edits.map((e, i) => ({ ...e, i })).sort((a, b) => a.start - b.start || a.i - b.i);
  let out = "";
  let pos = 0;
  for (const e of sorted) {
    out += code.slice(pos, e.start) + e.text;
    pos = e.end;
  }
  return out + code.slice(pos);
}

function hasTopLevelAwait(node) {
  if (node.type === "AwaitExpression") return true;
  if (node.type === "ForOfStatement" && node.await) return true;
  if (FUNCTION_TYPES.has(node.type)) return false;
  return children(node).some(hasTopLevelAwait);
}

function stringLiteral(node, code) {
  return code.slice(node.start, node.end);
}

/** Replace static import/export syntax (only valid in modules) by script equivalents. */
function rewriteModuleSyntax(code) {
  const ast = acorn.parse(code, MODULE);
  const edits = [];
  for (const node of ast.body) {
    if (node.type === "ImportDeclaration") {
      let source = stringLiteral(node.source, code);
      if (node.attributes && node.attributes.length) {
        const attrs = node.attributes.map((a) => code.slice(a.start, a.end)).join(", ");
        source += `, { with: { ${attrs} } }`;
      }
      const load = `await import(${source})`;
      const ns = node.specifiers.find((s) => s.type === "ImportNamespaceSpecifier");
      const def = node.specifiers.find((s) => s.type === "ImportDefaultSpecifier");
      const named = node.specifiers.filter((s) => s.type === "ImportSpecifier");
      let text;
      if (ns) {
        text = `const ${ns.local.name} = ${load};`;
        if (def) text += ` const ${def.local.name} = ${ns.local.name}.default;`;
      } else if (def || named.length) {
        const fields = [];
        if (def) fields.push(`default: ${def.local.name}`);
        for (const s of named) {
          const imported = s.imported.type === "Literal" ? s.imported.raw : s.imported.name;
          fields.push(imported === s.local.name ? imported : `${imported}: ${s.local.name}`);
        }
        text = `const { ${fields.join(", ")} } = ${load};`;
      } else {
        text = `${load};`;
      }
      edits.push({ start: node.start, end: node.end, text });
    } else if (node.type === "ExportNamedDeclaration") {
      if (node.declaration) edits.push({ start: node.start, end: node.declaration.start, text: "" });
      else edits.push({ start: node.start, end: node.end, text: ";" });
    } else if (node.type === "ExportAllDeclaration") {
      edits.push({ start: node.start, end: node.end, text: ";" });
    } else if (node.type === "ExportDefaultDeclaration") {
      const d = node.declaration;
      const named = (d.type === "FunctionDeclaration" || d.type === "ClassDeclaration") && d.id;
      if (named) {
        edits.push({ start: node.start, end: d.start, text: "" });
      } else {
        edits.push({ start: node.start, end: d.start, text: "(" });
        edits.push({ start: d.end, end: d.end, text: ");" });
      }
    }
  }
  return applyEdits(code, edits);
}

/** Names a cell declares at top level with let/const/class (each becomes a global). */
function lexicalNames(ast) {
  const names = [];
  for (const node of ast.body) {
    if (node.type === "VariableDeclaration" && node.kind !== "var") {
      for (const d of node.declarations) patternNames(d.id, names);
    } else if (node.type === "ClassDeclaration") {
      names.push(node.id.name);
    }
  }
  return [...new Set(names)];
}

/**
 * Make `names` assignable on `target` before a cell declares them. A real `const crypto`
 * shadows Node's global; as a `var` it would assign through the global's getter-only
 * accessor (Web Crypto, navigator...) and silently keep the global. Configurable accessor
 * or read-only globals become plain writable properties; others are left alone.
 */
function claimGlobals(names, target = globalThis) {
  for (const name of names) {
    const d = Object.getOwnPropertyDescriptor(target, name);
    if (d && d.configurable && (d.get || d.set || !d.writable)) {
      Object.defineProperty(target, name, {
        value: undefined,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
  }
}

function syncEdits(ast, code) {
  const edits = [];
  for (const node of ast.body) {
    if (node.type === "VariableDeclaration" && node.kind !== "var") {
      const text = node.kind === "const" ? "var  " : "var";
      edits.push({ start: node.start, end: node.start + node.kind.length, text });
    } else if (node.type === "ClassDeclaration") {
      edits.push({ start: node.start, end: node.start, text: `var ${node.id.name} = ` });
      edits.push({ start: node.end, end: node.end, text: ";" });
    }
  }
  return applyEdits(code, edits);
}

function declarationEdits(node, edits, names, inForHead) {
  for (const d of node.declarations) names.push(...patternNames(d.id));
  if (inForHead) {
    edits.push({ start: node.start, end: node.start + node.kind.length, text: " ".repeat(node.kind.length) });
    return;
  }
  const first = node.declarations[0];
  const last = node.declarations[node.declarations.length - 1];
  edits.push({ start: node.start, end: first.start, text: "void (" });
  for (const d of node.declarations) {
    if (!d.init && node.kind !== "var") edits.push({ start: d.id.end, end: d.id.end, text: " = undefined" });
  }
  edits.push({ start: last.end, end: last.end, text: ")" });
}

// `var` anywhere outside functions belongs to the global scope: hoist it too.
function nestedVarEdits(node, edits, names, parent) {
  if (FUNCTION_TYPES.has(node.type)) return;
  if (node.type === "VariableDeclaration" && node.kind === "var") {
    const inForHead =
      parent &&
      ((parent.type === "ForStatement" && parent.init === node) ||
        ((parent.type === "ForInStatement" || parent.type === "ForOfStatement") && parent.left === node));
    declarationEdits(node, edits, names, inForHead);
    for (const d of node.declarations) if (d.init) nestedVarEdits(d.init, edits, names, d);
    return;
  }
  for (const c of children(node)) nestedVarEdits(c, edits, names, node);
}

function asyncWrap(ast, code) {
  const edits = [];
  const names = [];
  for (const node of ast.body) {
    if (node.type === "VariableDeclaration") {
      declarationEdits(node, edits, names, false);
      for (const d of node.declarations) if (d.init) nestedVarEdits(d.init, edits, names, d);
    } else if (node.type === "FunctionDeclaration") {
      names.push(node.id.name);
      edits.push({ start: node.start, end: node.start, text: `this.${node.id.name} = ${node.id.name}; ` });
    } else if (node.type === "ClassDeclaration") {
      names.push(node.id.name);
      edits.push({ start: node.start, end: node.start, text: `${node.id.name} = ` });
      edits.push({ start: node.end, end: node.end, text: ";" });
    } else {
      nestedVarEdits(node, edits, names, ast);
    }
  }
  const last = ast.body[ast.body.length - 1];
  if (last && last.type === "ExpressionStatement" && !last.directive) {
    // Wrap the whole statement, not `last.expression`: acorn drops redundant parentheses,
    // so for `({a: 1})` the expression starts inside them.
    const end = code[last.end - 1] === ";" ? last.end - 1 : last.end;
    edits.push({ start: last.start, end: last.start, text: "return (" });
    edits.push({ start: end, end, text: ")" });
  }
  const unique = [...new Set(names)];
  const prelude = (unique.length ? `var ${unique.join(", ")}; ` : "") + "(async () => {";
  return `${prelude}${applyEdits(code, edits)}\n})()`;
}

/**
 * Rewrite a cell. Returns {code, async, lexical} (`lexical`: the names to `claimGlobals`
 * once the code compiles); on a syntax error returns {code: original, error} so the
 * caller can let V8 report it with its usual message.
 */
function transform(original) {
  let code = original;
  if (code.startsWith("#!")) code = "//" + code.slice(2);
  let ast;
  try {
    ast = parse(code);
  } catch (err) {
    if (!MODULE_SYNTAX.test(err.message)) return { code: original, async: false, error: err };
    try {
      code = rewriteModuleSyntax(code);
      ast = parse(code);
    } catch (err2) {
      return { code: original, async: false, error: err2 };
    }
  }
  const lexical = lexicalNames(ast);
  if (hasTopLevelAwait(ast)) return { code: asyncWrap(ast, code), async: true, lexical };
  return { code: syncEdits(ast, code), async: false, lexical };
}

/** Jupyter is_complete: "complete", "incomplete" (needs more lines) or "invalid". */
function isComplete(code) {
  if (!code.trim()) return { status: "complete" };
  try {
    parse(code);
    return { status: "complete" };
  } catch (err) {
    if (MODULE_SYNTAX.test(err.message)) {
      try {
        acorn.parse(code, MODULE);
        return { status: "complete" };
      } catch (err2) {
        err = err2;
      }
    }
    const atEnd = err.pos >= code.trimEnd().length;
    if (atEnd || /^Unterminated (template|comment)/.test(err.message)) {
      return { status: "incomplete", indent: indentFor(code) };
    }
    return { status: "invalid" };
  }
}

function indentFor(code) {
  const lastLine = code.split("\n").pop();
  const current = (lastLine.match(/^\s*/) || [""])[0];
  return /[{([]\s*$/.test(lastLine) ? current + "  " : current;
}

module.exports = { transform, isComplete, rewriteModuleSyntax, patternNames, claimGlobals };
