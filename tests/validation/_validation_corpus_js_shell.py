"""JavaScript and shell corpora for the bypass classes of issue 11.

``JS_BYPASSES`` / ``SHELL_BYPASSES`` hold ``(name, code, rule)``: each passed an earlier
validator and ran code or commands; every policy with checks on must reject it with
``rule``. ``JS_BENIGN`` / ``SHELL_BENIGN`` hold ``(name, code, policies)``: ordinary code
that the named policies must accept.
"""

from __future__ import annotations

BOTH = ("strict", "standard")
"""Both presets that check code; bypass rules are asserted under ``standard``, which allows
the most (under ``strict`` some tools are not on the allow-list at all)."""

# -- JavaScript -----------------------------------------------------------------------------

JS_BYPASSES: list[tuple[str, str, str]] = [
    # The Function constructor through property descriptors and reflection.
    (
        "descriptor-value",
        "Object.getOwnPropertyDescriptor(Object.getPrototypeOf(() => 0), 'constr' + x).value",
        "js.reflect",
    ),
    (
        "descriptors-entries",
        "const d = Object.getOwnPropertyDescriptors(Object.getPrototypeOf(f));\n"
        "Object.values(d)[0].value('return 1')()",
        "js.reflect",
    ),
    ("own-property-names", "const n = Object.getOwnPropertyNames(p); p[n[0]]", "js.reflect"),
    ("reflect-own-keys", "Reflect.ownKeys(p).map(k => p[k])", "js.reflect"),
    ("reflect-get-computed", "Reflect.get(f, k)('return 1')()", "js.reflect"),
    ("reflect-apply", "Reflect.apply(g, null, ['return 1'])", "js.reflect"),
    ("prototype-of-any", "const P = Object.getPrototypeOf(obj); P.x", "js.reflect"),
    ("set-prototype-of", "Object.setPrototypeOf(o, f)", "js.reflect"),
    ("helper-through-alias", "const O = Object; O.getOwnPropertyDescriptor(f, k)", "js.reflect"),
    ("helper-destructured", "const { getPrototypeOf } = Object; getPrototypeOf(f)", "js.reflect"),
    ("define-getter-object", "({}).__lookupGetter__('x')", "js.proto"),
    # Keys joined or computed at run time, then called or passed on.
    (
        "computed-call-concat",
        "const k = 'con' + s; (() => 0)[k][k]('return 1')()",
        "js.computed-member",
    ),
    (
        "computed-template",
        "f[`${a}structor`](`return process`)()",
        "js.computed-member",
    ),
    (
        "computed-fromcharcode",
        "g[String.fromCharCode(99,111,110,115,116,114,117,99,116,111,114)]('return 1')()",
        "js.computed-member",
    ),
    ("computed-join", "g[['con', 'structor'].join('')]('return 1')()", "js.computed-member"),
    ("computed-atob", "g[atob('Y29uc3RydWN0b3I=')]('return 1')()", "js.computed-member"),
    (
        "computed-reverse",
        "g['rotcurtsnoc'.split('').reverse().join('')]('return 1')()",
        "js.computed-member",
    ),
    ("computed-stored", "function h() { const F = g[k]; return F; }", "js.computed-member"),
    ("computed-top-level-binding", "const F = g[k]; F", "js.computed-member"),
    ("computed-argument", "['return 1'].map(g[k])[0]()", "js.computed-member"),
    ("computed-push", "const a = []; a.push(g[k]); a[0]('return 1')", "js.computed-member"),
    ("computed-alias-logical", "(g[k] || 0)('return 1')", "js.computed-member"),
    ("computed-comma", "(0, g[k])('return 1')", "js.computed-member"),
    ("computed-await", "(await g[k])('return 1')", "js.computed-member"),
    ("computed-new", "new g[k]('return 1')", "js.computed-member"),
    ("computed-tagged", "g[k]`return 1`", "js.computed-member"),
    ("computed-bind", "g[k].bind(null, 'return 1')()()", "js.computed-member"),
    ("computed-call-method", "g[k].call(null, 'return 1')()", "js.computed-member"),
    ("computed-nested", "o[a][b]('x')", "js.computed-member"),
    ("computed-copy", "dst.run = src[k]; dst.run('return 1')()", "js.computed-member"),
    ("computed-object-value", "const o = { f: g[k] }; o.f('return 1')()", "js.computed-member"),
    ("computed-return-arrow", "const pick = (o, k) => o[k]", "js.computed-member"),
    ("computed-destructure", "const { [k]: F } = g; F('return 1')()", "js.computed-member"),
    ("computed-proxy-trap", "new Proxy({}, { get: (t, k) => t[k] })", "js.computed-member"),
    ("super-computed", "({ m() { return super[k]('x') } })", "js.computed-member"),
    # .constructor chains of any function kind, __proto__, getPrototypeOf.
    ("async-constructor-chain", "(async () => {}).constructor('return 1')", "js.constructor"),
    ("generator-constructor-chain", "(function* () {}).constructor", "js.constructor"),
    ("class-constructor-chain", "(class {}).constructor('return 1')", "js.constructor"),
    ("super-constructor", "({ m() { return super.constructor } })", "js.constructor"),
    ("proto-in-literal", "const o = { __proto__: f }", "js.proto"),
    ("proto-computed-literal", "x['__pro' + 'to__']", "js.proto"),
    ("get-prototype-chain", "Object.getPrototypeOf(Object.getPrototypeOf(f))", "js.reflect"),
    ("with-statement-global", "with (globalThis) { eval('1') }", "js.with"),
    # import() of computed specifiers.
    ("import-template-substitution", "import(`child_${'process'}`)", "js.require"),
    ("import-variable", "const m = 'vm'; import(m)", "js.require"),
    ("require-computed-call", "require(['child', 'process'].join('_'))", "js.require"),
    ("require-resolve", "require.resolve('child_process')", "js.require"),
    # Private members of the objects the engine injects ($$ and display handles).
    ("dollar-private", "$$._comm", "js.private"),
    ("dollar-private-anything", "$$._anything.kernel", "js.private"),
    ("display-handle-private", "$$.display('a')._x.kernel", "js.private"),
    ("display-handle-alias", "const h = $$.display(); h._x", "js.private"),
    ("display-function-private", "display._plain", "js.private"),
    ("dollar-computed", "$$[k]", "js.private"),
    ("dollar-destructure-private", "const { _x } = $$.display()", "js.private"),
    ("display-handle-executor", "[$$.display()].map(h => h._x)", "js.private"),
]

JS_BENIGN: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "object-key-loop",
        """\
const totals = {};
for (const row of [{ k: 'a', v: 1 }, { k: 'b', v: 2 }]) {
  totals[row.k] = (totals[row.k] || 0) + row.v;
}
for (const key of Object.keys(totals)) {
  console.log(key, totals[key]);
}
""",
        BOTH,
    ),
    (
        "array-index-loop",
        """\
const xs = [5, 3, 8, 1];
for (let i = 0; i < xs.length; i++) {
  for (let j = i + 1; j < xs.length; j++) {
    if (xs[j] < xs[i]) [xs[i], xs[j]] = [xs[j], xs[i]];
  }
}
console.log(xs, xs[xs.length - 1]);
""",
        BOTH,
    ),
    (
        "word-count",
        """\
const text = 'a b a c b a';
const counts = {};
for (const w of text.split(' ')) counts[w] = (counts[w] ?? 0) + 1;
const top = Object.entries(counts).sort((a, b) => b[1] - a[1]);
console.log(top[0], `${top.length} words`);
""",
        BOTH,
    ),
    (
        "grouping",
        """\
const people = [{ name: 'a', team: 'x' }, { name: 'b', team: 'y' }];
const byTeam = {};
for (const p of people) {
  (byTeam[p.team] ||= []).push(p.name);
}
console.log(JSON.stringify(byTeam));
""",
        BOTH,
    ),
    (
        "computed-read-in-block",
        """\
function total(rows, col) {
  let sum = 0;
  for (const r of rows) {
    const v = r[col];
    if (typeof v === 'number') sum += v;
  }
  return sum;
}
console.log(total([{ a: 1 }, { a: 2 }], 'a'));
""",
        BOTH,
    ),
    (
        "classes-inheritance",
        """\
class Shape {
  constructor(name) { this.name = name; }
  area() { return 0; }
  toString() { return `${this.constructor.name}(${this.name})`; }
}
class Square extends Shape {
  constructor(side) { super('square'); this.side = side; }
  area() { return this.side ** 2; }
}
console.log(String(new Square(3)), new Square(2).area());
""",
        BOTH,
    ),
    (
        "map-set-json",
        """\
const m = new Map();
m.set('a', 1).set('b', 2);
const s = new Set([...m.keys(), 'c']);
console.log(JSON.stringify([...m]), s.has('c'), JSON.parse('{"x": [1, 2]}').x[1]);
""",
        BOTH,
    ),
    (
        "async-fetchless",
        """\
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function main() {
  const results = [];
  for (const n of [1, 2, 3]) {
    await sleep(1);
    results.push(n * n);
  }
  return results;
}
main().then((r) => console.log(r));
""",
        BOTH,
    ),
    (
        "allowed-requires",
        """\
const { createHash } = require('crypto');
const path = require('node:path');
const util = require('util');
console.log(createHash('sha256').update('x').digest('hex'), path.extname('a.txt'));
console.log(util.inspect({ a: 1 }));
""",
        BOTH,
    ),
    (
        "fs-standard",
        """\
const fs = require('fs');
fs.writeFileSync('out.json', JSON.stringify({ ok: true }));
const data = JSON.parse(fs.readFileSync('out.json', 'utf8'));
console.log(data['ok']);
""",
        ("standard",),
    ),
    (
        "string-building-as-data",
        """\
const grid = {};
for (let x = 0; x < 3; x++) {
  for (let y = 0; y < 3; y++) grid[`${x},${y}`] = x * y;
}
console.log(grid['2,2'], grid[[1, 1].join(',')] + 1);
""",
        BOTH,
    ),
    (
        "lookup-table-methods",
        """\
const units = { km: 1000, m: 1 };
const unit = 'km';
console.log(units[unit] * 3, 'abc'[1].toUpperCase(), [3, 1, 2].sort()[0].toFixed(1));
""",
        BOTH,
    ),
    (
        "display-public",
        "$$.html('<b>hi</b>');\nconst h = $$.display('p');\nh.text('50%');\ndisplay({ a: 1 });\n",
        BOTH,
    ),
    (
        "reduce-and-sinks",
        """\
const rows = [{ price: 2, qty: 3 }, { price: 5, qty: 1 }];
const key = 'price';
const sum = rows.reduce((acc, r) => acc + r[key] * r.qty, 0);
console.log(sum, Math.max(rows[0][key], rows[1][key]), String(rows[0][key]));
""",
        BOTH,
    ),
    (
        "private-members-of-own-classes",
        """\
class Queue {
  constructor() { this._items = []; }
  push(x) { this._items.push(x); return this; }
  get size() { return this._items.length; }
}
console.log(new Queue().push(1).size);
""",
        BOTH,
    ),
]

# Ordinary code the rule for computed reads turns away (the cost of closing the class):
# a value read with a run-time key that is returned, passed on or stored.
JS_REJECTED_ORDINARY: list[tuple[str, str]] = [
    (
        "matrix",
        """\
const m = [[1, 2], [3, 4]];
const t = m[0].map((_, c) => m.map((row) => row[c]));
console.log(t, m[1][0] * m[0][1]);
""",
    ),
    ("pluck", "const pick = (rows, col) => rows.map((r) => r[col]);\n"),
    ("collect", "const out = [];\nfor (const k of keys) out.push(obj[k]);\n"),
    ("dispatch", "const ops = { add: (a, b) => a + b };\nconsole.log(ops[op](1, 2));\n"),
]

# -- Shell ----------------------------------------------------------------------------------

SHELL_BYPASSES: list[tuple[str, str, str]] = [
    # GNU long-option abbreviations: any unambiguous prefix of a dangerous option.
    ("sed-file-abbrev", "sed --fi=prog.sed data.txt", "shell.option"),
    ("sed-in-place-abbrev", "sed --in-pl 's/a/b/' notes.txt", "shell.option"),
    ("sed-in-place-shortest", "sed --in 's/a/b/' notes.txt", "shell.option"),
    ("sed-expression-abbrev-e", "sed --exp='1e id' data.txt", "shell.option"),
    ("sort-compress-abbrev", "sort --compress=sh data.txt", "shell.option"),
    ("sort-compress-shortest", "sort --com sh data.txt", "shell.option"),
    ("sort-output-abbrev", "sort --out=/etc/hosts data.txt", "shell.write"),
    ("sort-output-separate", "sort --outp /etc/hosts data.txt", "shell.write"),
    ("sort-tempdir-abbrev", "sort --temp=/etc data.txt", "shell.write"),
    ("cp-target-abbrev", "cp --target=/etc a.txt", "shell.write"),
    ("cp-target-shortest", "cp --t=/etc a.txt", "shell.write"),
    ("cp-target-separate", "cp --targ /etc a.txt", "shell.write"),
    ("mv-target-abbrev", "mv --target-dir=/tmp a.txt", "shell.write"),
    ("cp-symbolic-abbrev", "cp --sym /etc/passwd link", "shell.option"),
    ("date-set-abbrev", "date --se=2020-01-01", "shell.option"),
    ("tar-to-command", "tar -xf a.tar --to-command='sh -c id'", "shell.option"),
    ("tar-to-command-abbrev", "tar -xf a.tar --to-c=sh", "shell.option"),
    (
        "tar-checkpoint-action",
        "tar -cf a.tar --checkpoint=1 --checkpoint-action=exec=id .",
        "shell.option",
    ),
    ("tar-checkpoint-action-abbrev", "tar -cf a.tar --checkpoint-a=exec=id .", "shell.option"),
    ("tar-use-compress-abbrev", "tar -cf a.tar --use=sh .", "shell.option"),
    ("tar-info-script-abbrev", "tar -cf a.tar --info=x.sh .", "shell.option"),
    ("tar-new-volume-abbrev", "tar -cf a.tar --new-v=x.sh .", "shell.option"),
    ("tar-rmt-command", "tar -cf a.tar --rmt-command=x.sh .", "shell.option"),
    ("tar-old-style-cluster", "tar xIf sh a.tar", "shell.option"),
    ("tar-directory-abbrev", "tar -xf a.tar --dir=/etc", "shell.write"),
    ("tar-env-options", "TAR_OPTIONS=--to-command=sh tar -xf a.tar", "shell.variable"),
    ("zip-unzip-command-abbrev", "zip -T --unzip-c=sh a.zip a.txt", "shell.option"),
    ("find-exec-after-paths", "find . -type f -execdir id ';'", "shell.option"),
    ("find-ok", "find . -ok id ';'", "shell.option"),
    ("find-computed-primary", "p=-delete; find . $p", "shell.option"),
    ("sort-computed-option", "o=--compress-program=sh; sort $o data.txt", "shell.option"),
    # Writes to variables the shell executes or trusts.
    ("printf-v-bash-cmds", "printf -v 'BASH_CMDS[ls]' '%s' ./evil; ls", "shell.variable"),
    ("printf-v-attached", "printf -vBASH_CMDS[ls] '%s' ./evil", "shell.variable"),
    ("assign-bash-cmds", "BASH_CMDS[ls]=./evil; ls", "shell.command"),
    ("assign-bash-aliases", "BASH_ALIASES[ls]='id'", "shell.command"),
    ("read-bash-env", "read -r BASH_ENV < f", "shell.variable"),
    ("read-array-bash-cmds", "read -ra BASH_CMDS < f", "shell.variable"),
    ("declare-bash-cmds", "declare 'BASH_CMDS[ls]=./evil'", "shell.variable"),
    ("export-env", "export ENV=./x.sh", "shell.variable"),
    ("declare-prompt", "declare -x PROMPT_COMMAND=id", "shell.variable"),
    ("ps0", "PS0='$(id)'", "shell.variable"),
    ("ps4-local", "f() { local PS4='$(id)'; }", "shell.variable"),
    ("ifs-read", "IFS=/ read -r a b < f", "shell.variable"),
    ("ifs-for", "for IFS in x; do :; done", "shell.variable"),
    ("default-assign", "echo ${BASH_ENV:=./x.sh}", "shell.variable"),
    ("mailpath", "MAILPATH='f?$(id)'", "shell.variable"),
    ("gconv-path", "export GCONV_PATH=.", "shell.variable"),
    ("ld-prefix", "LD_DEBUG_OUTPUT=x ls", "shell.variable"),
    ("set-keyword", "set -k; ls LD_PRELOAD=./x.so", "shell.option"),
    # Arithmetic and indirection on variables that may hold 'a[$(cmd)]'.
    ("arith-uninitialised", "echo $((x + 1))", "shell.arithmetic"),
    ("arith-dollar", "echo $(( $x ))", "shell.arithmetic"),
    ("arith-command", "(( x > 1 )) && echo big", "shell.arithmetic"),
    ("arith-from-read", "n=0\nread -r n < f\necho $((n))", "shell.arithmetic"),
    ("arith-conditional-init", "if false; then n=0; fi\necho $((n))", "shell.arithmetic"),
    ("arith-and-init", "false && n=0; echo $((n))", "shell.arithmetic"),
    ("arith-background-init", "n=0 & echo $((n))", "shell.arithmetic"),
    ("arith-string-init", "n='a[$(id)]'; echo $((n))", "shell.arithmetic"),
    ("arith-name-init", "n=other; echo $((n))", "shell.arithmetic"),
    ("arith-loop-words", "for n in *; do echo $((n)); done", "shell.arithmetic"),
    ("arith-function-param", "f() { n=$1; echo $((n)); }", "shell.arithmetic"),
    ("arith-subscript", "i=0; echo $(( a[i] ))", "shell.arithmetic"),
    ("indirection-uninitialised", "echo ${!x}", "shell.arithmetic"),
    ("indirection-data", "read -r x < f; echo ${!x}", "shell.arithmetic"),
    ("subscript-uninitialised", "echo ${arr[$i]}", "shell.arithmetic"),
    ("subscript-assignment", "arr[$i]=1", "shell.command"),
    ("offset-uninitialised", 'echo "${@:x}"', "shell.arithmetic"),
    ("conditional-eq", "[[ $x -eq 1 ]] && echo one", "shell.arithmetic"),
    ("conditional-v", "[[ -v $x ]]", "shell.arithmetic"),
    ("test-v-subscript", "test -v 'a[$(id)]'", "shell.variable"),
    ("bracket-v-variable", '[ -v "$x" ]', "shell.variable"),
    ("declare-integer", "declare -i n; n=$x", "shell.option"),
    ("local-integer", "f() { local -i n=$1; }", "shell.option"),
    ("let", "let x", "shell.command"),
    ("readonly-poison", "readonly n='a[$(id)]'", "shell.variable"),
    ("declare-readonly-poison", "declare -r n=$x", "shell.variable"),
    ("printf-v-subscript", "printf -v 'a[$(id)]' 1", "shell.variable"),
    ("read-subscript-var", 'read -r "a[$i]" < f', "shell.variable"),
    # Recursive function bombs.
    ("fork-bomb", ":(){ :|:& };:", "shell.function"),
    ("fork-bomb-named", "bomb() { bomb | bomb & }; bomb", "shell.recursion"),
    ("fork-bomb-background", "b() { b & b; }\nb", "shell.recursion"),
    ("fork-bomb-mutual", "a() { b & }\nb() { a | a; }\na", "shell.recursion"),
    ("fork-bomb-subshell", "f() { ( f ); f; }; f", "shell.recursion"),
    ("fork-bomb-substitution", "f() { echo $(f) $(f); }; f", "shell.recursion"),
    ("function-shadows-command", "cat() { tac | tac & }", "shell.function"),
    ("function-shadows-builtin", "cd() { :; }", "shell.function"),
]

SHELL_BENIGN: list[tuple[str, str, tuple[str, ...]]] = [
    ("pipeline-counts", "grep -h error *.log | sort | uniq -c | sort -rn | head -n 5", BOTH),
    ("cd-and-assign", "cd /tmp && GREETING=hi && echo $GREETING", ()),
    ("cd-relative-assign", 'mkdir -p work && cd work && GREETING=hi && echo "$GREETING"', BOTH),
    ("loop-wc", 'for f in *.txt; do\n  wc -l "$f"\ndone', BOTH),
    ("while-read", 'while read -r name value; do\n  echo "$name=$value"\ndone < pairs.txt', BOTH),
    (
        "sed-awk-cut",
        "sed -n '2,$p' data.csv | cut -d, -f2 | awk '{ s += $1 } END { print s }'",
        BOTH,
    ),
    (
        "sort-long-options",
        "sort --numeric-sort --reverse --key=2 --field-separator=, data.csv",
        BOTH,
    ),
    (
        "sort-output-relative",
        "sort --output=sorted.txt data.txt && sort -u -o uniq.txt data.txt",
        BOTH,
    ),
    ("tail-head", "tail -n 20 app.log | head -n 5 && head -c 100 app.log", BOTH),
    ("find-plain", "find . -name '*.py' -type f -newer setup.cfg -print | sort", BOTH),
    ("find-maxdepth", "find . -maxdepth 2 -type d -name 'test*'", BOTH),
    ("cp-mv-plain", "cp --recursive src backup && mv --force a.txt b.txt", BOTH),
    ("sed-long-options", "sed --quiet --regexp-extended 's/([0-9]+)/<\\1>/p' data.txt", BOTH),
    ("sed-expression-long", "sed --expression='s/a/b/' data.txt", BOTH),
    ("date-formats", "date +%Y-%m-%d && date --utc --date='2020-01-01' +%s", BOTH),
    (
        "tar-create",
        "tar -czf backup.tar.gz data/ && tar --list --file=backup.tar.gz",
        ("standard",),
    ),
    ("tar-extract", "mkdir -p out && tar -xzf backup.tar.gz -C out", ("standard",)),
    ("tar-to-stdout", "tar -xzf backup.tar.gz --to-stdout notes.txt | wc -l", ("standard",)),
    ("tar-checkpoint", "tar --create --file=a.tar --checkpoint=100 data", ("standard",)),
    ("gzip-keep", "gzip -k data.txt && gunzip -c data.txt.gz | head", ("standard",)),
    ("function-plain", 'greet() {\n  echo "hello $1"\n}\ngreet world\ngreet you', BOTH),
    ("function-calls-function", "a() { echo a; }\nb() { a; a | wc -c; }\nb", BOTH),
    ("printf-v-plain", 'printf -v today \'%s\' "$(date +%F)" && echo "$today"', BOTH),
    ("read-options", "read -r -d '' -a words < f; IFS_SAVE=x; echo \"${words[0]}\"", BOTH),
    ("export-locale", "export LC_ALL=C LANG=C && sort data.txt", BOTH),
    ("counter", 'n=0\nfor f in *.txt; do\n  n=$((n + 1))\ndone\necho "$n files"', ("standard",)),
    ("literal-arithmetic", "echo $((60 * 60 * 24)) $(( 7 % 3 ))", BOTH),
    (
        "arithmetic-loop",
        'i=0\nwhile [ "$i" -lt 3 ]; do\n  echo "$i"\n  i=$((i + 1))\ndone',
        ("standard",),
    ),
    ("arith-seq-loop", "for i in $(seq 1 5); do echo $((i * i)); done", ("standard",)),
    ("arith-brace-loop", "for i in {1..3}; do echo $((i * 2)); done", ("standard",)),
    ("arith-local", "sq() {\n  local n=4\n  echo $((n * n))\n}\nsq", ("standard",)),
    ("arith-command-form", 'total=0\n(( total += 5 ))\necho "$total"', ("standard",)),
    ("array-literal-index", 'set -- a b c\necho "${#}" "${1}" "${@: -1}"', BOTH),
    ("indirection-literal", 'name=HOME_DIR\nHOME_DIR=x\necho "${!name}"', ("standard",)),
    ("test-numbers", '[ "$#" -eq 0 ] && echo none; test 3 -gt 2 && echo yes', BOTH),
    ("conditional-strings", "[[ -f notes.txt && $USER == root ]] && echo yes", BOTH),
    ("readonly-literal", 'readonly MAX=10\necho "$MAX"', BOTH),
    ("readonly-name", 'readonly NAME=report\necho "$NAME"', ("strict",)),
    ("declare-array", "declare -a items\ndeclare -A seen\ndeclare -x MODE=fast", BOTH),
]
