"""Service validation and defaulting with the apiserver's rules, field paths and words.

Pure functions on plain dicts (the JSON a client sends), no I/O: the simulated apiserver answers 422 with these
errors, and the Service wizard shows the same sentences next to the field as the user types. Messages follow
kubernetes v1.32 `pkg/apis/core/validation/validation.go`, apimachinery's `util/validation` and `field.Error`
(whose `ErrorBody` prints the bad value with Go's formatting: numbers bare, strings quoted, slices and structs in
`%#v` form such as `[]string{"10.96.0.5"}`).

Validation never raises on malformed input: a value of the wrong JSON type is reported as an invalid value (the
apiserver would reject it while decoding; `decode_errors` gives that 400 sentence for the sim).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Container, Iterable, Mapping

Obj = dict[str, Any]

# Cause reasons (metav1.CauseType) per field.ErrorType.
REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
DUPLICATE = "FieldValueDuplicate"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")  # sorted, as sets.List prints them
AFFINITIES = ("ClientIP", "None")
PROTOCOLS = ("SCTP", "TCP", "UDP")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
TRAFFIC_DISTRIBUTIONS = ("PreferClose",)
MAX_AFFINITY_TIMEOUT = 86400
DEFAULT_AFFINITY_TIMEOUT = 10800
ANNOTATION_LB_SOURCE_RANGES = "service.beta.kubernetes.io/load-balancer-source-ranges"
ANNOTATION_TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"
ANNOTATION_TOPOLOGY_HINTS = "service.kubernetes.io/topology-aware-hints"


@dataclass(frozen=True)
class FieldError:
    """One `details.causes[]` entry: `field` as the apiserver paths it, `message` the body after the path."""

    field: str
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def json_copy(obj: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars): several times faster than copy.deepcopy."""
    t = type(obj)
    if t is dict:
        return {k: json_copy(v) for k, v in obj.items()}
    if t is list:
        return [json_copy(v) for v in obj]
    return obj


# -- Go's rendering of a bad value ---------------------------------------------------------------------------------

class GoLit(str):
    """Text already in Go's `%#v` form, printed as is."""


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               '"': '\\"', "\\": "\\\\"}


def go_quote(s: str) -> str:
    """strconv.Quote: printable runes kept, the rest escaped."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif o < 0x80 or ch.isprintable():
            out.append(ch)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def go_strings(values: Any) -> GoLit:
    """A []string as `%#v` prints it: `[]string{"a", "b"}`, `[]string(nil)` when absent."""
    if values is None:
        return GoLit("[]string(nil)")
    if not isinstance(values, list):
        return GoLit(go_value(values))
    return GoLit("[]string{" + ", ".join(go_quote(str(v)) for v in values) + "}")


def go_value(v: Any) -> str:
    if isinstance(v, GoLit):
        return str(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return str(go_strings(v))
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(go_value(x) for x in v) + "}"
    if isinstance(v, dict):
        return "map[string]interface {}{" + ", ".join(
            f"{go_quote(str(k))}:{go_value(x)}" for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))) + "}"
    return go_quote(str(v))


# -- error constructors (field.Invalid, field.Required, ...) ------------------------------------------------------

def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(path, INVALID, f"Invalid value: {go_value(value)}: {detail}" if detail
                      else f"Invalid value: {go_value(value)}")


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(path, REQUIRED, f"Required value: {detail}" if detail else "Required value")


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(path, DUPLICATE, f"Duplicate value: {go_value(value)}")


def not_supported(path: str, value: Any, valid: Iterable[str]) -> FieldError:
    quoted = ", ".join(go_quote(v) for v in valid)
    body = f"Unsupported value: {go_value(value)}"
    return FieldError(path, NOT_SUPPORTED, f"{body}: supported values: {quoted}" if quoted else body)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(path, FORBIDDEN, f"Forbidden: {detail}" if detail else "Forbidden")


def too_long(path: str, max_len: int) -> FieldError:
    return FieldError(path, TOO_LONG, f"Too long: may not be more than {max_len} bytes")


def error_message(kind: str, name: str, errors: list[FieldError], group: str = "") -> str:
    """The 422 message the apiserver prints: one error inline, several as `[e1, e2]`, repeated ones once."""
    return to_api_error(kind, name, errors, group).message


def to_api_error(kind: str, name: str, errors: list[FieldError], group: str = ""):  # -> tui.sim.errors.ApiError
    """The 422 Status error for these field errors (causes keep every error; the message drops repeats, as
    field.ErrorList.ToAggregate does)."""
    from tui.sim import errors as api_errors  # the one place Status errors are built

    err = api_errors.invalid(kind, name, [api_errors.Cause(e.reason, e.message, e.field) for e in errors], group)
    seen: list[str] = []
    for e in errors:
        if str(e) not in seen:
            seen.append(str(e))
    if len(seen) != len(errors):
        body = seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"
        err.message = err.message.split(" is invalid: ", 1)[0] + " is invalid: " + body
    return err


# -- apimachinery's string checks (each returns detail strings, as IsDNS1123Label and friends do) ---------------

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(_DNS1035_LABEL_FMT)
_QNAME_RE = re.compile(_QNAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_PORT_NAME_CHARSET_RE = re.compile("[-a-z0-9]+")
_PORT_NAME_LETTER_RE = re.compile("[a-z]")


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """validation.RegexError, with its quirk of a double space before `or`."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    out = msg + " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            out += " or "
        out += f"'{ex}', "
    return out + f"regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def _blen(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


def _full(rx: re.Pattern[str], s: str) -> bool:
    return rx.fullmatch(s) is not None


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if _blen(value) > 63:
        errs.append(max_len_error(63))
    if not _full(_DNS1123_LABEL_RE, value):
        errs.append(regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
                                "'-', and must start and end with an alphanumeric character",
                                _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if _blen(value) > 253:
        errs.append(max_len_error(253))
    if not _full(_DNS1123_SUBDOMAIN_RE, value):
        errs.append(regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                                "'-' or '.', and must start and end with an alphanumeric character",
                                _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if _blen(value) > 63:
        errs.append(max_len_error(63))
    if not _full(_DNS1035_LABEL_RE, value):
        errs.append(regex_error("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
                                "with an alphabetic character, and end with an alphanumeric character",
                                _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    errs: list[str] = []
    parts = value.split("/")
    qname_msg = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " \
                "alphanumeric character"
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return ["a qualified name " + regex_error(qname_msg, _QNAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif _blen(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _full(_QNAME_RE, name):
        errs.append("name part " + regex_error(qname_msg, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs = []
    if _blen(value) > 63:
        errs.append(max_len_error(63))
    if not _full(_LABEL_VALUE_RE, value):
        errs.append(regex_error("a valid label must be an empty string or consist of alphanumeric characters, '-', "
                                "'_' or '.', and must start and end with an alphanumeric character",
                                _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_valid_port_num(port: Any) -> list[str]:
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return []
    return [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """IANA_SVC_NAME as validation.IsValidPortName checks it (a targetPort or container port name)."""
    errs = []
    if _blen(port) > 15:
        errs.append(max_len_error(15))
    if not _full(_PORT_NAME_CHARSET_RE, port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER_RE.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


_DOTTED_QUAD_RE = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")


def parse_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """netutils.ParseIPSloppy: Go's net.ParseIP plus IPv4 with leading zeros; no zones."""
    if not isinstance(value, str) or not value or "%" in value:
        return None
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        m = _DOTTED_QUAD_RE.fullmatch(value)
        if m and all(int(g) <= 255 for g in m.groups()):
            return ipaddress.IPv4Address(".".join(str(int(g)) for g in m.groups()))
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # Go treats ::ffff:a.b.c.d as the IPv4 address
    return ip


def parse_cidr(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(value, str) or value.count("/") != 1:
        return None
    addr, _, bits = value.partition("/")
    ip = parse_ip(addr)
    if ip is None or not bits.isdigit() or int(bits) > ip.max_prefixlen:
        return None
    return ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False)


def is_valid_ip(path: str, value: Any) -> list[FieldError]:
    if parse_ip(value) is None:
        return [invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def is_valid_cidr(path: str, value: Any) -> list[FieldError]:
    if parse_cidr(value) is None:
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


def validate_non_special_ip(path: str, value: str) -> list[FieldError]:
    ip = parse_ip(value)
    if ip is None:
        return [invalid(path, value, "must be a valid IP address")]
    errs = []
    if ip.is_unspecified:
        errs.append(invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        errs.append(invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local and (ip.version == 6 or ip in ipaddress.ip_network("169.254.0.0/16")):
        errs.append(invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if (ip.version == 4 and ip in ipaddress.ip_network("224.0.0.0/24")) or \
            (ip.version == 6 and ip.packed[0] == 0xFF and ip.packed[1] & 0x0F == 0x02):
        errs.append(invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


# -- names, labels, metadata ------------------------------------------------------------------------------------

# The name rule of each kind the sim serves (ValidateServiceName and friends).
NAME_RULES = {
    "Service": is_dns1035_label,
    "Namespace": is_dns1123_label,
}


def validate_name(kind: str, name: Any, path: str = "metadata.name") -> list[FieldError]:
    """The errors for `name` as an object name of `kind` (DNS-1035 for Services, DNS-1123 label for Namespaces,
    DNS-1123 subdomain for the rest), as the wizard checks it while the user types."""
    if not isinstance(name, str) or name == "":
        if name in (None, ""):
            return [required(path, "name or generateName is required")]
        return [invalid(path, name, "must be a string")]
    check = NAME_RULES.get(kind, is_dns1123_subdomain)
    errs = [invalid(path, name, msg) for msg in check(name)]
    if not errs and name in (".", ".."):
        errs.append(invalid(path, name, f'may not be {go_quote(name)}'))
    return errs


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    """ValidateLabels: every key a qualified name, every value a label value; errors name the map's path."""
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [invalid(path, labels, "must be a map of string keys to string values")]
    errs: list[FieldError] = []
    for k in sorted(labels, key=str):
        v = labels[k]
        errs += [invalid(path, k, m) for m in is_qualified_name(str(k))]
        if not isinstance(v, str):
            errs.append(invalid(path, v, "must be a string"))
            continue
        errs += [invalid(path, v, m) for m in is_valid_label_value(v)]
    return errs


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [invalid(path, annotations, "must be a map of string keys to string values")]
    errs: list[FieldError] = []
    total = 0
    for k in sorted(annotations, key=str):
        errs += [invalid(path, k, m) for m in is_qualified_name(str(k).lower())]
        v = annotations[k]
        total += _blen(str(k)) + (_blen(v) if isinstance(v, str) else 0)
    if total > 256 * 1024:
        errs.append(too_long(path, 256 * 1024))
    return errs


def validate_object_meta(kind: str, meta: Any, namespaced: bool = True) -> list[FieldError]:
    if not isinstance(meta, dict):
        return [required("metadata.name", "name or generateName is required")]
    errs: list[FieldError] = []
    gen = meta.get("generateName")
    if isinstance(gen, str) and gen:
        # maskTrailingDash: a prefix may end in a dash (the apiserver swaps the last two characters for "a")
        masked = gen[:-2] + "a" if len(gen) > 1 and gen.endswith("-") else gen
        errs += [invalid("metadata.generateName", gen, m)
                 for m in NAME_RULES.get(kind, is_dns1123_subdomain)(masked)]
    errs += validate_name(kind, meta.get("name"))
    ns = meta.get("namespace")
    if namespaced and ns not in (None, ""):
        errs += [invalid("metadata.namespace", ns, m) for m in (is_dns1123_label(ns) if isinstance(ns, str)
                                                                  else ["must be a string"])]
    errs += validate_labels(meta.get("labels"), "metadata.labels")
    errs += validate_annotations(meta.get("annotations"), "metadata.annotations")
    return errs


# -- Service ------------------------------------------------------------------------------------------------------

def _spec(svc: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = svc.get("spec")
    return spec if isinstance(spec, dict) else {}


def _ports(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    ports = spec.get("ports")
    if not isinstance(ports, list):
        return []
    return [p if isinstance(p, dict) else {} for p in ports]


def _cluster_ips(spec: Mapping[str, Any]) -> list[str]:
    ips = spec.get("clusterIPs")
    return [str(x) for x in ips] if isinstance(ips, list) else []


def is_headless(svc: Mapping[str, Any]) -> bool:
    ips = _cluster_ips(_spec(svc))
    return bool(ips) and ips[0] == "None"


def externally_accessible(spec: Mapping[str, Any]) -> bool:
    """pkg/api/v1/service.ExternallyAccessible: NodePort, LoadBalancer, or ClusterIP with externalIPs."""
    t = spec.get("type")
    return t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and bool(spec.get("externalIPs")))


def needs_health_check(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _int_or_none(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _go_service_port_key(protocol: Any, port: Any) -> GoLit:
    return GoLit(f'core.ServicePort{{Name:"", Protocol:{go_quote(str(protocol))}, AppProtocol:(*string)(nil), '
                 f'Port:{go_value(port)}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, '
                 f'NodePort:0}}')


def validate_port_number(value: Any, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in is_valid_port_num(value)]


def validate_target_port(value: Any, path: str) -> list[FieldError]:
    """ValidatePortNumOrName: a number 1-65535 or an IANA_SVC_NAME."""
    if isinstance(value, str):
        return [invalid(path, value, m) for m in is_valid_port_name(value)]
    return validate_port_number(value, path)


def validate_port_name(value: Any, path: str) -> list[FieldError]:
    if not isinstance(value, str):
        return [invalid(path, value, "must be a string")]
    return [invalid(path, value, m) for m in is_dns1123_label(value)]


def validate_external_name(value: Any, path: str = "spec.externalName") -> list[FieldError]:
    """The CNAME of an ExternalName Service: required, a DNS-1123 subdomain, one trailing dot allowed."""
    cname = value[:-1] if isinstance(value, str) and value.endswith(".") else value
    if not cname:
        return [required(path)]
    if not isinstance(cname, str):
        return [invalid(path, cname, "must be a string")]
    return [invalid(path, cname, m) for m in is_dns1123_subdomain(cname)]


def validate_affinity_timeout(value: Any, path: str = "spec.sessionAffinityConfig.clientIP.timeoutSeconds"
                              ) -> list[FieldError]:
    v = _int_or_none(value)
    if v is None or v <= 0 or v > MAX_AFFINITY_TIMEOUT:
        return [invalid(path, value, f"must be greater than 0 and less than {MAX_AFFINITY_TIMEOUT}")]
    return []


NODE_PORT_RANGE = (30000, 32767)  # kube-apiserver's --service-node-port-range default
PORT_ALLOCATED = "provided port is already allocated"


def node_port_range_error(lo: int, hi: int) -> str:
    return f"provided port is not in the valid range. The range of valid ports is {lo}-{hi}"


def check_node_port(port: Any, path: str, taken: Container[int] = (),
                    port_range: tuple[int, int] = NODE_PORT_RANGE) -> list[FieldError]:
    """The allocator's answer for a requested nodePort (the 422 a create would get), for the wizard to show before
    submitting: out of range, or already allocated to another Service (`taken`, from the live Services)."""
    lo, hi = port_range
    if not isinstance(port, int) or isinstance(port, bool) or not lo <= port <= hi:
        return [invalid(path, port, node_port_range_error(lo, hi))]
    if port in taken:
        return [invalid(path, port, PORT_ALLOCATED)]
    return []


def _validate_service_port(p: Mapping[str, Any], require_name: bool, names: set[str], path: str
                           ) -> list[FieldError]:
    errs: list[FieldError] = []
    name = p.get("name")
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs += validate_port_name(name, f"{path}.name")
        if isinstance(name, str):
            if name in names:
                errs.append(duplicate(f"{path}.name", name))
            else:
                names.add(name)
    errs += validate_port_number(p.get("port", 0), f"{path}.port")
    proto = p.get("protocol")
    if not proto:
        errs.append(required(f"{path}.protocol"))
    elif proto not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", proto, PROTOCOLS))
    errs += validate_target_port(p.get("targetPort", 0), f"{path}.targetPort")
    app = p.get("appProtocol")
    if app is not None:
        errs += [invalid(f"{path}.appProtocol", app, m) for m in is_qualified_name(str(app))]
    return errs


def validate_cluster_ips_related(svc: Mapping[str, Any]) -> list[FieldError]:
    """ValidateServiceClusterIPsRelatedFields (the allocator also runs it first, alone)."""
    spec = _spec(svc)
    if spec.get("type") == "ExternalName":
        return []
    errs: list[FieldError] = []
    raw_ips = spec.get("clusterIPs")
    ips = _cluster_ips(spec)
    cip = spec.get("clusterIP") or ""
    if cip:
        if not ips:
            errs.append(required("spec.clusterIPs"))
        elif ips[0] != cip:
            errs.append(invalid("spec.clusterIPs", go_strings(raw_ips), "first value must match `clusterIP`"))
    elif ips:
        errs.append(invalid("spec.clusterIPs", go_strings(raw_ips), "must be empty when `clusterIP` is not specified"))
    families = spec.get("ipFamilies")
    seen: set[str] = set()
    for i, fam in enumerate(families if isinstance(families, list) else []):
        if fam not in IP_FAMILIES:
            errs.append(not_supported(f"spec.ipFamilies[{i}]", fam, IP_FAMILIES))
        if isinstance(fam, str) and fam in seen:
            errs.append(duplicate(f"spec.ipFamilies[{i}]", fam))
        if isinstance(fam, str):
            seen.add(fam)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    has_invalid = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                has_invalid = True
                errs.append(invalid("spec.clusterIPs", go_strings(raw_ips), "'None' must be the first and only value"))
            continue
        e = is_valid_ip(f"spec.clusterIPs[{i}]", ip)
        has_invalid = has_invalid or bool(e)
        errs += e
    if len(ips) > 2:
        errs.append(invalid("spec.clusterIPs", go_strings(raw_ips), "may only hold up to 2 values"))
    if has_invalid:
        return errs
    if len(ips) > 1:
        versions = {parse_ip(ip).version for ip in ips[:2]}  # type: ignore[union-attr]
        if len(versions) != 2 or len(ips) > 2:
            errs.append(invalid("spec.clusterIPs", go_strings(raw_ips),
                                "may specify no more than one IP for each IP family"))
    if ips and ips[0] != "None" and isinstance(families, list) and families:
        for i, ip in enumerate(ips):
            if i > len(families) - 1:
                break
            parsed = parse_ip(ip)
            v6 = parsed is not None and parsed.version == 6
            if families[i] == "IPv4" and v6:
                errs.append(invalid(f"spec.clusterIPs[{i}]", ip,
                                    f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"))
            if families[i] == "IPv6" and not v6:
                errs.append(invalid(f"spec.clusterIPs[{i}]", ip,
                                    f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"))
    return errs


def _validate_update(svc: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """ValidateServiceUpdate's extra rules: clusterIPs and ipFamilies fixed once set, loadBalancerClass and
    healthCheckNodePort immutable."""
    errs: list[FieldError] = []
    spec, old_spec = _spec(svc), _spec(old)
    meta, old_meta = svc.get("metadata") or {}, old.get("metadata") or {}
    if isinstance(meta, dict) and isinstance(old_meta, dict) and meta.get("name") != old_meta.get("name"):
        errs.append(invalid("metadata.name", meta.get("name"), "field is immutable"))
    if spec.get("type") != "ExternalName" and old_spec.get("type") != "ExternalName" and \
            not (is_headless(svc) and is_headless(old)):
        new_ips, old_ips = _cluster_ips(spec), _cluster_ips(old_spec)
        raw = go_strings(spec.get("clusterIPs"))
        if len(old_ips) == len(new_ips):
            for i, ip in enumerate(old_ips):
                if ip != new_ips[i]:
                    errs.append(invalid(f"spec.clusterIPs[{i}]", raw, "may not change once set"))
        elif len(old_ips) > len(new_ips):
            if not new_ips:
                errs.append(invalid("spec.clusterIPs[0]", raw, "primary clusterIP can not be unset"))
            if old_ips and new_ips and new_ips[0] != old_ips[0]:
                errs.append(invalid("spec.clusterIPs[0]", raw, "may not change once set"))
            if len(new_ips) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
                errs.append(invalid("spec.clusterIPs[0]", raw, "`ipFamilyPolicy` must be set to 'SingleStack' "
                                                               "when releasing the secondary clusterIP"))
        elif old_ips and new_ips[0] != old_ips[0]:
            errs.append(invalid("spec.clusterIPs[0]", raw, "may not change once set"))
        new_fams = spec.get("ipFamilies") if isinstance(spec.get("ipFamilies"), list) else []
        old_fams = old_spec.get("ipFamilies") if isinstance(old_spec.get("ipFamilies"), list) else []
        for i in range(min(len(new_fams), len(old_fams))):
            if new_fams[i] != old_fams[i]:
                errs.append(invalid(f"spec.ipFamilies[{i}]", GoLit("[]core.IPFamily{" + ", ".join(
                    go_quote(str(f)) for f in new_fams) + "}"), "may not change once set"))
    if spec.get("type") == "LoadBalancer" and old_spec.get("type") == "LoadBalancer" and \
            spec.get("loadBalancerClass") != old_spec.get("loadBalancerClass"):
        errs.append(invalid("spec.loadBalancerClass", spec.get("loadBalancerClass"), "may not change once set"))
    if needs_health_check(spec) and needs_health_check(old_spec) and \
            spec.get("healthCheckNodePort") != old_spec.get("healthCheckNodePort"):
        errs.append(forbidden("spec.healthCheckNodePort", "field is immutable"))
    return errs


def validate_service(obj: Any, old: Mapping[str, Any] | None = None) -> list[FieldError]:
    """Every ValidateService rule (and ValidateServiceUpdate's when `old` is given), in the apiserver's order.

    Expects a defaulted object (`default_service`), as the apiserver validates after defaulting: an undefaulted
    one reports e.g. `spec.sessionAffinity: Required value`.
    """
    if not isinstance(obj, dict):
        return [invalid("", obj, "must be an object")]
    svc = obj
    errs: list[FieldError] = []
    if old is not None and isinstance(old, dict):
        errs += _validate_update(svc, old)
    meta = svc.get("metadata")
    errs += validate_object_meta("Service", meta)
    ann = meta.get("annotations") if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict) \
        else {}
    if ANNOTATION_TOPOLOGY_MODE in ann and ANNOTATION_TOPOLOGY_HINTS in ann and \
            ann[ANNOTATION_TOPOLOGY_MODE] != ann[ANNOTATION_TOPOLOGY_HINTS]:
        errs.append(invalid(f"metadata.annotations[{ANNOTATION_TOPOLOGY_MODE}]", ann[ANNOTATION_TOPOLOGY_MODE],
                            f"must match annotations[{ANNOTATION_TOPOLOGY_HINTS}] when both are specified"))
    spec = _spec(svc)
    stype = spec.get("type")
    ports = _ports(spec)
    headless = is_headless(svc)
    ips = _cluster_ips(spec)
    if not ports and not headless and stype != "ExternalName":
        errs.append(required("spec.ports"))
    if stype in ("LoadBalancer", "NodePort") and headless:
        errs.append(invalid("spec.clusterIPs[0]", ips[0], f"may not be set to 'None' for {stype} services"))
    elif stype == "ExternalName":
        if ips:
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            errs.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        errs += validate_external_name(spec.get("externalName"))
    names: set[str] = set()
    for i, p in enumerate(ports):
        errs += _validate_service_port(p, len(ports) > 1, names, f"spec.ports[{i}]")
    if spec.get("selector") is not None:
        errs += validate_labels(spec.get("selector"), "spec.selector")
    affinity = spec.get("sessionAffinity")
    if not affinity:
        errs.append(required("spec.sessionAffinity"))
    elif affinity not in AFFINITIES:
        errs.append(not_supported("spec.sessionAffinity", affinity, AFFINITIES))
    cfg = spec.get("sessionAffinityConfig")
    if affinity == "ClientIP":
        detail = "when session affinity type is ClientIP"
        if not isinstance(cfg, dict):
            errs.append(required("spec.sessionAffinityConfig", detail))
        elif not isinstance(cfg.get("clientIP"), dict):
            errs.append(required("spec.sessionAffinityConfig.clientIP", detail))
        elif cfg["clientIP"].get("timeoutSeconds") is None:
            errs.append(required("spec.sessionAffinityConfig.clientIP.timeoutSeconds", detail))
        else:
            errs += validate_affinity_timeout(cfg["clientIP"]["timeoutSeconds"])
    elif affinity == "None" and cfg is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    errs += validate_cluster_ips_related(svc)
    ext = spec.get("externalIPs")
    for i, ip in enumerate(ext if isinstance(ext, list) else []):
        path = f"spec.externalIPs[{i}]"
        errs += is_valid_ip(path, ip) or validate_non_special_ip(path, ip)
    if not stype:
        errs.append(required("spec.type"))
    elif stype not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", stype, SERVICE_TYPES))
    if stype == "ClusterIP":
        for i, p in enumerate(ports):
            if p.get("nodePort"):
                errs.append(forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    seen_node_ports: set[tuple[str, Any]] = set()
    for i, p in enumerate(ports):
        np = p.get("nodePort")
        if not np:
            continue
        key = (str(p.get("protocol")), np if isinstance(np, (int, str)) else repr(np))
        if key in seen_node_ports:
            errs.append(duplicate(f"spec.ports[{i}].nodePort", np))
        seen_node_ports.add(key)
    seen_ports: set[tuple[str, Any]] = set()
    for i, p in enumerate(ports):
        port = p.get("port", 0)
        key = (str(p.get("protocol")), port if isinstance(port, (int, str)) else repr(port))
        if key in seen_ports:
            errs.append(duplicate(f"spec.ports[{i}]", _go_service_port_key(p.get("protocol", ""), port)))
        seen_ports.add(key)
    ranges = spec.get("loadBalancerSourceRanges")
    if isinstance(ranges, list) and ranges:
        path = "spec.LoadBalancerSourceRanges"  # the apiserver's own capital L
        if stype != "LoadBalancer":
            errs.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        for i, value in enumerate(ranges):
            errs += is_valid_cidr(f"{path}[{i}]", value.strip() if isinstance(value, str) else value)
    elif ANNOTATION_LB_SOURCE_RANGES in ann:
        path = f"metadata.annotations[{ANNOTATION_LB_SOURCE_RANGES}]"
        if stype != "LoadBalancer":
            errs.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        val = str(ann[ANNOTATION_LB_SOURCE_RANGES]).strip()
        if val:
            for value in val.split(","):
                errs += is_valid_cidr(path, value.strip())
    if spec.get("allocateLoadBalancerNodePorts") is not None and stype != "LoadBalancer":
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"))
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(required("allocateLoadBalancerNodePorts"))  # sic: the apiserver drops the `spec.` here
    lb_class = spec.get("loadBalancerClass")
    if stype == "LoadBalancer":
        if lb_class is not None:
            errs += [invalid("spec.loadBalancerClass", lb_class, m) for m in is_qualified_name(str(lb_class))]
    elif lb_class is not None:
        errs.append(forbidden("spec.loadBalancerClass", "may only be used when service type is 'LoadBalancer'"))
    etp = spec.get("externalTrafficPolicy") or ""
    if not externally_accessible(spec):
        if etp:
            errs.append(invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(required("spec.externalTrafficPolicy"))
    elif etp not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.externalTrafficPolicy", etp, TRAFFIC_POLICIES))
    hc = spec.get("healthCheckNodePort") or 0
    if not needs_health_check(spec):
        if hc:
            errs.append(invalid("spec.healthCheckNodePort", hc,
                                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    elif not hc:
        errs.append(required("spec.healthCheckNodePort"))
    else:
        errs += validate_port_number(hc, "spec.healthCheckNodePort")
    itp = spec.get("internalTrafficPolicy")
    if itp is None:
        if stype in ("ClusterIP", "LoadBalancer", "NodePort"):
            errs.append(required("spec.internalTrafficPolicy"))
    elif itp not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.internalTrafficPolicy", itp, TRAFFIC_POLICIES))
    td = spec.get("trafficDistribution")
    if td is not None and td not in TRAFFIC_DISTRIBUTIONS:
        errs.append(not_supported("spec.trafficDistribution", td, TRAFFIC_DISTRIBUTIONS))
    return errs


# -- defaulting (SetDefaults_Service and the registry strategy's normalisation) ------------------------------------

def default_service(obj: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> Obj:
    """A copy of `obj` defaulted and normalised as the apiserver does before validating it.

    SetDefaults_Service (type, protocol, targetPort, sessionAffinity and its timeout, traffic policies,
    allocateLoadBalancerNodePorts), then the registry strategy: a create copies clusterIP into clusterIPs; an update
    keeps the allocated clusterIPs and nodePorts the client left out, follows a changed clusterIP into clusterIPs, and
    drops what a type change makes meaningless. ipFamilies/ipFamilyPolicy and allocations are the allocator's job.
    """
    svc: Obj = json_copy(dict(obj))
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        spec = svc["spec"] = {}
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    if spec["sessionAffinity"] == "ClientIP":
        cfg = spec.get("sessionAffinityConfig")
        if not isinstance(cfg, dict) or not isinstance(cfg.get("clientIP"), dict) or \
                cfg["clientIP"].get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_AFFINITY_TIMEOUT}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    ports = spec.get("ports")
    if isinstance(ports, list):
        for p in ports:
            if not isinstance(p, dict):
                continue
            if not p.get("protocol"):
                p["protocol"] = "TCP"
            if p.get("targetPort") in (None, 0, ""):
                p["targetPort"] = p.get("port", 0)
    if externally_accessible(spec) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec["type"] in ("ClusterIP", "LoadBalancer", "NodePort"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if old is None:
        if spec.get("clusterIP") and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        return svc
    old_spec = _spec(old)
    _patch_allocated_values(spec, old_spec)
    _normalize_cluster_ips(spec, old_spec)
    _drop_type_dependent_fields(spec, old_spec)
    if spec["type"] != "LoadBalancer" and old_spec.get("type") == "LoadBalancer":
        status = svc.get("status")
        if isinstance(status, dict):
            status["loadBalancer"] = {}
    return svc


def _needs_cluster_ip(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") != "ExternalName"


def _needs_node_port(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def _patch_allocated_values(spec: dict[str, Any], old: Mapping[str, Any]) -> None:
    """An update that leaves out clusterIP(s) or nodePorts keeps the allocated ones (patchAllocatedValues)."""
    if _needs_cluster_ip(old) and _needs_cluster_ip(spec):
        if not spec.get("clusterIP") and old.get("clusterIP"):
            spec["clusterIP"] = old["clusterIP"]
        if not spec.get("clusterIPs") and old.get("clusterIPs"):
            spec["clusterIPs"] = list(old["clusterIPs"])
    if _needs_node_port(old) and _needs_node_port(spec):
        def used(ports: Any) -> set[Any]:
            return {p.get("nodePort") for p in ports if isinstance(p, dict) and p.get("nodePort")} \
                if isinstance(ports, list) else set()

        both = used(old.get("ports")) & used(spec.get("ports"))
        by_name = {p.get("name", ""): p.get("nodePort") for p in old.get("ports") or [] if isinstance(p, dict)}
        for p in spec.get("ports") or []:
            if isinstance(p, dict) and not p.get("nodePort"):
                was = by_name.get(p.get("name", ""))
                if was and was not in both:
                    p["nodePort"] = was
    if needs_health_check(old) and needs_health_check(spec) and not spec.get("healthCheckNodePort"):
        if old.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old["healthCheckNodePort"]


def _normalize_cluster_ips(spec: dict[str, Any], old: Mapping[str, Any]) -> None:
    """Keep clusterIP and clusterIPs in step when an (old) client changed only the singular field."""
    same_plural = spec.get("clusterIPs") == old.get("clusterIPs")
    if old.get("clusterIP") != spec.get("clusterIP"):
        if not spec.get("clusterIP"):
            if same_plural:
                spec.pop("clusterIPs", None)
            return
        if old.get("clusterIPs") and same_plural:
            spec["clusterIPs"] = [spec["clusterIP"]] + list(spec["clusterIPs"][1:])
        elif not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]


def _drop_type_dependent_fields(spec: dict[str, Any], old: Mapping[str, Any]) -> None:
    if _needs_cluster_ip(old) and not _needs_cluster_ip(spec):
        if spec.get("clusterIPs") == old.get("clusterIPs") and spec.get("clusterIP") == old.get("clusterIP"):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if spec.get("ipFamilies") == old.get("ipFamilies"):
            spec.pop("ipFamilies", None)
        if spec.get("ipFamilyPolicy") == old.get("ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    if _needs_node_port(old) and not _needs_node_port(spec):
        old_nps = [p.get("nodePort") for p in old.get("ports") or [] if isinstance(p, dict)]
        new_nps = [p.get("nodePort") for p in spec.get("ports") or [] if isinstance(p, dict)]
        if old_nps == new_nps:
            for p in spec.get("ports") or []:
                if isinstance(p, dict):
                    p.pop("nodePort", None)
    if needs_health_check(old) and not needs_health_check(spec) and \
            spec.get("healthCheckNodePort") == old.get("healthCheckNodePort"):
        spec.pop("healthCheckNodePort", None)
    if old.get("type") == "LoadBalancer" and spec.get("type") != "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is not None and \
                spec.get("allocateLoadBalancerNodePorts") == old.get("allocateLoadBalancerNodePorts"):
            spec.pop("allocateLoadBalancerNodePorts", None)
        if spec.get("loadBalancerClass") == old.get("loadBalancerClass"):
            spec.pop("loadBalancerClass", None)
    if externally_accessible(old) and not externally_accessible(spec) and \
            spec.get("externalTrafficPolicy") == old.get("externalTrafficPolicy"):
        spec.pop("externalTrafficPolicy", None)


# -- decoding (the 400 a malformed body gets before validation) ---------------------------------------------------

_SERVICE_SPEC_TYPES: dict[str, tuple[type, ...]] = {
    "type": (str,), "clusterIP": (str,), "clusterIPs": (list,), "externalIPs": (list,), "externalName": (str,),
    "sessionAffinity": (str,), "sessionAffinityConfig": (dict,), "selector": (dict,), "ports": (list,),
    "loadBalancerIP": (str,), "loadBalancerSourceRanges": (list,), "loadBalancerClass": (str,),
    "externalTrafficPolicy": (str,), "internalTrafficPolicy": (str,), "healthCheckNodePort": (int,),
    "publishNotReadyAddresses": (bool,), "ipFamilies": (list,), "ipFamilyPolicy": (str,),
    "allocateLoadBalancerNodePorts": (bool,), "trafficDistribution": (str,),
}
_PORT_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "protocol": (str,), "appProtocol": (str,), "port": (int,), "nodePort": (int,),
    "targetPort": (int, str),
}
_GO_TYPE = {str: "string", int: "int32", bool: "bool", list: "array", dict: "object"}
_JSON_TYPE = {str: "string", int: "number", float: "number", bool: "bool", list: "array", dict: "object"}


def _type_error(value: Any, go_struct: str, path: str, want: tuple[type, ...]) -> str:
    got = "null" if value is None else _JSON_TYPE.get(type(value), "value")
    if want == (int, str):
        return f"json: cannot unmarshal {got} into Go struct field {go_struct}.{path} of type intstr.IntOrString"
    go = {list: "[]string", dict: "map[string]string"}.get(want[0], _GO_TYPE[want[0]])
    return f"json: cannot unmarshal {got} into Go struct field {go_struct}.{path} of type {go}"


def _bad_type(value: Any, want: tuple[type, ...]) -> bool:
    if value is None:
        return False  # JSON null leaves the Go zero value
    if isinstance(value, bool) and bool not in want:
        return True
    if int in want and isinstance(value, float) and value.is_integer():
        return False
    return not isinstance(value, want)


def decode_errors(obj: Any) -> str | None:
    """Why a Service body cannot be decoded into the Go types (the apiserver's 400 BadRequest), or None."""
    if not isinstance(obj, dict):
        return "Object 'Kind' is missing in request body"
    meta = obj.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        return _type_error(meta, "Service", "metadata", (dict,))
    spec = obj.get("spec")
    if spec is None:
        return None
    if not isinstance(spec, dict):
        return _type_error(spec, "Service", "spec", (dict,))
    for key, want in _SERVICE_SPEC_TYPES.items():
        if _bad_type(spec.get(key), want):
            return _type_error(spec.get(key), "ServiceSpec", f"spec.{key}", want)
    for i, p in enumerate(spec.get("ports") or []):
        if not isinstance(p, dict):
            return _type_error(p, "ServiceSpec", "spec.ports", (dict,))
        for key, want in _PORT_TYPES.items():
            if _bad_type(p.get(key), want):
                return _type_error(p.get(key), "ServicePort", f"spec.ports.{key}", want)
    for key in ("selector",):
        for k, v in (spec.get(key) or {}).items():
            if v is not None and not isinstance(v, str):
                return _type_error(v, "ServiceSpec", f"spec.{key}", (str,))
    return None
