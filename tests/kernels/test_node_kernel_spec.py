"""The Node kernel against jupyter_kernel_test's protocol conformance suite."""

from __future__ import annotations

from typing import Any, ClassVar

import jupyter_kernel_test
import pytest
from kernels._node_support import SPEC

pytestmark = pytest.mark.kernel


# Imported as a module so pytest does not also collect the base class (a python3 kernel).
class NodeKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = SPEC
    language_name = "javascript"
    file_extension = ".js"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("oops")'
    code_generate_error = 'throw new Error("boom")'
    code_execute_result: ClassVar[list[dict[str, Any]]] = [
        {"code": "6 * 7", "result": "42"},
        {"code": "'a' + 'b'", "result": "'ab'"},
        {"code": "await Promise.resolve([1, 2])", "result": "[ 1, 2 ]"},
        {"code": "$$.html('<b>hi</b>')", "mime": "text/html", "result": "<b>hi</b>"},
    ]
    code_display_data: ClassVar[list[dict[str, Any]]] = [
        {"code": "display.html('<i>x</i>')", "mime": "text/html"},
        {"code": "display({a: 1})", "mime": "text/plain"},
        {"code": "$$.display('d1').svg('<svg></svg>')", "mime": "image/svg+xml"},
    ]
    code_clear_output = "$$.clear()"
    code_inspect_sample = "Math.max"

    completion_samples: ClassVar[list[dict[str, Any]]] = [
        {"text": "Math.P", "matches": {"PI"}},
        {"text": "JSON.str", "matches": {"stringify"}},
        {"text": "setTimeo", "matches": {"setTimeout"}},
        {"text": "whil", "matches": {"while"}},
    ]
    complete_code_samples: ClassVar[list[str]] = [
        "1 + 1",
        "const x = 1",
        "await f()",
        "import fs from 'fs'",
        "",
    ]
    incomplete_code_samples: ClassVar[list[str]] = [
        "function f() {",
        "const x = [1,",
        "`unfinished",
        "if (x)",
    ]
    invalid_code_samples: ClassVar[list[str]] = ["1 +* 2", "let let = 1", "x = 1; }"]
