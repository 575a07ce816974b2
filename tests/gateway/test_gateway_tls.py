"""Gateways behind TLS (`https://` URLs): the engine verifies the certificate against a
CA it is given, refuses one it cannot verify, and skips the check only when told to."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from gateway._gateway_support import (
    _BIN,
    TOKEN,
    GatewayServer,
    companion_gateway,
    kernel_gateway,
    remote,
)

from companion_kernel import Engine, GatewayConfig, KernelStartError

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(300)]


@dataclass
class TlsGateway(GatewayServer):
    ca_file: str = ""

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def get(self, path: str, token: str | None = TOKEN, method: str = "GET") -> object:
        request = urllib.request.Request(self.url + path, method=method)
        if token:
            request.add_header("Authorization", f"token {token}")
        context = ssl.create_default_context(cafile=self.ca_file)
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private CA (ca.pem) and a certificate for 127.0.0.1 it signed (cert/key.pem)."""
    folder: Path = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    return folder


@pytest.fixture(scope="module", params=["jupyter kernelgateway", "companion-kernel gateway"])
def tls_gateway(pems: Path, request: pytest.FixtureRequest) -> Iterator[TlsGateway]:
    plain = kernel_gateway() if request.param == "jupyter kernelgateway" else companion_gateway()
    server = TlsGateway(
        [*plain.argv, f"--certfile={pems / 'cert.pem'}", f"--keyfile={pems / 'key.pem'}"],
        plain.env,
        plain.port,
        ca_file=str(pems / "ca.pem"),
    ).start()
    try:
        yield server
    finally:
        server.stop()


def over_tls(server: TlsGateway, **tls: object) -> object:
    config = remote(server.url, min_idle=0)
    gateway = GatewayConfig(url=server.url, token=TOKEN, **tls)
    return config.model_copy(update={"gateway": gateway})


async def test_a_verified_gateway_runs_cells_and_leaves_nothing(tls_gateway: TlsGateway) -> None:
    async with Engine(over_tls(tls_gateway, ca_certs=tls_gateway.ca_file)) as engine:
        async with engine.session("python") as session:
            await session.execute("x = 41")
            result = await session.execute("print('over wss'); x + 1")
            assert (result.status, result.stdout, result.text) == ("ok", "over wss\n", "42")
            assert session._kernel.binary_protocol
    assert tls_gateway.kernels() == []


async def test_an_unverifiable_certificate_is_refused_with_the_reason(
    tls_gateway: TlsGateway,
) -> None:
    async with Engine(over_tls(tls_gateway)) as engine:  # the system CAs do not know ours
        with pytest.raises(KernelStartError, match=r"CERTIFICATE_VERIFY_FAILED.*ca_certs"):
            await engine.execute("1 + 1", "python")
    assert tls_gateway.kernels() == []  # refused before any kernel was asked for


async def test_validate_cert_false_skips_the_check(tls_gateway: TlsGateway) -> None:
    async with Engine(over_tls(tls_gateway, validate_cert=False)) as engine:
        result = await engine.execute("6 * 7", "python")
        assert (result.status, result.text) == ("ok", "42"), result.error
    assert tls_gateway.kernels() == []


@pytest.mark.parametrize(
    ("files", "says"),
    [
        (["--certfile={pems}/cert.pem"], "give both --certfile and --keyfile"),
        (["--certfile={pems}/cert.pem", "--keyfile={pems}/nope.pem"], "does not exist"),
        (["--certfile={pems}/cert.pem", "--keyfile={pems}/ca.pem"], "cannot use"),
    ],
)
def test_bad_tls_files_are_refused_before_serving(pems: Path, files: list[str], says: str) -> None:
    argv = [str(_BIN / "companion-kernel"), "gateway", "--port=1"]
    done = subprocess.run(
        [*argv, *(f.format(pems=pems) for f in files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and says in done.stderr, done.stderr
