"""The stand-in's plugin process: go-plugin handshake, TLS, tfplugin6 over gRPC.

Terraform starts ``terraform-provider-aws_v6.25.0`` from the filesystem
mirror (a script that runs ``python -m algoinfra.rehearse.server``), checks
the magic cookie, reads one handshake line from stdout::

    1|6|unix|<socket>|grpc|<server certificate, base64 DER, no padding>

and talks tfplugin6 over that socket. go-plugin's automatic mTLS wants the
plugin to present a certificate: a self-signed EC P-256 one for
``localhost``, made by ``install`` (see terraform.py) or here. Terraform's
client certificate is not checked. ``plugin.GRPCController/Shutdown`` stops
the process; RPCs not listed in :func:`_handlers` answer UNIMPLEMENTED, which
Terraform accepts for the identity, stdio and broker services.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from tf.gen import grpc_controller_pb2 as ctl
from tf.gen import tfplugin_pb2 as pb

from algoinfra.rehearse import cty, protocol
from algoinfra.rehearse.standin import ProviderError, StandIn

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
# Written by install(): the encoded schema response and the TLS pair, so a start costs no rebuild.
SCHEMA_CACHE_ENV = "ALGOINFRA_STANDIN_SCHEMA_CACHE"
TLS_DIR_ENV = "ALGOINFRA_STANDIN_TLS_DIR"


def make_certificate() -> tuple[bytes, bytes]:
    """A self-signed EC P-256 certificate for localhost: (certificate PEM, private key PEM)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                key_cert_sign=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _pem_to_der_b64(cert_pem: bytes) -> str:
    body = b"".join(line for line in cert_pem.splitlines() if line and not line.startswith(b"-----"))
    return base64.b64encode(base64.b64decode(body)).decode().rstrip("=")


def _dv(value: Any) -> Any:
    return pb.DynamicValue(msgpack=cty.encode(value))


def _value(dv: Any) -> Any:
    if dv.msgpack:
        return cty.decode(dv.msgpack)
    if dv.json:
        return json.loads(dv.json)
    return None


def _errors(exc: ProviderError) -> list[Any]:
    return [protocol.error(exc.summary, exc.detail)]


class Plugin:
    """The tfplugin6 RPCs on top of :class:`StandIn`."""

    def __init__(self, standin: StandIn, schema_response: bytes, stop: threading.Event) -> None:
        self.standin = standin
        self.schema_response = schema_response
        self.stop = stop

    def get_provider_schema(self, _request: bytes, _context: Any) -> bytes:
        return self.schema_response

    def get_metadata(self, _request: Any, _context: Any) -> Any:
        return pb.GetMetadata.Response(server_capabilities=pb.ServerCapabilities(get_provider_schema_optional=True))

    def validate_provider_config(self, _request: Any, _context: Any) -> Any:
        return pb.ValidateProviderConfig.Response()

    def validate_resource_config(self, _request: Any, _context: Any) -> Any:
        return pb.ValidateResourceConfig.Response()

    def validate_data_resource_config(self, _request: Any, _context: Any) -> Any:
        return pb.ValidateDataResourceConfig.Response()

    def configure_provider(self, request: Any, _context: Any) -> Any:
        self.standin.configure(_value(request.config) or {})
        return pb.ConfigureProvider.Response()

    def upgrade_resource_state(self, request: Any, _context: Any) -> Any:
        state = json.loads(request.raw_state.json) if request.raw_state.json else None
        return pb.UpgradeResourceState.Response(upgraded_state=_dv(state))

    def read_resource(self, request: Any, _context: Any) -> Any:
        try:
            state = self.standin.read(request.type_name, _value(request.current_state))
        except ProviderError as exc:
            return pb.ReadResource.Response(diagnostics=_errors(exc))
        return pb.ReadResource.Response(new_state=_dv(state), private=request.private)

    def plan_resource_change(self, request: Any, _context: Any) -> Any:
        try:
            planned, replace = self.standin.plan(
                request.type_name,
                _value(request.prior_state),
                _value(request.proposed_new_state),
                _value(request.config),
            )
        except ProviderError as exc:
            return pb.PlanResourceChange.Response(diagnostics=_errors(exc))
        paths = []
        for path in replace:
            attr_path = pb.AttributePath()
            for step in path:
                if isinstance(step, int):
                    attr_path.steps.add(element_key_int=step)
                else:
                    attr_path.steps.add(attribute_name=step)
            paths.append(attr_path)
        return pb.PlanResourceChange.Response(
            planned_state=_dv(planned), requires_replace=paths, planned_private=request.prior_private
        )

    def apply_resource_change(self, request: Any, _context: Any) -> Any:
        try:
            new = self.standin.apply(request.type_name, _value(request.prior_state), _value(request.planned_state))
        except ProviderError as exc:
            return pb.ApplyResourceChange.Response(diagnostics=_errors(exc))
        return pb.ApplyResourceChange.Response(new_state=_dv(new), private=request.planned_private)

    def import_resource_state(self, request: Any, _context: Any) -> Any:
        try:
            state = self.standin.import_state(request.type_name, request.id)
        except ProviderError as exc:
            return pb.ImportResourceState.Response(diagnostics=_errors(exc))
        imported = pb.ImportResourceState.ImportedResource(type_name=request.type_name, state=_dv(state))
        return pb.ImportResourceState.Response(imported_resources=[imported])

    def read_data_source(self, request: Any, _context: Any) -> Any:
        try:
            state = self.standin.read_data(request.type_name, _value(request.config))
        except ProviderError as exc:
            return pb.ReadDataSource.Response(diagnostics=_errors(exc))
        return pb.ReadDataSource.Response(state=_dv(state))

    # Ephemeral resources (protocol 6.7) have no stubs in the package: their messages are handled as
    # bytes. A request (type_name = 1, config = 2) has the shape of ValidateDataResourceConfig.Request.
    def validate_ephemeral(self, _request: bytes, _context: Any) -> bytes:
        return b""

    def open_ephemeral(self, request: bytes, _context: Any) -> bytes:
        req = pb.ValidateDataResourceConfig.Request.FromString(request)
        try:
            result = self.standin.open_ephemeral(req.type_name, _value(req.config))
        except ProviderError as exc:
            return b"".join(protocol.field(1, d.SerializeToString()) for d in _errors(exc))
        return protocol.field(3, _dv(result).SerializeToString())  # OpenEphemeralResource.Response.result

    def close_ephemeral(self, _request: bytes, _context: Any) -> bytes:
        return b""

    def get_functions(self, _request: Any, _context: Any) -> Any:
        return pb.GetFunctions.Response()

    def stop_provider(self, _request: Any, _context: Any) -> Any:
        return pb.StopProvider.Response()

    def shutdown(self, _request: Any, _context: Any) -> Any:
        self.stop.set()
        return ctl.Empty()


def _handlers(plugin: Plugin) -> list[grpc.GenericRpcHandler]:
    def unary(fn: Callable[[Any, Any], Any], request_type: Any) -> grpc.RpcMethodHandler[Any, Any]:
        return grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=request_type.FromString, response_serializer=lambda m: m.SerializeToString()
        )

    provider = {
        # The schema response is served as encoded bytes (it carries fields the stubs do not know).
        "GetProviderSchema": grpc.unary_unary_rpc_method_handler(plugin.get_provider_schema),
        "GetMetadata": unary(plugin.get_metadata, pb.GetMetadata.Request),
        "ValidateProviderConfig": unary(plugin.validate_provider_config, pb.ValidateProviderConfig.Request),
        "ValidateResourceConfig": unary(plugin.validate_resource_config, pb.ValidateResourceConfig.Request),
        "ValidateDataResourceConfig": unary(
            plugin.validate_data_resource_config, pb.ValidateDataResourceConfig.Request
        ),
        "ConfigureProvider": unary(plugin.configure_provider, pb.ConfigureProvider.Request),
        "UpgradeResourceState": unary(plugin.upgrade_resource_state, pb.UpgradeResourceState.Request),
        "ReadResource": unary(plugin.read_resource, pb.ReadResource.Request),
        "PlanResourceChange": unary(plugin.plan_resource_change, pb.PlanResourceChange.Request),
        "ApplyResourceChange": unary(plugin.apply_resource_change, pb.ApplyResourceChange.Request),
        "ImportResourceState": unary(plugin.import_resource_state, pb.ImportResourceState.Request),
        "ReadDataSource": unary(plugin.read_data_source, pb.ReadDataSource.Request),
        "GetFunctions": unary(plugin.get_functions, pb.GetFunctions.Request),
        "ValidateEphemeralResourceConfig": grpc.unary_unary_rpc_method_handler(plugin.validate_ephemeral),
        "OpenEphemeralResource": grpc.unary_unary_rpc_method_handler(plugin.open_ephemeral),
        "RenewEphemeralResource": grpc.unary_unary_rpc_method_handler(plugin.close_ephemeral),
        "CloseEphemeralResource": grpc.unary_unary_rpc_method_handler(plugin.close_ephemeral),
        "StopProvider": unary(plugin.stop_provider, pb.StopProvider.Request),
    }
    controller = {"Shutdown": unary(plugin.shutdown, ctl.Empty)}
    return [
        grpc.method_handlers_generic_handler("tfplugin6.Provider", provider),
        grpc.method_handlers_generic_handler("plugin.GRPCController", controller),
    ]


def _schema_response() -> bytes:
    cache = os.environ.get(SCHEMA_CACHE_ENV)
    if cache and Path(cache).is_file():
        return Path(cache).read_bytes()
    return protocol.provider_schema_response()


def _tls() -> tuple[bytes, bytes]:
    tls_dir = os.environ.get(TLS_DIR_ENV)
    if tls_dir and (Path(tls_dir) / "cert.pem").is_file():
        return (Path(tls_dir) / "cert.pem").read_bytes(), (Path(tls_dir) / "key.pem").read_bytes()
    return make_certificate()


def serve() -> int:
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        print(
            "This is the stand-in AWS provider of the rehearsal: Terraform starts it, not people.\n"
            "Run `python -m algoinfra.rehearse OUTDIR` instead.",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()
    plugin = Plugin(StandIn.from_env(), _schema_response(), stop)
    socket_dir = tempfile.mkdtemp(prefix="standin-", dir=os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or None)
    socket = os.path.join(socket_dir, "plugin.sock")
    _SOCKET_DIRS.append(socket_dir)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8), options=[("grpc.max_receive_message_length", 256 << 20)]
    )
    for handler in _handlers(plugin):
        server.add_generic_rpc_handlers((handler,))
    cert_pem, key_pem = _tls()
    disable_tls = os.environ.get("TF_DISABLE_PLUGIN_TLS") == "1"
    if disable_tls:
        server.add_insecure_port(f"unix:{socket}")
    else:
        server.add_secure_port(f"unix:{socket}", grpc.ssl_server_credentials([(key_pem, cert_pem)]))
    server.start()
    cert = "" if disable_tls else _pem_to_der_b64(cert_pem)
    sys.stdout.write(f"1|6|unix|{socket}|grpc|{cert}\n")
    sys.stdout.flush()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Terraform forwards Ctrl-C; it shuts us down itself
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=0).wait()
    remove_socket()
    return 0


_SOCKET_DIRS: list[str] = []


def remove_socket() -> None:
    """Remove this process's socket and its directory (also called by the zygote on a hard stop)."""
    for socket_dir in _SOCKET_DIRS:
        with contextlib.suppress(OSError):
            os.remove(os.path.join(socket_dir, "plugin.sock"))
        with contextlib.suppress(OSError):
            os.rmdir(socket_dir)


if __name__ == "__main__":
    status = serve()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # skip the interpreter's teardown of grpc's threads
